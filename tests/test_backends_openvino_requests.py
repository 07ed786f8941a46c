"""backends.openvino_requests: requests reused in turn, each read back into its own place."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

from cnnscore.backends.openvino_requests import RequestRing


def rows_times_two():
    """A compiled model of (2, 4) -> (2, 4): each row doubled."""
    given = ops.parameter([2, 4], np.float32, name="x")
    doubled = ops.multiply(given, ops.constant(np.float32(2.0)))
    return ov.Core().compile_model(ov.Model([doubled], [given]), "CPU")


def writes(x: np.ndarray):
    """A ``fill`` for RequestRing.start: ``x`` into the request's one input."""

    def fill(buffers: list[np.ndarray]) -> None:
        buffers[0][:] = x

    return fill


def test_each_request_is_read_back_into_its_destination_in_start_order():
    ring = RequestRing(rows_times_two(), 2, ["x"])
    inputs = [np.full((2, 4), i, np.float32) for i in range(5)]
    # request 3 holds one real row (the second is padding): only one row is copied
    destinations = [np.full((1 if i == 3 else 2, 4), np.nan, np.float32) for i in range(5)]
    sequences = [ring.start(writes(x), d) for x, d in zip(inputs, destinations, strict=True)]
    assert sequences == [1, 2, 3, 4, 5]
    # two requests: starting the third read back the first, the fourth the second, ...
    assert [bool(np.isnan(d).all()) for d in destinations] == [False, False, False, True, True]
    ring.finish(4)
    assert not np.isnan(destinations[3]).any() and np.isnan(destinations[4]).all()
    ring.finish(2)  # already read back: nothing to wait for
    ring.finish_all()
    for i, destination in enumerate(destinations):
        assert (destination == 2 * i).all()


def test_a_fill_that_fails_leaves_its_request_idle():
    """An input that cannot be written (here: the wrong shape) raises from start, and the ring
    still has all its requests: the next starts run and read back as before."""
    ring = RequestRing(rows_times_two(), 1, ["x"])
    with pytest.raises(ValueError):
        ring.start(writes(np.ones((3, 4), np.float32)), np.empty((2, 4), np.float32))
    destinations = [np.empty((2, 4), np.float32) for _ in range(2)]
    for i, destination in enumerate(destinations):
        ring.start(writes(np.full((2, 4), i + 1, np.float32)), destination)
    ring.finish_all()
    assert [float(d[0, 0]) for d in destinations] == [2.0, 4.0]


def test_lent_arrays_are_read_in_place_and_a_copied_start_after_them_reads_its_own():
    """lend runs a request on the caller's arrays as they lie and leaves them unchanged; a start
    on the same request afterwards runs on what its fill wrote, not on the array lent before."""
    ring = RequestRing(rows_times_two(), 1, ["x"])
    lent = np.arange(8, dtype=np.float32).reshape(2, 4)
    kept = lent.copy()
    first, second, third = (np.empty((2, 4), np.float32) for _ in range(3))
    ring.lend([lent], first)
    ring.start(writes(np.full((2, 4), 5, np.float32)), second)  # reads the first back
    ring.lend([lent + 1], third)
    ring.finish_all()
    np.testing.assert_array_equal(first, 2 * kept)
    np.testing.assert_array_equal(second, np.full((2, 4), 10, np.float32))
    np.testing.assert_array_equal(third, 2 * (kept + 1))
    np.testing.assert_array_equal(lent, kept)
    assert ring.lent_count == 2


def test_tensors_stored_at_their_bucket_height_are_read_in_place():
    """A chunk's variants that the encoder stored at their row bucket's height
    (inference.in_place_heights) go to OpenVINO as they lie, the rest are copied: the six bucket
    variants and the one at the dense model's full 128 rows read in place, the 70-read one
    copied, the tensors unchanged, the scores those of the same tensors copied."""
    from cnnscore.backends import backend_class
    from cnnscore.encode.compact import CompactTensors
    from cnnscore.encode.read_tensor import stored_height
    from cnnscore.scoring.inference import ChunkInference, in_place_heights
    from conftest import small_2d_network

    network, weights = small_2d_network()
    openvino = backend_class("openvino")
    heights = in_place_heights(openvino, network, depth_adaptive=True)
    assert heights == (16, 32, 40, 48, 56, 64)
    assert in_place_heights(backend_class("tensorflow"), network, True) == ()
    rng = np.random.default_rng(12)
    reads = np.array([0, 3, 20, 47, 60, 127, 9, 70])
    compact = [rng.random((r + 1, *network.tensor_shape[1:]), dtype=np.float32) for r in reads]
    stored = CompactTensors(compact).gather(128)
    padded = [np.empty((stored_height(r, 128, heights), *t.shape[1:]), np.float32)
              for r, t in zip(reads, compact, strict=True)]  # fmt: skip
    for index, tensor in enumerate(padded):
        stored.write(index, tensor[None])  # the rows after the reads repeat the empty one
    kept = [t.copy() for t in padded]
    annotations = rng.random((len(reads), network.annotation_count), dtype=np.float32)
    inference = ChunkInference(openvino, network, weights, 8, 2, "fp32", True, "dft")
    got = inference.predict(CompactTensors(padded), annotations, reads)
    assert inference.read_in_place() == int((reads <= 63).sum()) + 1 == 7
    copied = ChunkInference(openvino, network, weights, 8, 2, "fp32", True, "dft")
    expected = copied.predict(CompactTensors(compact), annotations, reads)
    assert copied.read_in_place() == 2  # unpadded, only 47 and 127 reads fill their model's rows
    np.testing.assert_array_equal(got, expected)
    for tensor, before in zip(padded, kept, strict=True):
        np.testing.assert_array_equal(tensor, before)


