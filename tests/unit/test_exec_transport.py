"""The exec transport's request building and response parsing, against outputs recorded
from real curl 7.88 and busybox 1.35 wget talking to Caddy 2.11.7's admin API."""
import httpx
import pytest

from bluegreen_action.exec_transport import (
    ContainerExecTransport,
    curl_argv,
    parse_curl,
    parse_wget,
    wget_argv,
)

URL = "http://localhost:2019/config/apps/http/servers"
CURL_OK = (b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
           b'Etag: "/config/apps/http/servers 47e120a86e41d835"\r\nContent-Length: 9\r\n\r\n'
           b'{"a": 1}\n')
WGET_OK_ERR = (b'  HTTP/1.1 200 OK\n  Content-Type: application/json\n'
               b'  Etag: "/config/apps/http/servers 47e120a86e41d835"\n  Content-Length: 9\n'
               b'  Connection: close\n  \n')
WGET_412_ERR = (b"  HTTP/1.1 412 Precondition Failed\n  Content-Type: application/json\n  \n"
                b"wget: server returned error: HTTP/1.1 412 Precondition Failed\n")
WGET_REFUSED = b"wget: can't connect to remote host (127.0.0.1): Connection refused\n"


def req(method="GET", **kw):
    return httpx.Request(method, URL, **kw)


def test_curl_argv_sends_method_headers_and_body():
    argv = curl_argv(req("POST", content=b'{"x":1}', headers={"If-Match": '"e 1"'}), 10)
    assert argv[:3] == ["curl", "-sS", "-i"] and argv[-1] == URL
    assert ["-X", "POST"] == argv[argv.index("-X"):argv.index("-X") + 2]
    assert "if-match: \"e 1\"" in [a.lower() for a in argv] and '{"x":1}' in argv


def test_wget_argv_posts_and_bounds_time_without_wgets_own_timeout():
    argv = wget_argv(req("POST", content=b"{}"), 7)
    assert argv[:3] == ["timeout", "7", "wget"] and "-T" not in argv
    assert argv[argv.index("--post-data") + 1] == "{}"
    with pytest.raises(httpx.UnsupportedProtocol):
        wget_argv(req("PATCH"), 7)


def test_parse_curl():
    r = parse_curl(0, CURL_OK, b"", req())
    assert r.status_code == 200 and r.json() == {"a": 1}
    assert r.headers["etag"] == '"/config/apps/http/servers 47e120a86e41d835"'
    with pytest.raises(httpx.ConnectError, match="curl exit 7"):
        parse_curl(7, b"", b"curl: (7) Failed to connect", req())


def test_parse_wget_success_error_and_refusal():
    ok = parse_wget(0, b'{"a": 1}\n', WGET_OK_ERR, req())
    assert ok.status_code == 200 and ok.json() == {"a": 1} and "47e1" in ok.headers["etag"]
    failed = parse_wget(1, b"", WGET_412_ERR, req())
    assert failed.status_code == 412 and b"412 Precondition Failed" in failed.content
    with pytest.raises(httpx.ConnectError, match="Connection refused"):
        parse_wget(1, b"", WGET_REFUSED, req())


def test_transport_detects_the_tool_once_and_turns_os_errors_into_connect_errors():
    calls = []

    def run(argv):
        calls.append(argv[0])
        if argv[0] == "sh":
            return 0, b"/usr/bin/wget\n", b""
        raise OSError("the container shell closed")

    client = httpx.Client(transport=ContainerExecTransport(run), base_url="http://localhost:2019")
    with pytest.raises(httpx.ConnectError, match="shell closed"):
        client.get("/config/")
    with pytest.raises(httpx.ConnectError):
        client.get("/config/")
    assert calls == ["sh", "timeout", "timeout"]


def test_parse_curl_without_a_status_line_is_a_protocol_error_not_a_crash():
    with pytest.raises(httpx.RemoteProtocolError, match="no HTTP response"):
        parse_curl(0, b"", b"", req())
