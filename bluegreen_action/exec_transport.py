"""An httpx transport that sends each request from inside a container with `docker exec`
(curl when the image has it, else busybox wget). The proxy's admin API stays bound to the
container's own localhost, and health probes reach the app the way the proxy does."""
from __future__ import annotations

import re
from collections.abc import Callable

import httpx

# (argv) -> (exit code, stdout bytes, stderr bytes)
Exec = Callable[[list[str]], tuple[int, bytes, bytes]]


def detect_http_tool(run: Exec) -> str:
    code, out, _ = run(["sh", "-c", "command -v curl || command -v wget"])
    found = out.decode().strip()
    if code == 0 and found.endswith("curl"):
        return "curl"
    if code == 0 and found.endswith("wget"):
        return "wget"
    raise httpx.ConnectError("neither curl nor wget exists in the proxy container")


def curl_argv(request: httpx.Request, timeout: float) -> list[str]:
    argv = ["curl", "-sS", "-i", "--max-time", f"{timeout:g}", "-X", request.method,
            "-H", "Expect:"]
    for k, v in request.headers.items():
        if k.lower() not in ("host", "content-length", "accept-encoding", "connection", "user-agent"):
            argv += ["-H", f"{k}: {v}"]
    if request.content:
        argv += ["--data-binary", request.content.decode()]
    return argv + [str(request.url)]


def wget_argv(request: httpx.Request, timeout: float) -> list[str]:
    if request.method not in ("GET", "POST"):
        raise httpx.UnsupportedProtocol(f"busybox wget cannot send {request.method}")
    # `timeout` instead of wget's own -T, which crashes some busybox builds
    argv = ["timeout", f"{max(1, int(timeout))}", "wget", "-q", "-S", "-O", "-"]
    for k, v in request.headers.items():
        if k.lower() not in ("host", "content-length", "accept-encoding", "connection", "user-agent",
                             "accept"):
            argv += ["--header", f"{k}: {v}"]
    if request.method == "POST":
        argv += ["--post-data", (request.content or b"").decode()]
    return argv + [str(request.url)]


def parse_curl(code: int, out: bytes, err: bytes, request: httpx.Request) -> httpx.Response:
    if code != 0:
        raise httpx.ConnectError(f"curl exit {code}: {err.decode(errors='replace').strip()}",
                                 request=request)
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    first = lines[0].split()
    if len(first) < 2 or not first[1].isdigit():
        raise httpx.RemoteProtocolError(f"no HTTP response from curl: {out[:200]!r}",
                                        request=request)
    status = int(first[1])
    headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:] if ":" in line]
    return httpx.Response(status, headers=headers, content=body, request=request)


STATUS_RE = re.compile(r"^\s*HTTP/\d(?:\.\d)?\s+(\d{3})")


def parse_wget(code: int, out: bytes, err: bytes, request: httpx.Request) -> httpx.Response:
    text = err.decode(errors="replace")
    status, headers = None, []
    for line in text.splitlines():
        m = STATUS_RE.match(line)
        if m and line.startswith("  "):
            status, headers = int(m.group(1)), []    # the last response wins (redirects)
        elif line.startswith("  ") and ":" in line and status is not None:
            k, v = line.strip().split(":", 1)
            headers.append((k.strip(), v.strip()))
    if status is None:
        raise httpx.ConnectError(f"wget exit {code}: {text.strip()}", request=request)
    # busybox wget drops the body of an error response; keep its own message instead
    body = out if code == 0 else text.strip().encode()
    return httpx.Response(status, headers=headers, content=body, request=request)


