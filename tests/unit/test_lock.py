"""The deploy lock against a strict fake of the Docker API (names unique, 409 on a second
create) and a fake clock: waiting, timing out with the holder named, breaking a dead
holder's lock, giving back only its own lock."""
from __future__ import annotations

import signal
import subprocess

import docker.errors
import pytest

from bluegreen_action import cancel
from bluegreen_action.errors import LockError
from bluegreen_action.lock import LOCK_IMAGE, DeployLock, Holder, judge, me, probe_command, run_link

from .fakes import FakeClock

BOOT = "bb24cb7d-85f7-4738-80b7-865fc6bdaf9f"


class FakeApi:
    """Docker's container names are unique: a second create of a name answers 409."""

    def __init__(self, image=True):
        self.containers: dict[str, dict] = {}    # name -> {"Id", "Config": {"Labels"}}
        self.images = {LOCK_IMAGE} if image else set()
        self.imported = 0
        self.on_sleep = None
        self._n = 0

    def inspect_image(self, name):
        if name not in self.images:
            raise docker.errors.ImageNotFound(name)
        return {}

    def import_image_from_data(self, data, repository, tag, changes):
        assert len(data) >= 1024 and 'CMD ["lock"]' in changes
        self.images.add(f"{repository}:{tag}")
        self.imported += 1

    def create_container(self, image, command, name, labels, network_disabled):
        assert image in self.images and network_disabled
        if name in self.containers:
            raise docker.errors.APIError("Conflict", response=_Resp(409), explanation="in use")
        self._n += 1
        self.containers[name] = {"Id": f"id{self._n}", "Config": {"Labels": labels}}
        return {"Id": f"id{self._n}"}

    def inspect_container(self, name):
        if name not in self.containers:
            raise docker.errors.NotFound(name)
        return self.containers[name]

    def remove_container(self, cid, force):
        for name, c in list(self.containers.items()):
            if c["Id"] == cid:
                del self.containers[name]
                return
        raise docker.errors.NotFound(cid)


class _Resp:
    def __init__(self, code):
        self.status_code = code
        self.reason = "Conflict"
        self.url = "http://docker/containers/create"


class FakeClient:
    def __init__(self, api):
        self.api = api


class FakeSsh:
    """Answers the liveness probe: which pid runs with which start time on the server."""

    def __init__(self, running: dict[int, str], init_visible=True, boot=BOOT):
        self.running, self.init_visible, self.boot = running, init_visible, boot
        self.target = type("T", (), {"host": "srv", "port": 22, "user": "deploy"})()

    def run(self, command, timeout=60):
        pid = int(command.split("/proc/")[-1].split("/")[0])
        out = f"boot {self.boot}\n" + ("init visible\n" if self.init_visible else "")
        out += f"start {self.running.get(pid, '')}\n"
        return subprocess.CompletedProcess([], 0, out, "")

    def popen(self, *a, **kw):
        raise OSError("no keepalive in unit tests")


def holder(**kw) -> Holder:
    base = dict(who="https://github.com/o/r/actions/runs/7", tag="v1", started="2025-01-01T10:00:00Z",
                client="runner pid 9", user="deploy", id="abc", pid=4242, pid_start="777", boot_id=BOOT)
    return Holder(**{**base, **kw})


def take_as_other(api, h: Holder, name="bluegreen-lock-shop"):
    api.containers[name] = {"Id": "other", "Config": {"Labels": h.labels()}}


def test_labels_round_trip_and_describe_names_run_tag_and_age():
    h = holder()
    back = Holder.from_labels(h.labels(), "cid")
    assert back == holder(container_id="cid")
    from datetime import datetime, timezone
    text = h.describe(now=datetime(2025, 1, 1, 10, 3, 0, tzinfo=timezone.utc))
    assert text == ("https://github.com/o/r/actions/runs/7 (tag v1, started 2025-01-01T10:00:00Z "
                    "(3 min ago), from runner pid 9 as deploy)")


def test_run_link_from_the_runners_variables():
    env = {"GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "o/r",
           "GITHUB_RUN_ID": "12", "GITHUB_RUN_ATTEMPT": "2"}
    assert run_link(env) == "https://github.example/o/r/actions/runs/12/attempts/2"
    assert run_link({}) is None
    m = me({**env, "GITHUB_ACTOR": "ana"}, "v3", "deploy", 55)
    assert m.who == "https://github.example/o/r/actions/runs/12/attempts/2 (by ana)"
    assert m.tag == "v3" and m.client.endswith("pid 55") and m.started.endswith("Z")


@pytest.mark.parametrize("output, expected", [
    (f"boot {BOOT}\ninit visible\nstart 777\n", "alive"),
    (f"boot {BOOT}\ninit visible\nstart \n", "dead"),             # the pid is gone
    (f"boot {BOOT}\ninit visible\nstart 999\n", "dead"),          # pid reused by another process
    ("boot 00000000-1111-2222-3333-444444444444\nstart 777\n", "dead"),   # rebooted since
    (f"boot {BOOT}\nstart \n", "unknown"),                        # hidepid: cannot see others
    (None, "unknown"),
])
def test_judge(output, expected):
    assert judge(holder(), output)[0] == expected


