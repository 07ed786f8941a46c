"""scoring.stall: a scoring run that stops making progress ends, instead of holding its machine.

Each run is the real CLI on the smoke set, in a fresh process whose inference is made to hang
(the stand-in for a runtime that never returns), with a short --stall-seconds."""

from __future__ import annotations

import os
import subprocess
import time

from conftest import data_lines, run_cli, smoke_2d_args

#: inference that never returns, the GIL free (a runtime waiting on itself)
_HANG = """
import threading
from cnnscore.scoring.inference import ChunkInference
ChunkInference.collect = lambda self, pending: threading.Event().wait()
"""

#: inference that takes a second a chunk, and returns
_SLOW = """
import time
from cnnscore.scoring.inference import ChunkInference
_collect = ChunkInference.collect
def _slow(self, pending):
    time.sleep(1)
    return _collect(self, pending)
ChunkInference.collect = _slow
"""

#: model loading that never returns and holds the GIL (OpenVINO's start-up deadlock did):
#: libc's sleep through ctypes.PyDLL, which keeps the GIL during the call. At the start, so that
#: the GIL is held before the Python watchdog's time is up however slow the machine
_HANG_HOLDING_THE_GIL = """
import ctypes
from cnnscore.scoring import score
score.ChunkInference = lambda *args, **kwargs: ctypes.PyDLL(None).sleep(3600)
"""


def _run_with(prelude: str, args) -> tuple[subprocess.CompletedProcess, float]:
    """The CLI after ``prelude`` (its stacks are not cnnscore lines), and how long it took."""
    started = time.monotonic()
    result = run_cli(*args, prelude=prelude, only_cnnscore_lines=False, timeout=120)
    return result, time.monotonic() - started


def test_a_hung_run_ends_with_one_line_the_stacks_and_no_output(tmp_path):
    out = tmp_path / "out" / "scored.vcf.gz"
    out.parent.mkdir()
    result, seconds = _run_with(_HANG, smoke_2d_args(out, "--backend", "openvino",
                                                     "--stall-seconds", "5"))  # fmt: skip
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("cnnscore: error: no variant scored for "), lines[:3]
    assert lines[0].endswith("s (--stall-seconds 5): stopping; every thread's stack follows")
    assert any(line.startswith("Thread 0x") for line in lines)  # faulthandler's stacks
    assert any("in _score_chunks" in line for line in lines)  # where it hung
    assert os.listdir(out.parent) == []  # the partial output removed
    assert seconds < 60


def test_a_run_hung_holding_the_gil_is_ended_by_the_backstop(tmp_path):
    """No Python thread can run: faulthandler's C watchdog ends the process at 3 + 3 s. Its
    partial output keeps its temporary name; the output's own name never appears."""
    out = tmp_path / "out" / "scored.vcf.gz"
    out.parent.mkdir()
    result, seconds = _run_with(_HANG_HOLDING_THE_GIL, smoke_2d_args(
        out, "--backend", "openvino", "--stall-seconds", "3"))  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Timeout (0:00:06)!\n"), result.stderr[:200]
    assert "in run_score" in result.stderr
    assert "cnnscore: error: no variant scored" not in result.stderr
    assert not out.exists() and not (out.parent / "scored.vcf.gz.tbi").exists()
    assert seconds < 60


def test_a_slow_run_that_keeps_scoring_is_not_stopped(tmp_path):
    """Each chunk counts as progress: four chunks of one second each make a run longer than the
    3 s allowed, none of them takes that long, and the run finishes with its output."""
    out = tmp_path / "scored.vcf"
    args = smoke_2d_args(out, "--backend", "openvino", "--stall-seconds", "3",
                         "--inference-batch-size", "64")  # fmt: skip
    result, seconds = _run_with(_SLOW, args)
    assert result.returncode == 0, result.stderr
    assert len(data_lines(out)) == 252
    assert seconds > 4
