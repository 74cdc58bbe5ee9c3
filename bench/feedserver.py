"""A local feed server for benchmarks: corpus files behind added latency, with ETag/304.

It runs in its own process, so serving 29 MB of feeds does not compete for the
benchmarked client's interpreter lock: a far-away site costs the client nothing but
waiting, and both peers (funnelfeed and reader) are measured against the same server.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any


def _serve(files: list[str], latency: float, ready: Any, requests: Synchronized, not_modified: Synchronized) -> None:
    bodies = [Path(f).read_bytes() for f in files]
    etags = [f'"{hashlib.sha1(b).hexdigest()[:16]}"' for b in bodies]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            time.sleep(latency)
            with requests.get_lock():
                requests.value += 1
            try:
                index = int(self.path.strip("/").split("/")[-1].split(".")[0])
                body, etag = bodies[index], etags[index]
            except (ValueError, IndexError):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.headers.get("If-None-Match") == etag:
                with not_modified.get_lock():
                    not_modified.value += 1
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
        request_queue_size = 1024

    httpd = Server(("127.0.0.1", 0), Handler)
    ready.put(httpd.server_address[1])
    httpd.serve_forever()


class FeedServer:
    """Serves ``files`` at /feed/<index>.xml on 127.0.0.1 after ``latency`` seconds, like a far-away site."""

    def __init__(self, files: list[Path], latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._requests = context.Value("i", 0)
        self._not_modified = context.Value("i", 0)
        self._ready = context.Queue()
        self._process = context.Process(
            target=_serve, args=([str(f) for f in files], latency, self._ready, self._requests, self._not_modified),
            daemon=True)
        self.base = ""

    def counts(self) -> tuple[int, int]:
        """(requests served, of which 304) so far."""
        return self._requests.value, self._not_modified.value

    @property
    def pid(self) -> int | None:
        """The server process (its CPU is reported beside the peers')."""
        return self._process.pid

    def url(self, index: int) -> str:
        return f"{self.base}/feed/{index}.xml"

    def __enter__(self) -> FeedServer:
        self._process.start()
        self.base = f"http://127.0.0.1:{self._ready.get(timeout=60)}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.join(timeout=10)
