"""Items produced by a thread of this process a few steps ahead of the one that uses them.

Scoring encodes the next chunk while the backend infers this one (scoring.pipeline), training
reads the next batches while the model fits this one (training.epochs): both hand work to one
thread that keeps ``depth`` items ready, in order, and both need the same care at the edges: an
error in the thread is raised by the consumer at the item it failed on, and stopping early (an
error downstream, Ctrl-C) ends the thread however full the queue is. That care lives here once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

Item = TypeVar("Item")
_DONE = object()


class ReadAhead(Generic[Item]):
    """Iterate ``items`` in a thread up to ``depth`` ahead of the caller. The thread starts at
    once, or with ``held`` at :meth:`start` or the first item asked for, whichever comes first;
    :meth:`close` stops and joins it (idempotent; ``with`` closes too)."""

    def __init__(self, items: Iterable[Item], depth: int, name: str, held: bool = False):
        self._results: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._produce, args=(items,), name=name,
                                        daemon=True)  # fmt: skip
        self._started = threading.Lock()  # start() may come from another thread
        if not held:
            self.start()

    def start(self) -> None:
        """Start the thread, if it has not started and nothing has closed it (idempotent)."""
        with self._started:
            if self._thread.ident is None and not self._stop.is_set():
                self._thread.start()

    def _hand_over(self, item: object) -> bool:
        """Put ``item`` in the queue unless asked to stop meanwhile (a full queue is waited on
        in short steps, so that a stop is seen)."""
        while not self._stop.is_set():
            try:
                self._results.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, items: Iterable[Item]) -> None:
        try:
            for item in items:
                if self._stop.is_set() or not self._hand_over(item):
                    return
            self._hand_over(_DONE)
        except BaseException as err:  # noqa: BLE001 - handed to the caller, raised there
            self._hand_over(err)

    def __iter__(self) -> Iterator[Item]:
        return self

    def __next__(self) -> Item:
        if self._finished:
            raise StopIteration
        self.start()
        item = self._results.get()
        if item is _DONE:
            self._finished = True
            raise StopIteration
        if isinstance(item, BaseException):
            self._finished = True
            raise item
        return item

    def close(self) -> bool:
        """Stop the thread and wait for it; True the first time (the caller then releases what
        the thread used), False when already closed."""
        with self._started:  # a thread never started is not started now
            if self._stop.is_set():
                return False
            self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()
        return True

    def __enter__(self) -> ReadAhead[Item]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
