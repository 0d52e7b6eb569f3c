"""The Action's inputs: every bad value is reported naming its input and the expected form."""
from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
from pathlib import Path

import pytest

from bluegreen_action.action_inputs import (
    INPUTS,
    InvalidInputs,
    parse_known_hosts_line,
    read_inputs,
    secret_values,
)


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("keys")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "t", "-f", d / "plain"],
                   check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", d / "locked"],
                   check=True)
    return {"private": (d / "plain").read_text(), "public": (d / "plain.pub").read_text(),
            "locked": (d / "locked").read_text()}


@pytest.fixture
def workspace(tmp_path) -> Path:
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "prod.yaml").write_text("services: {}\n")
    return tmp_path


@pytest.fixture
def env(keys, workspace) -> dict[str, str]:
    """What the runner passes for a good `with:` block (defaults applied, as action.yml does)."""
    key_type, blob = keys["public"].split()[:2]
    e = {f"INPUT_{name.upper()}": default for name, default in INPUTS.items()}
    e.update({
        "INPUT_HOST": "app.example.com", "INPUT_SSH-KEY": keys["private"],
        "INPUT_KNOWN-HOSTS": f"app.example.com {key_type} {blob}\n", "INPUT_TAG": "v1.2.3",
        "INPUT_SERVICES": "web", "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_REPOSITORY": "acme/shop",
    })
    return e


def problems(env) -> dict[str, str]:
    """input -> 'message | hint' for every problem reported."""
    with pytest.raises(InvalidInputs) as e:
        read_inputs(env)
    assert e.value.exit_code == 2
    return {p.input: f"{p.message} | {p.hint}" for p in e.value.problems}


def only_problem(env, name: str) -> str:
    found = problems(env)
    assert list(found) == [name], found
    text = found[name]
    assert text.startswith(f"input `{name}`: ") and " | expected " in text, text
    return text


# -- good inputs -------------------------------------------------------------------------------

def test_good_inputs_with_defaults(env, workspace, keys):
    i = read_inputs(env)
    assert (i.host, i.port, i.user, i.tag, i.services) == ("app.example.com", 22, "deploy", "v1.2.3",
                                                           ("web",))
    assert i.compose_file == workspace / "compose.yaml"
    assert i.repo_name == "shop" and i.project_name is None
    assert i.health_timeout == 120 and i.drain_timeout == 30 and i.health_path == "/"
    assert not i.dry_run and not i.insecure_skip_host_key_check and i.registry is None
    assert i.ssh_key == keys["private"] and i.ssh_key.endswith("\n")
    assert i.known_hosts.startswith("app.example.com ssh-ed25519 ")
    assert i.warnings == ()


def test_missing_variables_take_the_defaults_like_a_local_run(env):
    """`python entrypoint.py` with only the inputs a workflow sets: the same result."""
    sparse = {k: v for k, v in env.items() if not k.startswith("INPUT_") or v != INPUTS.get(
        k[6:].lower())}
    assert read_inputs(sparse) == read_inputs(env)


def test_workspace_defaults_to_the_current_folder(env, workspace):
    del env["GITHUB_WORKSPACE"]
    assert read_inputs(env, cwd=workspace).compose_file == workspace / "compose.yaml"


