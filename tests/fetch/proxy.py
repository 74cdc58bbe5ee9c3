"""A small real HTTP proxy on 127.0.0.1 for the tests: CONNECT tunnels and absolute-URL GETs.

It records what it was asked, can demand basic credentials (407), and closes each
plain-HTTP exchange after one response (so keep-alive is not its concern).
"""

from __future__ import annotations

import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit


class _Handler(socketserver.BaseRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        client: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(65536)
            if not chunk:
                return
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
        self.server.seen.append((method, target, headers.get("proxy-authorization")))
        if self.server.credentials and headers.get("proxy-authorization") != self.server.credentials:
            client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\n"
                           b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = socket.create_connection((host, int(port)), timeout=5)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self._relay(client, upstream, rest)
            return
        parts = urlsplit(target)
        upstream = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=5)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        kept = [line for line in header_lines
                if not line.lower().startswith(("proxy-authorization:", "connection:", "proxy-connection:"))]
        upstream.sendall(("\r\n".join([f"{method} {path or '/'} HTTP/1.1", *kept, "Connection: close"])
                          + "\r\n\r\n").encode("latin-1") + rest)
        self._relay(client, upstream, b"")

    @staticmethod
    def _relay(client: socket.socket, upstream: socket.socket, pending: bytes) -> None:
        with upstream:
            if pending:
                upstream.sendall(pending)
            sockets = [client, upstream]
            while True:
                readable, _, _ = select.select(sockets, [], [], 5)
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, credentials: str | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.credentials = credentials
        self.seen: list[tuple[str, str, str | None]] = []  # (method, target, Proxy-Authorization)

    def handle_error(self, request: object, client_address: object) -> None:
        pass

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def proxy_server(credentials: str | None = None) -> Iterator[_ProxyServer]:
    """A running proxy; ``credentials`` is the Proxy-Authorization value it demands, if any."""
    server = _ProxyServer(credentials)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
