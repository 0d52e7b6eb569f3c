"""ssh processes (the master lives on after the deploy's own process) never get the
Action's inputs or the runner's tokens in their environment."""
from bluegreen_action.ssh import SshSession, SshTarget


def test_the_default_environment_drops_the_actions_inputs(monkeypatch):
    monkeypatch.setenv("INPUT_SSH-KEY", "-----BEGIN OPENSSH PRIVATE KEY-----")
    monkeypatch.setenv("INPUT_REGISTRY-PASSWORD", "hunter22")
    monkeypatch.setenv("ACTIONS_RUNTIME_TOKEN", "tok")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/run/agent.sock")
    env = SshSession(SshTarget("h"))._env
    assert "INPUT_SSH-KEY" not in env and "INPUT_REGISTRY-PASSWORD" not in env
    assert "ACTIONS_RUNTIME_TOKEN" not in env
    assert env["SSH_AUTH_SOCK"] == "/run/agent.sock"     # a CLI user's agent still works


def test_a_given_environment_is_used_as_is():
    assert SshSession(SshTarget("h"), env={"PATH": "/bin"})._env == {"PATH": "/bin"}