def test_every_option_given(env, workspace):
    env.update({"INPUT_PORT": "2222", "INPUT_USER": "ci_deploy", "INPUT_SERVICES": "web, api\nworker",
                "INPUT_COMPOSE-FILE": "deploy/prod.yaml", "INPUT_PROJECT-NAME": "shop-prod",
                "INPUT_PROXY-SERVICE": "caddy", "INPUT_PROXY-KIND": "caddy",
                "INPUT_HEALTH-TIMEOUT": "2m", "INPUT_DRAIN-TIMEOUT": "7.5s",
                "INPUT_HEALTH-PATH": "/up?full=1", "INPUT_REGISTRY": "ghcr.io",
                "INPUT_REGISTRY-USERNAME": "octocat", "INPUT_REGISTRY-PASSWORD": "ghp_x",
                "INPUT_DRY-RUN": "true", "INPUT_PRE-DEPLOY": "sh -c 'migrate && seed'",
                "INPUT_PRE-DEPLOY-TIMEOUT": "15m"})
    key_type, blob = env["INPUT_KNOWN-HOSTS"].split()[1:3]
    env["INPUT_KNOWN-HOSTS"] = f"# from ssh-keyscan\n[app.example.com]:2222 {key_type} {blob}\n"
    i = read_inputs(env)
    assert i.port == 2222 and i.services == ("web", "api", "worker")
    assert i.compose_file == workspace / "deploy" / "prod.yaml"
    assert (i.project_name, i.proxy_service, i.proxy_kind) == ("shop-prod", "caddy", "caddy")
    assert (i.health_timeout, i.drain_timeout, i.health_path) == (120, 7.5, "/up?full=1")
    assert (i.registry, i.registry_username, i.registry_password) == ("ghcr.io", "octocat", "ghp_x")
    assert i.dry_run
    assert i.pre_deploy == ("sh", "-c", "migrate && seed") and i.pre_deploy_timeout == 900


def test_key_with_crlf_or_literal_newlines_is_normalized(env, keys):
    env["INPUT_SSH-KEY"] = keys["private"].replace("\n", "\r\n")
    assert read_inputs(env).ssh_key == keys["private"]
    env["INPUT_SSH-KEY"] = keys["private"].strip().replace("\n", "\\n")
    assert read_inputs(env).ssh_key == keys["private"]


def test_absolute_compose_path_inside_the_workspace(env, workspace):
    env["INPUT_COMPOSE-FILE"] = str(workspace / "deploy" / "prod.yaml")
    assert read_inputs(env).compose_file == workspace / "deploy" / "prod.yaml"


def test_opt_out_of_host_key_checking_warns(env):
    env["INPUT_KNOWN-HOSTS"] = ""
    env["INPUT_INSECURE-SKIP-HOST-KEY-CHECK"] = "true"
    i = read_inputs(env)
    assert i.known_hosts is None and i.insecure_skip_host_key_check
    [(name, message)] = i.warnings
    assert name == "insecure-skip-host-key-check" and "known-hosts" in message


def test_unknown_input_is_a_warning_with_a_suggestion(env):
    env["INPUT_SSH_KEY"] = "x"
    i = read_inputs(env)
    assert i.warnings == (("ssh_key", "unknown input `ssh_key` is ignored (did you mean `ssh-key`?)"),)


def test_secret_values_are_the_key_and_the_password(env, keys):
    env["INPUT_REGISTRY-PASSWORD"] = " hunter2 \n"
    assert secret_values(env) == [keys["private"].strip(), "hunter2"]


# -- one bad input at a time: the problem names it, says what is expected ------------------------

@pytest.mark.parametrize("name, value, says", [
    ("host", "", "is required"),
    ("host", "ssh://app.example.com", "URL"),
    ("host", "deploy@app.example.com", "`user` input"),
    ("host", "app.example.com:2222", "`port` input"),
    ("host", "-oProxyCommand=sh", "not a host name"),
    ("host", "app example", "not a host name"),
    ("host", "2001:db8::1", "IPv6"),
    ("port", "ssh", "not a TCP port"),
    ("port", "70000", "1 to 65535"),
    ("port", "0", "not a TCP port"),
    ("user", "-x", "not a user name"),
    ("user", "de ploy", "not a user name"),
    ("insecure-skip-host-key-check", "yes", "`true` or `false`"),
    ("tag", "", "is required"),
    ("tag", "refs/tags/v1.2.3", "github.ref_name"),
    ("tag", "v1:2", "not a valid image tag"),
    ("tag", "-v1", "not a valid image tag"),
    ("services", "", "is required"),
    ("services", "web-blue", "the app name `web`"),
    ("services", "web, -x", "not a service name"),
    ("compose-file", "missing.yaml", "does not exist"),
    ("compose-file", "deploy", "folder"),
    ("compose-file", "/home/runner/work/shop/compose.yaml", "outside the workspace"),
    ("project-name", "Shop", "lowercase"),
    ("proxy-service", "caddy proxy", "Caddy or HAProxy service"),
    ("proxy-kind", "nginx", "`caddy` or `haproxy`"),
    ("health-timeout", "soon", "seconds"),
    ("health-timeout", "0", "seconds"),
    ("health-timeout", "2h", "seconds"),
    ("drain-timeout", "-5", "seconds"),
    ("health-path", "health", "starting with '/'"),
    ("health-path", "/a b", "starting with '/'"),
    ("dry-run", "maybe", "`true` or `false`"),
    ("pre-deploy", "sh -c 'unbalanced", "cannot split it into words"),
    ("pre-deploy-timeout", "forever", "seconds"),
])
def test_bad_value_names_its_input(env, name, value, says):
    env[f"INPUT_{name.upper()}"] = value
    assert says in only_problem(env, name)


