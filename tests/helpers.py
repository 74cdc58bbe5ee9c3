"""Small real HTTP servers on 127.0.0.1 for end-to-end tests, counting what they serve."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Responder = Callable[[str, dict[str, str]], tuple[int, dict[str, str], bytes]]


def rss(feed_id: str, n_items: int = 3) -> bytes:
    items = "".join(
        f"<item><title>Story {i} of {feed_id}</title><link>http://news.example/{feed_id}/{i}</link>"
        f"<guid>{feed_id}-{i}</guid><pubDate>Mon, 02 Nov 2026 10:0{i}:00 GMT</pubDate>"
        f"<description>Body {i} of {feed_id}</description></item>"
        for i in range(n_items)
    )
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{feed_id}</title>'
            f"<link>http://news.example/</link><description>d</description>{items}</channel></rss>").encode()


class CountingServer:
    """A threaded HTTP server that counts requests per path and can add latency."""

    def __init__(self, respond: Responder, latency: float = 0.0) -> None:
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with outer.lock:
                    outer.hits[self.path] += 1
                if latency:
                    time.sleep(latency)
                status, headers, body = respond(self.path, dict(self.headers))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"

    @contextmanager
    def running(self) -> Iterator[CountingServer]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()


def feed_server(latency: float = 0.0, etags: bool = True) -> CountingServer:
    """Serves /feed/<id>.xml as RSS with a stable ETag; answers 304 to a matching If-None-Match."""

    def respond(path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if not path.startswith("/feed/"):
            return 404, {}, b"not found"
        feed_id = path.removeprefix("/feed/").removesuffix(".xml")
        etag = f'"{feed_id}-v1"'
        if etags and headers.get("If-None-Match") == etag:
            return 304, {"ETag": etag}, b""
        extra = {"ETag": etag} if etags else {}
        return 200, {"Content-Type": "application/rss+xml", **extra}, rss(feed_id)

    return CountingServer(respond, latency)
