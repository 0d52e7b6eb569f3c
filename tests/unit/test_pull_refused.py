"""A pull the registry refuses is bad input, said with the image or registry named."""
from bluegreen_action.errors import InputError
from bluegreen_action.remote_docker import pull_refused


def test_a_tag_that_is_not_in_the_registry():
    out = ("Error response from daemon: manifest for 127.0.0.1:5000/sample-app:v99 not found: "
           "manifest unknown: manifest unknown")
    e = pull_refused(out)
    assert isinstance(e, InputError) and e.exit_code == 2
    assert e.message == "127.0.0.1:5000/sample-app:v99 is not in the registry"
    assert "push that tag first" in e.hint


def test_missing_or_wrong_credentials_name_the_registry_and_the_login_inputs():
    for out in ('Error response from daemon: Head "http://127.0.0.1:5001/v2/sample-app/manifests/v2": '
                "no basic auth credentials",
                'Error response from daemon: Head "https://ghcr.io/v2/o/app/manifests/v2": unauthorized'):
        e = pull_refused(out)
        assert e.message.endswith("refused the pull: no valid credentials")
        assert ("127.0.0.1:5001" in e.message) or ("ghcr.io" in e.message)
        assert "--registry-password-stdin" in e.hint and "registry-password" in e.hint


def test_other_pull_failures_are_not_guessed_at():
    assert pull_refused("error during connect: dial unix: connection refused") is None