def test_ssh_key_required_and_explains_forks(env):
    env["INPUT_SSH-KEY"] = ""
    assert "forks" in only_problem(env, "ssh-key")


@pytest.mark.parametrize("which, says", [
    ("public", "public key"),
    ("locked", "passphrase"),
])
def test_ssh_key_public_or_locked(env, keys, which, says):
    env["INPUT_SSH-KEY"] = keys[which]
    assert says in only_problem(env, "ssh-key")


def test_ssh_key_as_a_path(env):
    env["INPUT_SSH-KEY"] = "~/.ssh/id_ed25519"
    assert "file path" in only_problem(env, "ssh-key")


def test_known_hosts_required_unless_opted_out(env):
    env["INPUT_KNOWN-HOSTS"] = ""
    text = only_problem(env, "known-hosts")
    assert "ssh-keyscan app.example.com" in text and "insecure-skip-host-key-check" in text


def test_known_hosts_and_opt_out_together(env):
    env["INPUT_INSECURE-SKIP-HOST-KEY-CHECK"] = "true"
    assert "not both" in only_problem(env, "insecure-skip-host-key-check")


def test_known_hosts_for_another_port_says_how_to_write_it(env):
    env["INPUT_PORT"] = "2222"
    text = only_problem(env, "known-hosts")
    assert "no key for [app.example.com]:2222" in text
    assert "its lines are for app.example.com" in text
    assert "`[app.example.com]:2222`" in text and "ssh-keyscan -p 2222 app.example.com" in text


def test_known_hosts_for_another_host(env):
    env["INPUT_HOST"] = "db.example.com"
    assert "no key for db.example.com" in only_problem(env, "known-hosts")


@pytest.mark.parametrize("line, says", [
    ("/home/me/.ssh/known_hosts", "file path"),
    ("app.example.com ssh-ed25519", "not `host key-type base64-key`"),
    ("app.example.com ssh-foo AAAA", "unknown key type"),
    ("app.example.com ssh-ed25519 not*base64", "not valid base64"),
    ("@bogus app.example.com ssh-ed25519 AAAA", "unknown marker"),
])
def test_known_hosts_bad_lines(env, line, says):
    env["INPUT_KNOWN-HOSTS"] = line
    text = only_problem(env, "known-hosts")
    assert says in text and "line 1" in text


def test_known_hosts_key_type_must_match_the_key(env, keys):
    blob = keys["public"].split()[1]
    env["INPUT_KNOWN-HOSTS"] = f"app.example.com ssh-rsa {blob}"
    assert "not of type ssh-rsa" in only_problem(env, "known-hosts")


