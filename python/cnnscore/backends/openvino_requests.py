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

Inputs are written by the caller straight into a request's own input tensors (their memory, as
numpy arrays): passing arrays to ``start_async`` copies them in again, which with the batch the
caller had assembled first was two copies of every tensor per request.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class _Request:
    request: object  # openvino.InferRequest
    inputs: list[np.ndarray]  # its input tensors' memory, in the order the ring was given


@dataclass
class _Running:
    held: _Request
    destination: np.ndarray  # where its real rows' outputs go (a slice of the call's array)
    sequence: int


class RequestRing:
    """``count`` requests of one compiled model whose inputs are named ``input_names``.
    :meth:`start` fills an idle request's inputs and runs it (reading back the oldest running one
    first if none is idle); :meth:`finish` reads back every request started up to a given one."""

    def __init__(self, compiled_model, count: int, input_names: Sequence[str]):
        self._idle: deque[_Request] = deque()
        for _ in range(count):
            request = compiled_model.create_infer_request()
            inputs = [request.get_tensor(name).data for name in input_names]
            self._idle.append(_Request(request, inputs))
        self._running: deque[_Running] = deque()
        self._started = 0

    def start(self, fill: Callable[[list[np.ndarray]], None], destination: np.ndarray) -> int:
        """Start inference on the inputs ``fill`` writes into the request's input arrays (in
        ``input_names``' order, every row of them: a micro-batch, padded); the first
        ``len(destination)`` rows of its output are copied into ``destination`` once it is read
        back. Returns its sequence number, for :meth:`finish`."""
        if not self._idle:
            self._read_back_oldest()
        held = self._idle.popleft()
        try:
            fill(held.inputs)
        except BaseException:
            self._idle.appendleft(held)
            raise
        held.request.start_async()
        self._started += 1
        self._running.append(_Running(held, destination, self._started))
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
        request = running.held.request
        try:
            request.wait()  # releases the GIL
            rows = len(running.destination)
            running.destination[:] = request.get_output_tensor(0).data[:rows]
        finally:
            self._idle.append(running.held)
