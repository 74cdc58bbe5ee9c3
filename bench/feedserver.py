"""A local feed server for benchmarks: corpus files behind added latency, with ETag/304."""

from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FeedServer:
    """Serves ``files`` at /<index> on 127.0.0.1 after ``latency`` seconds, like a far-away site."""

    def __init__(self, files: list[Path], latency: float) -> None:
        bodies = [f.read_bytes() for f in files]
        etags = [f'"{hashlib.sha1(b).hexdigest()[:16]}"' for b in bodies]
        self.requests = 0
        self.not_modified = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                time.sleep(latency)
                with outer._lock:
                    outer.requests += 1
                try:
                    index = int(self.path.strip("/").split("/")[-1].split(".")[0])
                    body, etag = bodies[index], etags[index]
                except (ValueError, IndexError):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.headers.get("If-None-Match") == etag:
                    with outer._lock:
                        outer.not_modified += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def counts(self) -> tuple[int, int]:
        """(requests served, of which 304) so far."""
        with self._lock:
            return self.requests, self.not_modified

    def url(self, index: int) -> str:
        return f"{self.base}/feed/{index}.xml"

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
