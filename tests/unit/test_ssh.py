"""The SSH config bluegreen writes, and how OpenSSH's complaints are explained."""
from pathlib import Path

import pytest

from bluegreen_action.ssh import SshTarget, _ssh_config, explain_ssh_failure

T = SshTarget("server.example.com", 2222, "deploy", Path("/k/id"), Path("/k/known_hosts"))


def lines(target):
    return [ln.strip() for ln in _ssh_config(target, Path("/tmp/x/cm-%C")).splitlines()]


def test_host_keys_are_checked_strictly_against_the_given_file_only():
    c = lines(T)
    assert "StrictHostKeyChecking yes" in c
    assert "UserKnownHostsFile /k/known_hosts" in c and "GlobalKnownHostsFile /dev/null" in c
    assert "IdentityFile /k/id" in c and "IdentitiesOnly yes" in c and "BatchMode yes" in c


def test_one_master_connection_is_shared():
    c = lines(T)
    assert "ControlMaster auto" in c and "ControlPath /tmp/x/cm-%C" in c


def test_the_explicit_opt_out_is_the_only_way_to_skip_host_keys():
    c = lines(SshTarget("h", 22, "u", None, None, check_host_key=False))
    assert "StrictHostKeyChecking no" in c and "UserKnownHostsFile /dev/null" in c
    default = lines(SshTarget("h"))
    assert "StrictHostKeyChecking yes" in default
    assert not any(ln.startswith(("IdentityFile", "UserKnownHostsFile")) for ln in default)


@pytest.mark.parametrize("stderr,says,fix", [
    ("No ED25519 host key is known for [h]:2222 and you have requested strict checking.\n"
     "Host key verification failed.", "host key", "ssh-keyscan -p 2222"),
    ("@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@", "host key", "ssh-keyscan"),
    ("deploy@h: Permission denied (publickey).", "refused the SSH key", "authorized_keys"),
    ("ssh: connect to host h port 2222: Connection refused", "cannot reach", "port"),
    ("ssh: Could not resolve hostname nope: Name or service not known", "cannot reach", "host"),
    ("something else entirely", "SSH to deploy@server.example.com:2222 failed", "ssh -v"),
])
def test_openssh_failures_name_the_problem_and_the_fix(stderr, says, fix):
    e = explain_ssh_failure(T, stderr)
    assert says in e.message and fix in e.hint and e.exit_code == 3