def test_known_hosts_patterns_hashes_and_markers(keys):
    key_type, blob = keys["public"].split()[:2]
    e, _ = parse_known_hosts_line(f"*.example.com,!db.example.com {key_type} {blob}")
    assert e.matches("app.example.com", 22) and not e.matches("db.example.com", 22)
    assert not e.matches("app.example.com", 2222)
    e, _ = parse_known_hosts_line(f"[10.0.0.?]:2222 {key_type} {blob}")
    assert e.matches("10.0.0.5", 2222) and not e.matches("10.0.0.5", 22)
    salt = b"0123456789abcdef0123"
    digest = hmac.new(salt, b"[app.example.com]:2222", hashlib.sha1).digest()
    hashed = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    e, _ = parse_known_hosts_line(f"{hashed} {key_type} {blob}")
    assert e.hashed and e.matches("app.example.com", 2222) and not e.matches("app.example.com", 22)
    e, _ = parse_known_hosts_line(f"@revoked app.example.com {key_type} {blob}")
    assert not e.matches("app.example.com", 22)
    e, _ = parse_known_hosts_line(f"@cert-authority *.example.com {key_type} {blob}")
    assert e.matches("app.example.com", 22)


@pytest.mark.parametrize("given, missing, says", [
    ({"INPUT_REGISTRY": "ghcr.io"}, ["registry-username", "registry-password"], "required"),
    ({"INPUT_REGISTRY-USERNAME": "u", "INPUT_REGISTRY-PASSWORD": "p"}, ["registry"], "required"),
    ({"INPUT_REGISTRY": "ghcr.io", "INPUT_REGISTRY-USERNAME": "u"}, ["registry-password"], "secret"),
    ({"INPUT_REGISTRY": "https://ghcr.io", "INPUT_REGISTRY-USERNAME": "u",
      "INPUT_REGISTRY-PASSWORD": "p"}, ["registry"], "without `https://`"),
    ({"INPUT_REGISTRY": "ghcr.io/acme", "INPUT_REGISTRY-USERNAME": "u",
      "INPUT_REGISTRY-PASSWORD": "p"}, ["registry"], "`ghcr.io`, without the image's path"),
])
def test_registry_inputs_go_together(env, given, missing, says):
    env.update(given)
    found = problems(env)
    assert sorted(found) == sorted(missing), found
    assert says in found[missing[-1]]


def test_all_problems_are_reported_at_once(env):
    env.update({"INPUT_HOST": "", "INPUT_PORT": "x", "INPUT_TAG": "refs/heads/main",
                "INPUT_DRY-RUN": "nope"})
    with pytest.raises(InvalidInputs) as e:
        read_inputs(env)
    assert [p.input for p in e.value.problems] == ["host", "port", "tag", "dry-run"]
    assert "4 invalid inputs: `host`, `port`, `tag`, `dry-run`" == e.value.message
    assert all(p.title == f"Invalid input `{p.input}`" for p in e.value.problems)


def test_no_problem_message_holds_a_secret(env, keys):
    env.update({"INPUT_SSH-KEY": keys["locked"], "INPUT_REGISTRY": "bad/x",
                "INPUT_REGISTRY-USERNAME": "u", "INPUT_REGISTRY-PASSWORD": "hunter2-secret"})
    with pytest.raises(InvalidInputs) as e:
        read_inputs(env)
    body = keys["locked"].splitlines()[1]
    for p in e.value.problems:
        assert "hunter2-secret" not in str(p) and body not in str(p)


# -- the deploy lock ---------------------------------------------------------------------------
def test_lock_timeout_and_break_lock(env):
    i = read_inputs(env)
    assert i.lock_timeout == 300 and i.break_lock is False
    i = read_inputs({**env, "INPUT_LOCK-TIMEOUT": "0", "INPUT_BREAK-LOCK": "true"})
    assert i.lock_timeout == 0 and i.break_lock is True      # 0: give up at once
    assert read_inputs({**env, "INPUT_LOCK-TIMEOUT": "2m"}).lock_timeout == 120
    text = only_problem({**env, "INPUT_LOCK-TIMEOUT": "soon"}, "lock-timeout")
    assert "between 0 and 3600" in text
    assert "between 1 and 3600" in only_problem({**env, "INPUT_HEALTH-TIMEOUT": "0"},
                                                "health-timeout")
    only_problem({**env, "INPUT_BREAK-LOCK": "yes"}, "break-lock")