def test_a_lock_without_a_process_is_never_judged_dead():
    assert judge(holder(pid=None, pid_start=""), "boot x\ninit visible\nstart \n")[0] == "unknown"


def test_probe_command_only_takes_an_integer_pid():
    assert "/proc/42/stat" in probe_command(42)
    with pytest.raises(ValueError):
        probe_command("1; rm -rf /")


def test_acquire_release_and_the_image_imported_once():
    api = FakeApi(image=False)
    lock = DeployLock(FakeClient(api), None, "shop", FakeClock())
    got = lock.acquire(holder(id="", pid=None), timeout=10)
    assert api.imported == 1 and got.id and got.container_id == "id1"
    assert Holder.from_labels(api.containers["bluegreen-lock-shop"]["Config"]["Labels"]).id == got.id
    lock.release()
    assert api.containers == {}
    lock.acquire(holder(), timeout=10)
    assert api.imported == 1


def test_a_live_holder_makes_it_wait_then_fail_naming_the_holder():
    api = FakeApi()
    take_as_other(api, holder())
    clock = FakeClock()
    logs = []
    lock = DeployLock(FakeClient(api), FakeSsh({4242: "777"}), "shop", clock, log=logs.append)
    with pytest.raises(LockError) as e:
        lock.acquire(holder(who="me"), timeout=9)
    assert clock.t - 1000 == pytest.approx(9)
    assert e.value.exit_code == 5
    assert "https://github.com/o/r/actions/runs/7" in e.value.message and "tag v1" in e.value.message
    assert "bluegreen lock release --host srv --port 22 --user deploy --project-name shop" in e.value.hint
    assert "break-lock: true" in e.value.hint
    assert len(logs) == 1 and "waiting up to 9s" in logs[0]
    assert api.containers["bluegreen-lock-shop"]["Id"] == "other"     # never touched


def test_it_takes_the_lock_once_the_holder_gives_it_back():
    api = FakeApi()
    take_as_other(api, holder())
    clock = FakeClock()
    orig = clock.sleep

    def sleep(s):
        orig(s)
        if clock.t >= 1006:
            api.containers.pop("bluegreen-lock-shop", None)
    clock.sleep = sleep
    lock = DeployLock(FakeClient(api), FakeSsh({4242: "777"}), "shop", clock)
    got = lock.acquire(holder(who="me"), timeout=60)
    assert 6 <= clock.t - 1000 < 10 and got.who == "me"


def test_a_dead_holders_lock_is_broken_with_a_warning():
    api = FakeApi()
    take_as_other(api, holder())
    warnings = []
    lock = DeployLock(FakeClient(api), FakeSsh({}), "shop", FakeClock(), warn=warnings.append)
    got = lock.acquire(holder(who="me"), timeout=0)
    assert got.who == "me"
    assert "breaking the deploy lock of shop left by https://github.com/o/r/actions/runs/7" in warnings[-1]
    assert "is gone" in warnings[-1]


def test_an_unjudgeable_holder_counts_as_alive():
    api = FakeApi()
    take_as_other(api, holder())
    lock = DeployLock(FakeClient(api), FakeSsh({}, init_visible=False), "shop", FakeClock())
    with pytest.raises(LockError) as e:
        lock.acquire(holder(who="me"), timeout=0)
    assert "holder unknown" in e.value.evidence


def test_break_first_removes_any_holder_and_release_never_removes_anothers_lock():
    api = FakeApi()
    take_as_other(api, holder())
    warnings = []
    lock = DeployLock(FakeClient(api), FakeSsh({4242: "777"}), "shop", FakeClock(),
                      warn=warnings.append)
    lock.acquire(holder(who="me"), timeout=0, break_first=True)
    assert "cannot be tied to this process" in warnings[0] and "break-lock is set" in warnings[1]
    # somebody breaks ours and takes it: our release leaves theirs alone
    api.containers["bluegreen-lock-shop"] = {"Id": "third", "Config": {"Labels": {}}}
    lock.release()
    assert api.containers["bluegreen-lock-shop"]["Id"] == "third"


def test_only_the_first_signal_cancels():
    old = {s: signal.getsignal(s) for s in cancel.SIGNALS}
    try:
        cancel.install()
        with pytest.raises(cancel.Cancelled) as e:
            signal.raise_signal(signal.SIGTERM)
        assert e.value.exit_code == 143 and e.value.name == "SIGTERM"
        signal.raise_signal(signal.SIGINT)     # ignored: the cleanup must not be cut short
    finally:
        for s, h in old.items():
            signal.signal(s, h)
