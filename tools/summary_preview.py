"""Render step summaries as GitHub shows them, to look at them before users do.

    python tools/summary_preview.py SUMMARY.md [...] --out DIR [--css github-markdown-light.css]
        [--screenshot]

Markdown goes through cmarkgfm (bindings to GitHub's own cmark-gfm, with the GFM
extensions GitHub enables: tables, strikethrough, autolinks, task lists); raw HTML is kept
as GitHub keeps <details>, <summary> and <sub>. With the CSS of the npm package
`github-markdown-css` (`npm pack github-markdown-css`) the page looks like a job summary.
`--screenshot` takes a PNG of each page with headless Chromium (Debian's `chromium`).
"""
from __future__ import annotations

import argparse
import html
import shutil
import subprocess
import sys
from pathlib import Path

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>{css}</style>
<style>
body {{ background: #f6f8fa; margin: 0; padding: 24px; }}
.summary {{ max-width: 980px; margin: 0 auto; background: #fff; border: 1px solid #d0d7de;
           border-radius: 6px; padding: 16px 24px; box-sizing: border-box; }}
.summary > .title {{ font: 600 14px -apple-system, "Segoe UI", sans-serif; color: #57606a;
                     margin: 0 0 8px; }}
details {{ margin-bottom: 16px; }}
</style></head>
<body><div class="summary"><div class="title">deploy summary</div>
<article class="markdown-body">{body}</article></div></body></html>
"""


def render(markdown: str) -> str:
    import cmarkgfm
    from cmarkgfm.cmark import Options

    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def page(markdown: str, css: str, title: str) -> str:
    return PAGE.format(title=html.escape(title), css=css, body=render(markdown))


def screenshot(html_file: Path, png: Path, width: int = 1100, height: int = 1400) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not browser:
        raise SystemExit("no chromium: apt-get install chromium")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={width},{height}", f"--screenshot={png}", html_file.as_uri()],
                   check=True, capture_output=True, timeout=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("summaries", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--css", type=Path, help="github-markdown-light.css from github-markdown-css")
    ap.add_argument("--screenshot", action="store_true")
    ap.add_argument("--height", type=int, default=1400)
    a = ap.parse_args(argv)
    css = a.css.read_text() if a.css else ""
    a.out.mkdir(parents=True, exist_ok=True)
    for md in a.summaries:
        target = a.out / (md.stem + ".html")
        target.write_text(page(md.read_text(), css, md.stem))
        print(target)
        if a.screenshot:
            png = target.with_suffix(".png")
            screenshot(target, png, height=a.height)
            print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
