"""A faulty network between the GCS client and the emulator, for the remote-fault tests.

:class:`FaultyProxy` forwards every request to the emulator and, where a :class:`Fault` rule
matches, answers instead with an HTTP error (429, 500, 503), or forwards and then cuts the body
short with a TCP reset, or (after :meth:`FaultyProxy.go_away`) refuses every connection, as a
storage endpoint that went away does. Each rule counts how often it fired, so a test can show
that the faults it meant to inject really happened.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]

    @property
    def is_media(self) -> bool:
        """A download of an object's bytes (whole or by range)."""
        return self.method == "GET" and "alt=media" in urllib.parse.urlparse(self.path).query

    @property
    def is_upload(self) -> bool:
        return self.method in ("POST", "PUT") and "/upload/" in self.path

    @property
    def object_name(self) -> str:
        path = urllib.parse.urlparse(self.path).path
        if "/o/" in path:
            return urllib.parse.unquote(path.rsplit("/o/", 1)[-1])
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        return query.get("name", [""])[0]


@dataclass
class Fault:
    """Answer the matching requests numbered in ``which`` (1-based, counted over the matching
    requests only) with ``status``, or, if ``status`` is None, with the real answer cut off by a
    reset after ``cut_after`` bytes of its body. ``which`` None: every matching request."""

    matches: Callable[[Request], bool]
    status: int | None = None
    cut_after: int = 0
    which: Callable[[int], bool] | None = None
    seen: int = 0
    fired: int = 0

    def applies(self, request: Request) -> bool:
        if not self.matches(request):
            return False
        self.seen += 1
        if self.which is not None and not self.which(self.seen):
            return False
        self.fired += 1
        return True


@dataclass
class FaultyProxy:
    target: str
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlparse(self.target)
        proxy, lock = self, threading.Lock()
        self.requests = 0
        self.gone = False

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _reset(self) -> None:
                # SO_LINGER 0: close() sends a reset, as a dropped connection does
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True

            def _forward(self) -> None:
                if proxy.gone:  # a connection kept alive from before: dropped too
                    self._reset()
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                request = Request(self.command, self.path, dict(self.headers.items()))
                with lock:
                    proxy.requests += 1
                    fault = next((f for f in proxy.faults if f.applies(request)), None)
                if fault is not None and fault.status is not None:
                    self._answer(fault.status, b'{"error": {"code": %d, "message": "injected"}}'
                                 % fault.status, {"Content-Type": "application/json"})  # fmt: skip
                    return
                upstream = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                payload = response.read()
                upstream.close()
                passed = {
                    k: v
                    for k, v in response.getheaders()
                    if k.lower() not in ("transfer-encoding", "content-length", "connection")
                }
                if fault is None or len(payload) <= fault.cut_after:
                    self._answer(response.status, payload, passed)
                    return
                self.send_response(response.status)
                for key, value in passed.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload[: fault.cut_after])
                self.wfile.flush()
                self._reset()

            def _answer(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # the resets are on purpose

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def go_away(self) -> None:
        """Stop listening: from now on every connection is refused, and every request on one
        kept alive from before is answered with a reset."""
        self.gone = True
        self._server.shutdown()
        self._server.server_close()

    def close(self) -> None:
        if self._thread.is_alive():
            self.go_away()


def first(n: int) -> Callable[[int], bool]:
    return lambda seen: seen <= n


def every(n: int) -> Callable[[int], bool]:
    return lambda seen: seen % n == 0


def after(n: int) -> Callable[[int], bool]:
    return lambda seen: seen > n