class ContainerExecTransport(httpx.BaseTransport):
    def __init__(self, run: Exec, tool: str | None = None, timeout: float = 10):
        self._run = run
        self._tool = tool
        self._timeout = timeout

    @property
    def tool(self) -> str:
        if self._tool is None:
            self._tool = detect_http_tool(self._run)
        return self._tool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        try:
            if self.tool == "curl":
                code, out, err = self._run(curl_argv(request, self._timeout))
                return parse_curl(code, out, err, request)
            code, out, err = self._run(wget_argv(request, self._timeout))
            return parse_wget(code, out, err, request)
        except OSError as e:
            raise httpx.ConnectError(f"cannot run a command in the proxy container: {e}",
                                     request=request) from e


def docker_exec(container) -> Exec:
    """An Exec bound to a Docker SDK container."""
    def run(argv: list[str]) -> tuple[int, bytes, bytes]:
        result = container.exec_run(argv, demux=True)
        out, err = result.output if result.output else (b"", b"")
        return result.exit_code, out or b"", err or b""
    return run


class ContainerShell:
    """One long-lived `sh` inside a container, fed commands on stdin: the cost of a
    `docker exec` (tens to hundreds of milliseconds over SSH) is paid once per deploy, not
    per admin-API call. Each command's output goes to files, then comes back framed by a
    header line `<token> <exit> <stdout bytes> <stderr bytes>`, so stdout and stderr
    never interleave. An Exec, like docker_exec; `close()` ends the shell."""

    def __init__(self, container, timeout: float = 30):
        import secrets
        self._token = secrets.token_hex(8)
        self._tmp = f"/tmp/.bluegreen-{self._token}"
        self._timeout = timeout
        api = container.client.api
        exec_id = api.exec_create(container.id, ["sh"], stdin=True)["Id"]
        # exec_start(socket=True) without docker-py's wrapper, so that the HTTP response
        # that owns the hijacked connection can be closed with it (else it is closed at
        # garbage collection, after its socket, with an "I/O operation on closed file")
        self._response = api._post_json(
            api._url("/exec/{0}/start", exec_id), data={"Tty": False, "Detach": False},
            headers={"Connection": "Upgrade", "Upgrade": "tcp"}, stream=True)
        self._sock = api._get_raw_response_socket(self._response)
        self._raw = getattr(self._sock, "_sock", self._sock)
        self._raw.settimeout(timeout)
        self._buf = b""

    def __call__(self, argv: list[str]) -> tuple[int, bytes, bytes]:
        import shlex
        cmd = " ".join(shlex.quote(a) for a in argv)
        t = self._tmp
        script = (f"{cmd} >{t}.o 2>{t}.e </dev/null; r=$?; "
                  f"printf '%s %s %s %s\\n' {self._token} $r $(wc -c <{t}.o) $(wc -c <{t}.e); "
                  f"cat {t}.o {t}.e\n")
        self._raw.sendall(script.encode())
        header = self._read_line()
        token, code, n_out, n_err = header.split()
        if token.decode() != self._token:
            raise OSError(f"unexpected output from the container shell: {header[:200]!r}")
        body = self._read_exact(int(n_out) + int(n_err))
        return int(code), body[:int(n_out)], body[int(n_out):]

    def close(self) -> None:
        try:
            self._raw.sendall(f"rm -f {self._tmp}.o {self._tmp}.e; exit\n".encode())
        except OSError:
            pass
        for closing in (self._response.close, self._sock.close, self._raw.close):
            try:
                closing()
            except (OSError, ValueError):
                pass

    # Docker multiplexes the exec's streams: 8-byte frame headers (stream, size).
    def _fill(self) -> None:
        head = self._recv_exact(8)
        size = int.from_bytes(head[4:8], "big")
        payload = self._recv_exact(size)
        if head[0] == 1:            # stdout; the shell's own stderr (head[0] == 2) is dropped
            self._buf += payload

    def _recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self._raw.recv(n - len(data))
            if not chunk:
                raise OSError("the container shell closed")
            data += chunk
        return data

    def _read_line(self) -> bytes:
        while b"\n" not in self._buf:
            self._fill()
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def _read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            self._fill()
        data, self._buf = self._buf[:n], self._buf[n:]
        return data
