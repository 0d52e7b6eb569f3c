"""Where the test world debootstraps Debian from: the machine's own mirror, or the one
BLUEGREEN_DEBIAN_MIRROR names (an Ubuntu runner has no Debian mirror in its sources)."""
import pytest

from testworld import images


def test_the_variable_names_the_mirror_on_any_machine(monkeypatch):
    monkeypatch.setenv("BLUEGREEN_DEBIAN_MIRROR", "http://mirror.example/debian")
    monkeypatch.setattr(images, "_is_debian", lambda: False)
    assert images.debian_mirror() == "http://mirror.example/debian"


def test_a_machine_that_is_not_debian_says_what_to_set(monkeypatch):
    monkeypatch.delenv("BLUEGREEN_DEBIAN_MIRROR", raising=False)
    monkeypatch.setattr(images, "_is_debian", lambda: False)
    with pytest.raises(RuntimeError, match="set BLUEGREEN_DEBIAN_MIRROR"):
        images.debian_mirror()


def test_on_debian_the_mirror_comes_from_the_apt_sources(monkeypatch):
    monkeypatch.delenv("BLUEGREEN_DEBIAN_MIRROR", raising=False)
    if not images._is_debian():
        pytest.skip("not a Debian machine")
    mirror = images.debian_mirror()
    assert mirror.startswith("http") and "security" not in mirror
