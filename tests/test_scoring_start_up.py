"""Start-up: encoding beside inference waits for a core that compiling the models leaves free.

On two cores the encoder thread started at once took a share of the compilation's CPU: the
model's start-up (``model_load_seconds``) grew by the encoding done meanwhile, which the cores
would have done anyway (bench/RESULTS.md, 2026-12-07). These tests run GATK's small_2d through
the real OpenVINO backend (a dense model and six row buckets, seven compilations) and the real
read-ahead thread.
"""

from __future__ import annotations

import threading
import time

import pytest

from cnnscore.backends import backend_class
from cnnscore.read_ahead import ReadAhead
from cnnscore.scoring.inference import ChunkInference
from conftest import small_2d_network


class _Watched:
    """Compilations started and finished so far, and their count each time a core was said free."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = self.finished = 0
        self.freed_at: list[tuple[int, int]] = []

    def free(self) -> None:
        with self.lock:
            self.freed_at.append((self.started, self.finished))


def _watched_openvino(watched: _Watched):
    openvino = backend_class("openvino")

    class WatchedOpenVINO(openvino):  # the real backend, its compilations counted
        def __init__(self, *args, **kwargs):
            with watched.lock:
                watched.started += 1
            try:
                super().__init__(*args, **kwargs)
            finally:
                with watched.lock:
                    watched.finished += 1

    return WatchedOpenVINO


@pytest.fixture(scope="module")
def small_2d():
    return small_2d_network()


def test_on_two_threads_a_core_is_free_once_the_last_model_has_started(small_2d):
    network, weights = small_2d
    watched = _Watched()
    inference = ChunkInference(_watched_openvino(watched), network, weights, 8, 2, "fp32",
                               depth_adaptive=True, on_core_free=watched.free)  # fmt: skip
    models = 1 + len(inference.buckets)
    assert models == 7 and watched.finished == models
    started, finished = watched.freed_at[0]
    # when one of the two threads had no model left: every model started, at most one still
    # compiling (the other thread's)
    assert started == models and finished >= models - 1, watched.freed_at


def test_where_compiling_leaves_cores_idle_from_the_start_encoding_starts_at_once(small_2d):
    network, weights = small_2d
    watched = _Watched()
    ChunkInference(_watched_openvino(watched), network, weights, 8, 16, "fp32",
                   depth_adaptive=True, on_core_free=watched.free)  # fmt: skip
    assert watched.freed_at[0] == (0, 0), watched.freed_at  # 7 compilations on 16 threads


def test_one_compilation_at_a_time_leaves_a_core_free_from_the_start(small_2d):
    network, weights = small_2d
    watched = _Watched()
    ChunkInference(_watched_openvino(watched), network, weights, 8, 2, "fp32",
                   depth_adaptive=False, on_core_free=watched.free)  # fmt: skip
    assert watched.freed_at[0] == (0, 0), watched.freed_at


def _pulled(log: list[int], count: int):
    for item in range(count):
        log.append(item)
        yield item


def test_a_held_read_ahead_takes_nothing_until_started():
    log: list[int] = []
    ahead = ReadAhead(_pulled(log, 5), depth=1, name="test-held", held=True)
    time.sleep(0.2)
    assert log == []  # nothing taken while held
    ahead.start()
    ahead.start()  # idempotent
    deadline = time.monotonic() + 10
    while not log and time.monotonic() < deadline:
        time.sleep(0.01)
    assert log[:1] == [0]
    assert list(ahead) == [0, 1, 2, 3, 4]
    assert ahead.close() and not ahead.close()


def test_a_held_read_ahead_starts_when_asked_for_an_item_and_closes_unstarted():
    log: list[int] = []
    ahead = ReadAhead(_pulled(log, 3), depth=1, name="test-held", held=True)
    assert next(ahead) == 0  # asking starts it: a caller that never calls start() still runs
    ahead.close()
    never: list[int] = []
    unstarted = ReadAhead(_pulled(never, 3), depth=1, name="test-held", held=True)
    assert unstarted.close()  # no thread to join, no hang
    unstarted.start()  # closed: stays unstarted
    time.sleep(0.1)
    assert never == []
