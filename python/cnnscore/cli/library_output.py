"""Only cnnscore's own lines reach the user; the libraries' logs are held back unless asked for.

The inference libraries write to the process's file descriptors, not through Python: on AVX-512
CPUs TensorFlow's C++ runtime prints "All log messages before absl::InitializeLog() ..." and its
oneDNN notice whatever ``TF_CPP_MIN_LOG_LEVEL`` says (only ``TF_ENABLE_ONEDNN_OPTS=0`` silences
them, at ~1.5x the run time), libraries draw progress bars on stdout (NNCF did), OpenVINO and
ONNX Runtime print their own warnings, and encoder processes inherit all of it. Silencing each
library by its own switch is fragile, so for the length of a command file descriptors 1 and 2
point at one pipe and a thread forwards the lines that start with ``cnnscore:`` to the real
stderr. What a command means
to print on stdout (a path, a table) goes to the real stdout through the stream this yields.
``--verbose`` or ``CNNSCORE_LIBRARY_LOGS=1`` leaves the descriptors alone. Python warnings reach
the user when asked for (``-W``, ``PYTHONWARNINGS``).
"""

from __future__ import annotations

import io
import os
import select
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from ..io import user_stderr

PREFIX = b"cnnscore:"
ENVIRONMENT = "CNNSCORE_LIBRARY_LOGS"
_DRAIN_SECONDS = 0.1


def library_logs_wanted(verbose: bool) -> bool:
    return verbose or os.environ.get(ENVIRONMENT, "") not in ("", "0")


def _forward(read_fd: int, real_stderr: int, stop: threading.Event) -> None:
    """Copy ``cnnscore:`` lines from the pipe to the real stderr until asked to stop.

    Stopping waits for the pipe to be quiet rather than for its end: encoder processes and
    multiprocessing's resource tracker may hold the pipe open after the command is done.
    """
    pending = b""
    while True:
        # Read the flag before waiting, not after: a line written just before the command set
        # it is then in the pipe when the wait starts. Checked after a wait that timed out, the
        # flag could have been set (after a last line) while this thread was not running, and
        # that line would be lost; on a loaded machine it was (the error line of a failed run).
        stopping = stop.is_set()
        ready, _, _ = select.select([read_fd], [], [], _DRAIN_SECONDS)
        if not ready:
            if stopping:
                break
            continue
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            if line.startswith(PREFIX):
                os.write(real_stderr, line + b"\n")
    if pending.startswith(PREFIX):
        os.write(real_stderr, pending + b"\n")


@contextmanager
def only_cnnscore_lines(enabled: bool = True) -> Iterator[TextIO]:
    """Filter the process's stdout and stderr to ``cnnscore:`` lines; yields the real stdout."""
    if not enabled:
        yield sys.stdout
        return
    sys.stdout.flush()
    sys.stderr.flush()
    real_stdout, real_stderr = os.dup(1), os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    stop = threading.Event()
    forwarder = threading.Thread(
        target=_forward, args=(read_fd, real_stderr, stop), name="cnnscore-output", daemon=True
    )
    forwarder.start()
    user_stderr.set_descriptor(real_stderr)
    results = io.TextIOWrapper(
        io.FileIO(real_stdout, "w", closefd=False), encoding="utf-8", line_buffering=True
    )
    shown = warnings.showwarning
    if sys.warnoptions:  # the user asked for warnings: they go to the real stderr
        warning_stream = io.TextIOWrapper(
            io.FileIO(real_stderr, "w", closefd=False), encoding="utf-8", line_buffering=True
        )

        def show(message, category, filename, lineno, file=None, line=None):
            shown(message, category, filename, lineno, warning_stream, line)

        warnings.showwarning = show
    try:
        yield results
    finally:
        user_stderr.set_descriptor(2)
        warnings.showwarning = shown
        results.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(real_stdout, 1)
        os.dup2(real_stderr, 2)
        stop.set()
        forwarder.join()
        os.close(read_fd)
        os.close(real_stdout)
        os.close(real_stderr)