def test_the_backend_queues_more_requests_behind_each_stream():
    """A chunk of REQUESTS_PER_STREAM micro-batches per stream is all in flight when submit
    returns, none read back: a stream that finishes one takes the next without waiting for the
    scoring thread."""
    from cnnscore.backends import backend_class
    from cnnscore.backends.openvino_backend import REQUESTS_PER_STREAM
    from conftest import small_2d_network

    network, weights = small_2d_network()
    backend = backend_class("openvino")(network, weights, batch_size=2, threads=2)
    assert (backend.streams, backend.micro_batch) == (2, 1) and REQUESTS_PER_STREAM > 1
    count = 2 * REQUESTS_PER_STREAM
    rng = np.random.default_rng(5)
    tensors = rng.random((count, *network.tensor_shape), dtype=np.float32)
    annotations = rng.random((count, network.annotation_count), dtype=np.float32)
    handle = backend.submit([tensors, annotations])
    assert len(backend._requests._running) == count  # nothing waited for yet
    together = backend.collect(handle)
    one_by_one = np.concatenate([backend.predict([tensors[i : i + 1], annotations[i : i + 1]])
                                 for i in range(count)])  # fmt: skip
    np.testing.assert_array_equal(together, one_by_one)


def test_compact_tensors_are_copied_once_straight_into_the_requests(monkeypatch):
    """OpenVINO's requests take a chunk's compact tensors ungathered (encode.compact.Gathered):
    each variant is written once, into its request's own input tensor, never first into a batch
    array of its own; the scores equal those from gathered arrays."""
    from cnnscore.backends import backend_class
    from cnnscore.encode.compact import CompactTensors
    from cnnscore.scoring.inference import ChunkInference
    from conftest import small_2d_network

    network, weights = small_2d_network()
    rng = np.random.default_rng(11)
    rows = np.array([0, 3, 20, 47, 60, 127, 9])
    ragged = [rng.random((r + 1, *network.tensor_shape[1:]), dtype=np.float32) for r in rows]
    annotations = rng.random((len(rows), network.annotation_count), dtype=np.float32)
    inference = ChunkInference(backend_class("openvino"), network, weights, 8, 2, "fp32", True,
                               "dft")  # fmt: skip
    expected = np.concatenate([
        inference.dense.predict([CompactTensors([t]).at_height(128), annotations[i : i + 1]])
        for i, t in enumerate(ragged)
    ])  # fmt: skip

    def gathered_into_an_array(*args, **kwargs):
        raise AssertionError("a batch array was gathered")

    monkeypatch.setattr(CompactTensors, "at_height", gathered_into_an_array)
    got = inference.predict(CompactTensors(ragged), annotations, rows)
    assert len(inference.counts) >= 3  # several buckets and the dense model took part
    np.testing.assert_allclose(got, expected, atol=1e-5)


#: Eight threads set up a request ring each, at once, on a model that brings numpy in nowhere
#: (no constants), so that the rings' Tensor.data is the bindings' first use in the process unless
#: cnnscore's import of openvino made it first, as it must.
_RINGS_AT_ONCE = """
import threading
from cnnscore.backends.openvino_backend import _import_openvino
from cnnscore.backends.openvino_requests import RequestRing

ov = _import_openvino()
import openvino.opset13 as ops

given = ops.parameter([1, 4], ov.Type.f32, name="x")
compiled = ov.Core().compile_model(ov.Model([ops.relu(given)], [given]), "CPU")
barrier = threading.Barrier(8)

def ring():
    barrier.wait()
    RequestRing(compiled, 2, ["x"])

threads = [threading.Thread(target=ring) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("set up")
"""


def test_request_rings_set_up_in_parallel_threads_never_deadlock():
    """OpenVINO's bindings deadlock when two threads make their first use at once (bucket models
    set up in parallel, read back from the compiled cache: a scoring run hung for good). Without
    cnnscore's first use at import, one of ten fresh processes running this hung in each of three
    tries (the 2nd, 7th, 7th); with it, ten must all finish."""
    for attempt in range(10):
        try:
            result = subprocess.run([sys.executable, "-c", _RINGS_AT_ONCE], capture_output=True,
                                    text=True, timeout=60)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise AssertionError(f"process {attempt + 1} of 10 hung setting up its rings") from None
        assert result.returncode == 0 and result.stdout.strip() == "set up", result.stderr
