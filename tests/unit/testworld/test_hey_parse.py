"""hey output parsing, against reports recorded from the real hey (Debian's)."""

from pathlib import Path

from testworld import hey

DATA = Path(__file__).parent / "data"


def test_all_ok():
    r = hey.parse((DATA / "hey_ok.txt").read_text())
    assert r["status_counts"] == {200: 400}
    assert (r["ok"], r["failed"], r["errors"]) == (400, 0, {})
    assert r["rps"] > 0


def test_connection_errors_count_as_failed():
    r = hey.parse((DATA / "hey_errors.txt").read_text())
    assert r["status_counts"] == {200: 516}
    assert r["failed"] == 84
    [(message, count)] = r["errors"].items()
    assert count == 84 and "connection refused" in message


def test_non_2xx_statuses_count_as_failed():
    r = hey.parse((DATA / "hey_500.txt").read_text())
    assert r["status_counts"] == {500: 30}
    assert (r["ok"], r["failed"]) == (0, 30)


def test_command_line():
    cmd = hey.command("http://127.0.0.1:1/", 5, concurrency=20, rate=20, method="POST")
    assert cmd[:9] == ["hey", "-z", "5s", "-c", "20", "-q", "20", "-m", "POST"]
    assert "-d" in cmd and cmd[-1] == "http://127.0.0.1:1/"
