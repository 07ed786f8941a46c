"""backends.openvino_requests: requests reused in turn, each read back into its own place."""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from cnnscore.backends.openvino_requests import RequestRing


def rows_times_two():
    """A compiled model of (2, 4) -> (2, 4): each row doubled."""
    given = ops.parameter([2, 4], np.float32, name="x")
    doubled = ops.multiply(given, ops.constant(np.float32(2.0)))
    return ov.Core().compile_model(ov.Model([doubled], [given]), "CPU")


def test_each_request_is_read_back_into_its_destination_in_start_order():
    ring = RequestRing(rows_times_two(), 2)
    inputs = [np.full((2, 4), i, np.float32) for i in range(5)]
    # request 3 holds one real row (the second is padding): only one row is copied
    destinations = [np.full((1 if i == 3 else 2, 4), np.nan, np.float32) for i in range(5)]
    sequences = [ring.start({"x": x}, d) for x, d in zip(inputs, destinations, strict=True)]
    assert sequences == [1, 2, 3, 4, 5]
    # two requests: starting the third read back the first, the fourth the second, ...
    assert [bool(np.isnan(d).all()) for d in destinations] == [False, False, False, True, True]
    ring.finish(4)
    assert not np.isnan(destinations[3]).any() and np.isnan(destinations[4]).all()
    ring.finish(2)  # already read back: nothing to wait for
    ring.finish_all()
    for i, destination in enumerate(destinations):
        assert (destination == 2 * i).all()
