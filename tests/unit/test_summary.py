"""The step summary, checked against golden Markdown files in fixtures/summary/.

After an intended change: `UPDATE_GOLDEN=1 pytest tests/unit/test_summary.py`, then read
the diff of the .md files (and look at them rendered: docs/action.md says how).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bluegreen_action.action_inputs import InvalidInput, InvalidInputs
from bluegreen_action.engine import DeployResult
from bluegreen_action.errors import ComposeFileError, ConnectionError_, DeployError, HealthError
from bluegreen_action.remote_docker import ContainerState
from bluegreen_action.report import Phase
from bluegreen_action.summary import code, md, render_summary

GOLDEN = Path(__file__).parent / "fixtures" / "summary"
IMG = "ghcr.io/acme/shop"
PLAN = """1. pull the new images of web-blue, web-green
2. route traffic to green
3. wait until no request is in flight to blue
4. recreate web-blue on ghcr.io/acme/shop:v1.3.0
5. wait until web-blue healthy (Docker healthcheck + proxy probe)
6. route traffic to blue
7. wait until no request is in flight to green
8. recreate web-green on ghcr.io/acme/shop:v1.3.0
9. wait until web-green healthy (Docker healthcheck + proxy probe)
10. route traffic to blue + green"""


def state(service, tag, status="running", health="healthy", image=IMG):
    return ContainerState(service, service, f"{image}:{tag}", status, health, "2025-01-01T00:00:00Z")


def still_on_v129() -> dict:
    """A deploy of v1.3.0 that left both colours on v1.2.9, both routed."""
    return dict(images={"web-blue": (f"{IMG}:v1.2.9", f"{IMG}:v1.3.0"),
                        "web-green": (f"{IMG}:v1.2.9", f"{IMG}:v1.3.0")},
                final={"web-blue": state("web-blue", "v1.2.9"),
                       "web-green": state("web-green", "v1.2.9")},
                routed={"web": ["blue", "green"]})

def phases(*spec):
    return [Phase(name, seconds, status) for name, seconds, status in spec]


SWAP = [("Check the inputs and the compose file", 0.02, "ok"),
        ("Connect to deploy@shop.example.com:22", 0.41, "ok"),
        ("Read the host's state", 0.93, "ok"),
        ("Pull the new images", 3.2, "ok"),
        ("Replace blue", 4.61, "ok"),
        ("Replace green", 4.48, "ok"),
        ("Route traffic to both colours", 0.38, "ok")]


def success():
    r = DeployResult("success", "deploy@shop.example.com:22", "shop", "v1.3.0", "v1.2.9",
                     images={"web-blue": (f"{IMG}:v1.2.9", f"{IMG}:v1.3.0"),
                             "web-green": (f"{IMG}:v1.2.9", f"{IMG}:v1.3.0")},
                     final={"web-blue": state("web-blue", "v1.3.0"),
                            "web-green": state("web-green", "v1.3.0")},
                     routed={"web": ["blue", "green"]}, plan=PLAN, seconds=14.03)
    return r, phases(*SWAP)


def rolled_back():
    evidence = "\n".join(["--- health checks of web-blue (latest last) ---"]
                         + ["exit 22: curl: (22) The requested URL returned error: 500"] * 3
                         + ["--- last log lines of web-blue ---",
                            "Traceback (most recent call last):",
                            '  File "/app/main.py", line 3, in <module>',
                            "KeyError: 'DATABASE_URL'"])
    err = DeployError("web-blue did not become healthy within 60s (last: Docker health: unhealthy); "
                      "rolled back to the previous version", evidence=evidence, rolled_back=True,
                      hint="fix the new version (see its health checks and logs above), or give it "
                           "longer with health-timeout if it only boots slowly")
    r = DeployResult("rolled-back", "deploy@shop.example.com:22", "shop", "v1.3.0", "v1.2.9",
                     **still_on_v129(), plan=PLAN, error=err, seconds=71.9)
    return r, phases(*SWAP[:4], ("Replace blue", 61.2, "failed"),
                     ("Roll back: Replace blue", 4.1, "ok"),
                     ("Roll back: Route traffic to both colours", 0.4, "ok"))


def compose_error():
    err = ComposeFileError("compose.yaml is not valid YAML: mapping values are not allowed here",
                           file="deploy/compose.yaml", line=14,
                           hint="fix the YAML syntax at the line shown (`docker compose config` "
                                "shows it too)")
    r = DeployResult("failed", "deploy@shop.example.com:22", tag="v1.3.0", error=err, seconds=0.05)
    return r, phases(("Check the inputs and the compose file", 0.05, "failed"))


def ssh_error():
    err = ConnectionError_("the host key of shop.example.com:22 is not in known-hosts (or does not "
                           "match it)", evidence="Host key verification failed.",
                           hint="add the server's key line to known-hosts: run `ssh-keyscan -p 22 "
                                "shop.example.com` from a trusted network and compare it with the "
                                "server's /etc/ssh/ssh_host_*_key.pub before you paste it")
    r = DeployResult("failed", "deploy@shop.example.com:22", "shop", "v1.3.0", error=err, seconds=0.6)
    return r, phases(SWAP[0], ("Connect to deploy@shop.example.com:22", 0.55, "failed"))


def input_error():
    err = InvalidInputs([
        InvalidInput("port", "'ssh' is not a TCP port", "a number from 1 to 65535, e.g. `22`"),
        InvalidInput("tag", "'refs/tags/v1.3.0' is a git ref, not a tag",
                     "an image tag, e.g. `v1.2.3` or `${{ github.ref_name }}`"),
    ])
    return DeployResult("failed", "deploy@shop.example.com:ssh", tag="refs/tags/v1.3.0", error=err,
                        seconds=0.01), []


def part_way():
    err = DeployError("web-green did not become healthy within 60s; the rollback failed too: "
                      "`docker compose up -d --no-deps --force-recreate web-blue` failed (exit 1)",
                      evidence="Error response from daemon: no space left on device",
                      hint="traffic stays on the colour that was healthy; run `bluegreen status` "
                           "and deploy a known-good tag")
    r = DeployResult("failed", "deploy@shop.example.com:22", "shop", "v1.3.0", "v1.2.9",
                     images={"web-blue": (f"{IMG}:v1.2.9", f"{IMG}:v1.3.0"),
                             "web-green": (f"{IMG}:v1.2.9", f"{IMG}:v1.3.0")},
                     final={"web-blue": state("web-blue", "v1.3.0"),
                            "web-green": state("web-green", "v1.3.0", "exited", None)},
                     routed={"web": ["blue"]}, plan=PLAN, error=err, seconds=140.2)
    return r, phases(*SWAP[:5], ("Replace green", 60.3, "failed"),
                     ("Roll back: Replace blue", 1.2, "failed"))


def dry_run():
    r = DeployResult("dry-run", "deploy@shop.example.com:22", "shop", "v1.3.0", "v1.2.9",
                     **still_on_v129(), plan=PLAN, seconds=1.4)
    return r, phases(*SWAP[:3])


def first_deploy():
    r = DeployResult("success", "deploy@10.0.0.5:2222", "shop", "v1.0.0", None,
                     images={"web-blue": (None, "registry.example.com:5000/shop:v1.0.0"),
                             "web-green": (None, "registry.example.com:5000/shop:v1.0.0")},
                     final={s: state(s, "v1.0.0", image="registry.example.com:5000/shop")
                            for s in ("web-blue", "web-green")},
                     routed={"web": ["blue", "green"]}, plan="1. first deploy", seconds=75.0)
    return r, phases(SWAP[0], ("Connect to deploy@10.0.0.5:2222", 0.4, "ok"),
                     ("Read the host's state", 0.3, "ok"),
                     ("First deploy: start the stack", 74.2, "ok"))


def pre_deploy_failed():
    err = DeployError("the pre-deploy command `./manage.py migrate --noinput` failed (exit 1); "
                      "no traffic was switched",
                      evidence="Applying shop.0042_orders... FAILED\n"
                               "django.db.utils.OperationalError: no such column: orders.total",
                      hint="its output is in the evidence: fix the command (or what it needs) "
                           "and deploy again")
    r = DeployResult("failed", "deploy@shop.example.com:22", "shop", "v1.3.0", "v1.2.9",
                     **still_on_v129(), plan=PLAN, error=err, seconds=6.1)
    return r, phases(*SWAP[:4], ("Run the pre-deploy command", 1.5, "failed"))


def hostile():
    """Text from the server that tries to break the Markdown."""
    err = HealthError("a|b` <img src=x onerror=alert(1)> **bold** [link](http://x) did not become "
                      "healthy", evidence="```\n</details>\n<script>alert(1)</script>\n````",
                      hint="see | here")
    r = DeployResult("failed", "deploy@h:22", "p|q", "v2", "v1",
                     images={"a|b-blue": ("r/x:v1", "r/x:v2")},
                     final={"a|b-blue": ContainerState("a|b-blue", "c`d", "r/x:v2", "running",
                                                       "unhealthy", "")},
                     routed={"a|b": []}, error=err, seconds=3)
    return r, phases(("Read the host's state", 1, "ok"), ("Replace blue <b>", 2, "failed"))


CASES = {f.__name__: f for f in (success, rolled_back, compose_error, ssh_error, input_error,
                                  part_way, dry_run, first_deploy, pre_deploy_failed, hostile)}


@pytest.mark.parametrize("name", CASES)
def test_summary_matches_golden(name):
    result, ph = CASES[name]()
    text = render_summary(result, ph, version="0.1.0")
    path = GOLDEN / f"{name}.md"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


def test_hostile_text_stays_inert():
    result, ph = hostile()
    text = render_summary(result, ph)
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "<b>" not in text
    # the evidence sits in a fence longer than any backtick run inside it
    assert "`````text\n```\n</details>\n<script>alert(1)</script>\n````\n`````" in text
    cmarkgfm = pytest.importorskip("cmarkgfm")   # GitHub's own renderer, raw HTML allowed
    html = cmarkgfm.github_flavored_markdown_to_html(text, options=cmarkgfm.Options.CMARK_OPT_UNSAFE)
    assert "<img" not in html and "<script" not in html and "<b>" not in html
    assert html.count("<details open>") == html.count("</details>") == 1
    # every table row has as many cells as its header: no | broke out of a cell
    for table in re.findall(r"<table>.*?</table>", html, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
        widths = {len(re.findall(r"<t[hd][ >]", row)) for row in rows}
        assert len(widths) == 1, table


def test_every_summary_says_what_to_do_on_failure():
    for name, make in CASES.items():
        result, ph = make()
        text = render_summary(result, ph)
        if result.error is not None:
            assert "**What to do:**" in text and "**State of the server:**" in text, name


@pytest.mark.parametrize("text, expected", [
    ("v1", "`v1`"),
    ("a`b", "``a`b``"),
    ("`x`", "`` `x` ``"),
    ("a|b", "`a|b`"),
    ("", "—"),
])
def test_code(text, expected):
    assert code(text) == expected


def test_md_keeps_backquoted_spans_as_code_and_escapes_the_rest():
    assert md("run `docker compose ps` *now* <b>") == "run `docker compose ps` \\*now\\* &lt;b&gt;"
    assert md("two\nlines") == "two lines"
