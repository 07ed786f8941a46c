"""A loopback HTTP server that serves GCS objects by byte range, so htslib reads BAM/CRAM/FASTA
from ``gs://`` without copying them.

htslib's own ``gs://`` support only knows a bearer token in ``GCS_OAUTH_TOKEN`` and the public
endpoint. Serving objects on ``http://127.0.0.1:PORT/bucket/object`` instead lets htslib's
range-capable HTTP reader (libcurl, built into pysam) do the seeking, while every byte comes
through :mod:`cnnscore.gcs.client` with the standard credentials, the requester-pays project, and a
pinned object generation. Encoder processes reach the same URLs, so nothing is localised whole.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..errors import InputError
from .client import DEFAULT_MAX_RETRIES, GcsClient, MissingObject, ObjectInfo

#: Bytes fetched from GCS per request while streaming an open-ended range to htslib: starting
#: small and doubling, because htslib asks for "from here to the end" and drops the connection
#: once it has the few BGZF blocks it wanted; a long read still ends up in large requests.
FIRST_CHUNK_BYTES = 64 * 1024
STREAM_CHUNK_BYTES = 1024 * 1024
#: The send buffer of each connection: small, so the server fetches little ahead of what htslib
#: reads before it hangs up (loopback buffers would otherwise take megabytes it never reads).
SEND_BUFFER_BYTES = 64 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_PINNED = "g{}-s{}"
_ROUTE = re.compile(r"^/g(\d+)-s(\d+)/(.+)$")
#: Companions htslib asks for by adding a suffix to the URL it was given: served as objects of
#: their own (their own generation and size), not as the pinned object the URL names.
COMPANION_SUFFIXES = (".fai", ".gzi")
_START_SECONDS = 60
_PARENT_CHECK_SECONDS = 1.0


class RangeServer:
    """A server process for one run. It runs apart from the scorer because pysam holds the GIL
    while htslib waits for data: a server thread in the same process would never get to answer.
    It is stateless: each URL carries the object's generation and size, taken by the caller.

    A read that still fails once its retries are spent cuts the connection short, so htslib
    reports an I/O error rather than reading less; the reason (which object, which failure) is
    kept in a file for :meth:`failure`, since htslib's own error cannot say it."""

    def __init__(
        self, requester_pays_project: str | None = None, max_retries: int = DEFAULT_MAX_RETRIES
    ):
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        handle, self._failures = tempfile.mkstemp(prefix="cnnscore-range-failures-")
        os.close(handle)
        self._process = context.Process(
            target=_serve,
            args=(sender, requester_pays_project, max_retries, self._failures, os.getpid()),
            daemon=True,
        )
        self._process.start()
        sender.close()
        if not receiver.poll(_START_SECONDS):
            self.close()
            raise InputError("the local range server for gs:// reads did not start", path="gs://")
        self._port = receiver.recv()
        receiver.close()

    def url_for(self, gs_url: str, info: ObjectInfo) -> str:
        """The loopback URL htslib reads ``gs_url`` from, pinned to one generation. Generation and
        size sit in the path, not a query string, so that htslib can name a companion by adding
        a suffix, as it does for a CRAM's reference (``URL.fai``, ``URL.gzi``)."""
        route = urllib.parse.quote(gs_url[len("gs://") :])
        return f"http://127.0.0.1:{self._port}/{_PINNED.format(info.generation, info.size)}/{route}"

    def failure(self) -> str | None:
        """The first read the server gave up on, as one line naming the gs:// object."""
        try:
            with open(self._failures) as handle:
                return handle.readline().strip() or None
        except OSError:
            return None

    def close(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout=5)
        with contextlib.suppress(OSError):
            os.remove(self._failures)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # htslib hangs up when it seeks
            super().handle_error(request, client_address)


def _serve(
    sender, requester_pays_project: str | None, max_retries: int, failures: str, parent_pid: int
) -> None:
    client = GcsClient(requester_pays_project, max_retries)
    server = _QuietServer(("127.0.0.1", 0), _handler_for(client, failures))
    sender.send(server.server_address[1])
    sender.close()
    watch = threading.Thread(target=_exit_with_parent, args=(parent_pid, failures), daemon=True)
    watch.start()
    server.serve_forever()


def _exit_with_parent(parent_pid: int, failures: str) -> None:
    """A killed scorer (SIGKILL, a preempted task) cannot stop its server, nor remove the
    failures file it made: stop on our own, and remove it (they piled up in the temp folder)."""
    while os.getppid() == parent_pid:
        time.sleep(_PARENT_CHECK_SECONDS)
    with contextlib.suppress(OSError):
        os.remove(failures)
    os._exit(0)


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive from a Range header; None for the whole object."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        raise ValueError(header)
    first_text, last_text = match.groups()
    if first_text == "":  # suffix range: the last N bytes
        first, last = max(size - int(last_text), 0), size - 1
    else:
        first = int(first_text)
        last = min(int(last_text), size - 1) if last_text else size - 1
    if first >= size or first > last:
        raise ValueError(header)
    return first, last


def _record(failures: str, err: InputError) -> None:
    with open(failures, "a") as handle:
        handle.write(f"{err}\n")


def _handler_for(client: GcsClient, failures: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base's signature
            pass  # htslib makes many requests; they are not the user's business

        def setup(self) -> None:
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
            super().setup()

        def _target(self) -> tuple[str, ObjectInfo] | None:
            match = _ROUTE.match(self.path.partition("?")[0])
            if not match:
                self.send_error(400, "expected /g<generation>-s<size>/<bucket>/<object>")
                return None
            gs_url = "gs://" + urllib.parse.unquote(match.group(3))
            if gs_url.endswith(COMPANION_SUFFIXES):
                try:
                    return gs_url, client.stat(gs_url)
                except MissingObject:
                    self.send_error(404, "no such object")
                    return None
                except InputError as err:  # an outage: not a reason to do without the index
                    _record(failures, err)
                    self.send_error(503, "Cloud Storage unavailable")
                    return None
            return gs_url, ObjectInfo(size=int(match.group(2)), generation=int(match.group(1)))

        def _headers(self, status: int, first: int, last: int, size: int) -> None:
            self.send_response(status)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(last - first + 1))
            if status == 206:
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.end_headers()

        def _plan(self) -> tuple[str, ObjectInfo, int, int, int] | None:
            found = self._target()
            if found is None:
                return None
            gs_url, info = found
            try:
                wanted = _byte_range(self.headers.get("Range"), info.size)
            except ValueError:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{info.size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            first, last = wanted if wanted else (0, info.size - 1)
            return gs_url, info, first, last, 206 if wanted else 200

        def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
            plan = self._plan()
            if plan:
                _gs_url, info, first, last, status = plan
                self._headers(status, first, last, info.size)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            plan = self._plan()
            if not plan:
                return
            gs_url, info, first, last, status = plan
            self._headers(status, first, last, info.size)
            offset, chunk = first, FIRST_CHUNK_BYTES
            try:
                while offset <= last:
                    stop = min(offset + chunk - 1, last)
                    self.wfile.write(client.read_range(gs_url, offset, stop, info.generation))
                    offset, chunk = stop + 1, min(2 * chunk, STREAM_CHUNK_BYTES)
            except (BrokenPipeError, ConnectionResetError):
                pass  # htslib seeks by dropping the connection mid-stream
            except InputError as err:
                _record(failures, err)
                self.close_connection = True  # htslib sees a short read and reports an I/O error

    return Handler
