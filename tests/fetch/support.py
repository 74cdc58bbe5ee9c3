"""Loopback HTTP servers with fault routes, a fake clock and builders for fetch tests.

Servers bind only 127.0.0.1 and 127.0.0.2 (the stand-in for an intranet host); nothing
here ever dials outside 127.0.0.0/8. Every handler loop is bounded in time and stops
when the test ends.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from aggregator.config.schema import FetchSettings
from aggregator.types import SourceSpec
from tests.helpers import rss

if TYPE_CHECKING:
    import trustme

Handler = Callable[["Request"], None]


class Request(BaseHTTPRequestHandler):
    """Dispatches GETs to the routes of its server; handlers write the response themselves."""

    server: Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.log.append((self.path, dict(self.headers.items())))
        self.server.peers.append(self.client_address[1])  # one port per TCP connection
        path = self.path.split("?", 1)[0]
        handler = self.server.routes.get(path)
        if handler is None:
            self.reply(404, b"not here")
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler(self)

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """Send a complete response."""
        self.send_response(status)
        sent = {k.lower() for k in (headers or {})}
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if "content-length" not in sent:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    @property
    def stopping(self) -> threading.Event:
        return self.server.stopping

    def log_message(self, format: str, *args: Any) -> None:
        return None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str) -> None:
        super().__init__((host, 0), Request)
        self.routes: dict[str, Handler] = {}
        self.log: list[tuple[str, dict[str, str]]] = []
        self.peers: list[int] = []
        self.stopping = threading.Event()

    @property
    def base(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> str:
        """Serve a fixed response at ``path``; returns its URL."""
        self.routes[path] = lambda req: req.reply(status, body, headers)
        return self.url(path)


def serve(host: str) -> Iterator[Server]:
    server = Server(host)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()


@dataclass
class SilentServer:
    """Accepts connections and never answers (bounded: sockets close at teardown)."""

    sock: socket.socket
    conns: list[socket.socket] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}/feed"

    def run(self) -> None:
        self.sock.settimeout(0.05)
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return


def serve_silent() -> Iterator[SilentServer]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    srv = SilentServer(sock)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield srv
    srv.stopping.set()
    thread.join(1)
    for conn in srv.conns:
        conn.close()
    sock.close()


class FakeClock:
    """Aware-UTC clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def settings(**overrides: Any) -> FetchSettings:
    """Fast-failing settings for loopback tests: 127.0.0.1 allowed, short timeouts."""
    values: dict[str, Any] = {
        "timeout": 0.5,
        "deadline": 2,
        "max_bytes": 1_000_000,
        "max_redirects": 3,
        "per_host_per_minute": 1000,
        "allow_networks": ["127.0.0.1/32"],
        "contact": "ops@example.com",
    }
    values.update(overrides)
    return FetchSettings(**values)


def spec(url: str, kind: str = "feed", visibility: str = "external", **extra: Any) -> SourceSpec:
    return SourceSpec(id="src", url=url, kind=kind, visibility=visibility, every=timedelta(hours=1), **extra)  # type: ignore[arg-type]


def drip(req: Request, chunk: bytes, interval: float, limit_s: float = 10.0) -> None:
    """Send headers, then ``chunk`` every ``interval`` seconds until the client goes or time is up."""
    req.send_response(200)
    req.send_header("Content-Type", "application/rss+xml")
    req.send_header("Transfer-Encoding", "chunked")
    req.end_headers()
    end = time.monotonic() + limit_s
    while time.monotonic() < end and not req.stopping.is_set():
        req.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        req.wfile.flush()
        if interval:
            time.sleep(interval)


class _Feed(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = rss("intranet")
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client refusing our certificate is what some tests want


@contextlib.contextmanager
def https_server(cert: trustme.LeafCert) -> Iterator[str]:
    """An HTTPS feed server on 127.0.0.1 presenting ``cert``; yields its base URL."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    httpd = _TLSServer(("127.0.0.1", 0), _Feed)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
