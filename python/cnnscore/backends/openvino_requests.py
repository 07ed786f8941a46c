"""A compiled OpenVINO model's inference requests (the backend keeps two per stream), reused in
turn, each waited for by itself.

Why not OpenVINO's ``AsyncInferQueue``: its only wait is ``wait_all``, so a caller that collects
one chunk must also wait for whatever it has started of the next, and its completion callback is
Python, run in OpenVINO's threads, which must take the GIL from whatever Python code is running
(the encoder) before a stream is free again. Here a request's output is copied out by the
caller's thread when it needs that request again or collects the call it belongs to; OpenVINO's
threads run no Python.

Requests finish in about the order they were started (queued in that order, equal work), so the
oldest running request is the one waited for: a call's results are complete once every request
started up to its last one has been read back.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass
class _Running:
    request: object  # openvino.InferRequest
    destination: np.ndarray  # where its real rows' outputs go (a slice of the call's array)
    sequence: int


class RequestRing:
    """``count`` requests of one compiled model. :meth:`start` runs inputs on an idle request
    (reading back the oldest running one first if none is idle); :meth:`finish` reads back every
    request started up to a given one."""

    def __init__(self, compiled_model, count: int):
        self._idle = deque(compiled_model.create_infer_request() for _ in range(count))
        self._running: deque[_Running] = deque()
        self._started = 0

    def start(self, inputs: dict, destination: np.ndarray) -> int:
        """Start inference on ``inputs`` (a full, padded micro-batch); the first
        ``len(destination)`` rows of its output are copied into ``destination`` once it is read
        back. Returns its sequence number, for :meth:`finish`."""
        if not self._idle:
            self._read_back_oldest()
        request = self._idle.popleft()
        request.start_async(inputs)  # copies the inputs into the request's own tensors
        self._started += 1
        self._running.append(_Running(request, destination, self._started))
        return self._started

    def finish(self, sequence: int) -> None:
        """Wait for and read back every request started up to ``sequence``."""
        while self._running and self._running[0].sequence <= sequence:
            self._read_back_oldest()

    def finish_all(self) -> None:
        """Wait for every running request (before the compiled model is let go)."""
        while self._running:
            self._read_back_oldest()

    def _read_back_oldest(self) -> None:
        running = self._running.popleft()
        request = running.request
        try:
            request.wait()  # releases the GIL
            rows = len(running.destination)
            running.destination[:] = request.get_output_tensor(0).data[:rows]
        finally:
            self._idle.append(request)
