"""Ends a scoring run that has stopped making progress, so that a hung run frees its machine.

On Terra and Cromwell nothing else would: a task that hangs (a deadlock inside a runtime, as
OpenVINO's bindings once did here, bench/RESULTS.md session 19; a read that never returns) holds
its VM, paid for, until someone notices. Progress is a chunk of variants scored; the model's
loading counts against the first one.

Two layers, because a hang may hold the GIL (that deadlock did, so no Python thread could run):
a Python thread that, ``seconds`` after the last progress, prints one ``cnnscore: error:`` line
and every thread's stack, removes the partial output and ends the process with status 1; and,
as a backstop for a held GIL, faulthandler's watchdog, which is C and needs no GIL, ends it the
same way a little later (its stacks after ``Timeout (h:mm:ss)!``; the partial output, under its
temporary name, stays).
"""

from __future__ import annotations

import contextlib
import faulthandler
import math
import os
import threading
import time
from collections.abc import Callable

from ..io import user_stderr


def backstop_seconds(seconds: float) -> float:
    """When faulthandler ends a stalled run whose Python watchdog could not (a held GIL)."""
    return seconds + min(seconds, 60.0)


class StallGuard:
    """``with StallGuard(seconds, on_stall):`` around the work; :meth:`progress` after each
    step. ``seconds`` of 0 guards nothing. ``on_stall`` (best effort) removes what a stalled run
    must not leave behind, just before the process exits."""

    def __init__(self, seconds: float, on_stall: Callable[[], None] = lambda: None):
        self.seconds = seconds
        self._on_stall = on_stall
        self._last = time.monotonic()
        self._armed = -math.inf  # when faulthandler's watchdog was last set
        self._done = threading.Event()
        self._watcher: threading.Thread | None = None

    def __enter__(self) -> StallGuard:
        if self.seconds > 0:
            self.progress()
            self._watcher = threading.Thread(
                target=self._watch, name="cnnscore-stall-guard", daemon=True
            )
            self._watcher.start()
        return self

    def progress(self) -> None:
        """Work moved on: the stall clock starts again. faulthandler's watchdog is re-armed at
        most once a second (each time its thread is replaced: ~35 us, which chunks of one
        variant would pay thousands of times a second); with ``seconds`` of 1 or more it still
        fires after the Python watchdog would have."""
        if self.seconds > 0:
            self._last = time.monotonic()
            if self._last - self._armed >= 1.0:
                faulthandler.dump_traceback_later(
                    backstop_seconds(self.seconds), exit=True, file=user_stderr.descriptor()
                )
                self._armed = self._last

    def __exit__(self, *exc_info: object) -> None:
        if self._watcher is not None:
            faulthandler.cancel_dump_traceback_later()
            self._done.set()
            self._watcher.join()

    def _watch(self) -> None:
        while not self._done.wait(min(self.seconds / 4, 5.0)):
            idle = time.monotonic() - self._last
            if idle >= self.seconds:
                # straight to the user's stderr: no thread forwards anything once this one exits
                report = user_stderr.descriptor()
                os.write(report, (
                    f"cnnscore: error: no variant scored for {idle:.0f} s (--stall-seconds "
                    f"{self.seconds:g}): stopping; every thread's stack follows\n"
                ).encode())  # fmt: skip
                faulthandler.dump_traceback(file=report, all_threads=True)
                with contextlib.suppress(Exception):
                    self._on_stall()
                os._exit(1)
