"""A compiled OpenVINO model's inference requests (the backend keeps four per stream), reused in
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
caller had assembled first was two copies of every tensor per request. Where an input already
lies in memory exactly as the model takes it (a variant's tensor that the encoder stored at its
row bucket's height), :meth:`RequestRing.lend` hands OpenVINO that memory instead and nothing is
copied by the caller: the copy was about half of the scoring thread's time per request, time in
which it holds the GIL (bench/RESULTS.md, session 18).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class _Request:
    request: object  # openvino.InferRequest
    own: list  # its own input tensors (openvino.Tensor), in the order the ring was given
    inputs: list[np.ndarray]  # their memory
    #: whether the request's inputs are lent arrays (:meth:`RequestRing.lend`), not its own
    lent: bool = False


@dataclass
class _Running:
    held: _Request
    destination: np.ndarray  # where its real rows' outputs go (a slice of the call's array)
    sequence: int
    #: arrays lent to the request: kept alive here until it is read back
    lent: tuple[np.ndarray, ...] = ()


class RequestRing:
    """``count`` requests of one compiled model whose inputs are named ``input_names``.
    :meth:`start` fills an idle request's inputs and runs it (reading back the oldest running one
    first if none is idle), :meth:`lend` runs one on arrays as they lie; :meth:`finish` reads
    back every request started up to a given one."""

    def __init__(self, compiled_model, count: int, input_names: Sequence[str]):
        from openvino import Tensor  # imported already: the compiled model is OpenVINO's

        self._tensor = Tensor
        self._names = list(input_names)
        self._idle: deque[_Request] = deque()
        for _ in range(count):
            request = compiled_model.create_infer_request()
            own = [request.get_tensor(name) for name in self._names]
            self._idle.append(_Request(request, own, [tensor.data for tensor in own]))
        self._running: deque[_Running] = deque()
        self._started = 0
        #: requests started on lent arrays: inputs the scoring thread did not copy
        self.lent_count = 0

    def start(self, fill: Callable[[list[np.ndarray]], None], destination: np.ndarray) -> int:
        """Start inference on the inputs ``fill`` writes into the request's input arrays (in
        ``input_names``' order, every row of them: a micro-batch, padded); the first
        ``len(destination)`` rows of its output are copied into ``destination`` once it is read
        back. Returns its sequence number, for :meth:`finish`."""
        held = self._idle_request()
        try:
            if held.lent:  # its own tensors back, for fill to write into
                for name, tensor in zip(self._names, held.own, strict=True):
                    held.request.set_tensor(name, tensor)
                held.lent = False
            fill(held.inputs)
        except BaseException:
            self._idle.appendleft(held)
            raise
        return self._run(held, destination, ())

    def lend(self, arrays: Sequence[np.ndarray], destination: np.ndarray) -> int:
        """:meth:`start` on ``arrays`` as they lie (C-contiguous float32, each exactly the shape
        of its input): OpenVINO reads them in place. They are held until the request is read
        back; the caller must not change them before then. The request itself keeps the last
        arrays lent to it alive until it is next started (one variant's tensor per request:
        bounded, and counted in the peak memory bench/RESULTS.md measured)."""
        held = self._idle_request()
        try:
            held.lent = True  # from the first set_tensor on, its own tensors must be set back
            for name, array in zip(self._names, arrays, strict=True):
                held.request.set_tensor(name, self._tensor(array, shared_memory=True))
        except BaseException:
            self._idle.appendleft(held)
            raise
        self.lent_count += 1
        return self._run(held, destination, tuple(arrays))

    def _idle_request(self) -> _Request:
        if not self._idle:
            self._read_back_oldest()
        return self._idle.popleft()

    def _run(self, held: _Request, destination: np.ndarray, lent: tuple[np.ndarray, ...]) -> int:
        held.request.start_async()
        self._started += 1
        self._running.append(_Running(held, destination, self._started, lent))
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
