"""The GitHub reporter: escaping, masks, groups, annotations, outputs, and that no remote
text can ever be read by the runner as a workflow command."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bluegreen_action.errors import ComposeFileError, DeployError, HealthError, InputError
from bluegreen_action.github import (
    GitHubReporter,
    escape_data,
    escape_property,
    format_outputs,
    mask_values,
    workflow_command,
)


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def now(self):
        return self.t

    def sleep(self, s):
        self.t += s


def runner_commands(log: str) -> list[tuple[str, str]]:
    """The workflow commands the runner would act on, as (command, rest) pairs.

    Emulates the runner's ActionCommandManager: `::stop-commands::TOKEN` turns processing
    off until a line `::TOKEN::`; a v2 command is `::name ...::` after leading whitespace is
    trimmed; a v1 command is `##[name ...]` anywhere in the line."""
    found, stopped = [], None
    for line in log.splitlines():
        trimmed = line.lstrip()
        if stopped is not None:
            if trimmed == f"::{stopped}::":
                stopped = None
            continue
        m = re.match(r"^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$", trimmed)
        if m:
            if m.group(1) == "stop-commands":
                stopped = m.group(3)
                continue
            found.append((m.group(1), trimmed))
            continue
        m = re.search(r"##\[([A-Za-z-]+)[^\]]*\]", line)
        if m:
            found.append((m.group(1), line))
    return found


@pytest.fixture
def out():
    return io.StringIO()


@pytest.fixture
def reporter(out, tmp_path):
    return GitHubReporter(stream=out, clock=FakeClock(), workspace=tmp_path)


# -- escaping (the rules of @actions/core) -------------------------------------------------------

def test_escape_data_and_property():
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_data("a: b, c") == "a: b, c"
    assert escape_property("a: b, c%\n") == "a%3A b%2C c%25%0A"


def test_workflow_command_leaves_out_empty_properties():
    assert workflow_command("error", "x") == "::error::x"
    assert workflow_command("error", "two\nlines", title="T: 1", file="a,b.yaml", line=3, col=None) \
        == "::error title=T%3A 1,file=a%2Cb.yaml,line=3::two%0Alines"


# -- remote text cannot inject commands ----------------------------------------------------------

INJECTIONS = [
    "::error::pwned",
    "   ::warning file=x::indented",
    "::add-mask::everything",
    "::set-output name=result::success",
    "::stop-commands::abc",
    "::abc::",
    "##[error]old style",
    "log: ##[group]in the middle",
    "::endgroup::",
]


def test_remote_output_never_becomes_a_command(reporter, out):
    with reporter.phase("Replace blue"):
        reporter.detail("$ docker compose up -d")
        for line in INJECTIONS:
            reporter.detail(line)
        reporter.info("\n".join(INJECTIONS))
    reporter.error(HealthError("app-blue did not become healthy",
                               evidence="\n".join(INJECTIONS), hint="look ##[error] at ::it::"))
    reporter.warning("::error::in a warning\nsecond ::line::")
    reporter.finish()
    cmds = runner_commands(out.getvalue())
    assert [c for c, _ in cmds] == ["group", "endgroup", "error", "warning"]
    error = cmds[2][1]
    assert error.startswith("::error title=New containers did not become healthy::app-blue did")
    assert "%0AFix: look ##[error] at ::it::" in error          # escaped: one line, inert
    assert cmds[3][1] == "::warning::::error::in a warning%0Asecond ::line::"
    for line in INJECTIONS:   # each one still shows in the log, as text
        assert line in out.getvalue()


def test_commands_are_switched_back_on_at_the_end(reporter, out):
    reporter.info("remote text")
    reporter.finish()
    lines = out.getvalue().splitlines()
    token = lines[0].split("::")[2]
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert lines[-1] == f"::{token}::"
    assert runner_commands(out.getvalue() + "\n::notice::later step") == [("notice", "::notice::later step")]


def test_every_reporter_has_its_own_token(out):
    a, b = GitHubReporter(stream=io.StringIO()), GitHubReporter(stream=io.StringIO())
    a.info("x")
    b.info("x")
    assert a.stream.getvalue().splitlines()[0] != b.stream.getvalue().splitlines()[0]


# -- masks ---------------------------------------------------------------------------------------

KEY = """-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBbyLOZQ2Z1v0dk8V1fX3Qm8s6b9m0mq0b6n4ZlqB7bTgAAAJgZkH1sGZB9
-----END OPENSSH PRIVATE KEY-----
"""


def test_mask_values_of_a_key_and_a_password():
    lines = KEY.splitlines()
    assert mask_values(KEY) == [lines[1], lines[2]]
    assert mask_values("  hunter2 ") == ["hunter2"]
    assert mask_values("") == [] and mask_values("abc") == ["abc"]


def test_masks_come_first_and_secrets_are_redacted(reporter, out):
    reporter.mask(KEY)
    reporter.mask("hunter2")
    reporter.info("login with hunter2 and " + KEY.splitlines()[1])
    reporter.warning("password hunter2 rejected")
    reporter.finish()
    log = out.getvalue()
    head = log.splitlines()[:3]
    assert head == [f"::add-mask::{KEY.splitlines()[1]}", f"::add-mask::{KEY.splitlines()[2]}",
                    "::add-mask::hunter2"]
    rest = "\n".join(log.splitlines()[3:])
    assert "hunter2" not in rest and KEY.splitlines()[1] not in rest
    assert "login with *** and ***" in rest and "::warning::password *** rejected" in rest


# -- groups and annotations ----------------------------------------------------------------------

def test_one_group_per_phase_with_its_time(reporter, out):
    with reporter.phase("Pull the new images"):
        reporter.clock.t += 1.25
    with pytest.raises(DeployError):
        with reporter.phase("Replace blue"):
            reporter.clock.t += 2
            raise DeployError("boom")
    reporter.finish()
    cmds = [c for c, _ in runner_commands(out.getvalue())]
    assert cmds == ["group", "endgroup", "group", "endgroup"]
    log = out.getvalue()
    assert "::group::Pull the new images" in log and "✔ Pull the new images (1.2s)" in log
    after = log.split("::group::Replace blue", 1)[1].split("::endgroup::", 1)[1]
    assert "✘ Replace blue failed after 2.0s" in after    # visible without opening the group
    assert [(p.name, p.status) for p in reporter.phases] == [("Pull the new images", "ok"),
                                                             ("Replace blue", "failed")]


def test_annotation_points_into_the_compose_file_relative_to_the_workspace(reporter, out, tmp_path):
    compose = tmp_path / "deploy" / "compose,prod.yaml"
    reporter.warning("no start_interval", file=str(compose), line=12)
    reporter.error(ComposeFileError("bad: yaml", file=str(compose), line=3, hint="fix it"))
    reporter.error(ComposeFileError("elsewhere", file="/etc/compose.yaml", line=1))
    reporter.error(InputError("no line", file=str(compose)))
    cmds = [rest for _, rest in runner_commands(out.getvalue())]
    assert cmds[0] == "::warning file=deploy/compose%2Cprod.yaml,line=12::no start_interval"
    assert cmds[1] == ("::error title=Compose file problem,file=deploy/compose%2Cprod.yaml,line=3"
                       "::bad: yaml%0AFix: fix it")
    assert cmds[2].startswith("::error title=Compose file problem,file=/etc/compose.yaml,line=1::")
    assert cmds[3] == "::error title=Invalid input,file=deploy/compose%2Cprod.yaml::no line"


def test_evidence_is_shown_once(reporter, out):
    reporter.error(HealthError("first", evidence="exit 22: curl failed"))
    reporter.error(DeployError("first; rolled back", evidence="exit 22: curl failed", rolled_back=True))
    log = out.getvalue()
    assert log.count("exit 22: curl failed") == 1 and "(evidence as above)" in log
    titles = re.findall(r"title=([^:,]+)", log)
    assert titles == ["New containers did not become healthy", "Deploy failed and was rolled back"]


def test_relative_paths_stay_relative(tmp_path):
    r = GitHubReporter(stream=io.StringIO(), workspace=tmp_path)
    assert r.relative("compose.yaml") == "compose.yaml"
    assert r.relative(str(tmp_path / "a" / "b.yaml")) == "a/b.yaml"
    assert r.relative(None) is None
    assert GitHubReporter(stream=io.StringIO()).relative(str(Path("/x/y.yaml"))) == "/x/y.yaml"


# -- outputs -------------------------------------------------------------------------------------

def test_outputs_use_heredocs_with_random_delimiters():
    text = format_outputs({"tag": "v2", "plan": "1. pull\n2. route", "empty": ""})
    m = re.findall(r"^(\S+)<<(ghadelimiter_[0-9a-f-]{36})\n(.*?)\n\2\n", text, re.S | re.M)
    assert [(name, value) for name, _, value in m] == [("tag", "v2"), ("plan", "1. pull\n2. route"),
                                                      ("empty", "")]
    assert len({d for _, d, _ in m}) == 3


def test_outputs_refuse_a_delimiter_inside_the_value_and_bad_names():
    with pytest.raises(ValueError):
        format_outputs({"x": "a\nEOF\nb"}, delimiter="EOF")
    with pytest.raises(ValueError):
        format_outputs({"bad name": "x"})
