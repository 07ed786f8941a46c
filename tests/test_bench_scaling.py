"""bench/scaling.py and bench/device_kit.sh, which record issue #32's numbers, still run: the
benchmark on the smoke data at its smallest (one core, one thread count, one round), the kit's
usage and its refusal to run without a prepared kit."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO


def _smallest_run(*extra) -> subprocess.CompletedProcess:
    """The benchmark at its smallest: one core, one thread, the smoke calls once, one round."""
    result = subprocess.run(
        [sys.executable, "bench/scaling.py", "--cores", "1", "--repeat", "1", "--rounds", "1",
         "--threads", "1", *extra],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result


def _rows(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("| this tree |")]


def test_scaling_benchmark_prints_one_row_per_configuration(tmp_path):
    result = _smallest_run("--keep", tmp_path / "runs")
    rows = _rows(result)
    assert len(rows) == 1 and "| 1 process x 1 threads | 1 |" in rows[0], result.stdout
    cells = rows[0].split("|")
    speed, after_start_up = float(cells[4]), float(cells[14])
    assert 0 < speed < after_start_up  # the second leaves the start-up out
    assert cells[5].strip() == cells[15].strip() == "1.00x"
    # the scoring thread's and encoding's CPU over the wall after model load, on one core
    assert 0 < float(cells[10]) <= 1.05 and 0 < float(cells[11]) <= 1.05, rows[0]
    assert "252 calls x 1 = 252 records" in result.stdout
    assert "model: small_2d (GATK), 0." in result.stdout
    assert "logical CPUs usable" in result.stdout and "htslib inflating with" in result.stdout
    # each run said as it ended, and kept with its processes' metrics
    assert "scaling: round 1, 1 process x 1 threads, this tree: " in result.stderr
    (kept,) = [json.loads(line) for line in (tmp_path / "runs" / "runs.jsonl").open()]
    assert kept["run"] == "1 process x 1 threads" and kept["metrics"][0]["variants_scored"] == 252


def test_a_scaling_run_that_outlasts_its_limit_is_counted_as_failed_and_the_rest_go_on():
    """A hung process held the whole benchmark (no timeout), and one failure discarded every
    earlier result: on the lent 16-core machine, a call's whole budget."""
    result = _smallest_run("--run-timeout", "0.5")
    assert "FAILED still running after 0 s" in result.stderr  # 0.5 s, said to the second
    rows = _rows(result)
    assert len(rows) == 1 and "| 1 process x 1 threads | 1 | failed |" in rows[0], rows


def test_scaling_benchmark_runs_a_shipped_model_as_the_many_core_stand_in():
    result = _smallest_run("--model", "cnnscore_compact_2d")
    model = next(line for line in result.stdout.splitlines() if line.startswith("model: "))
    # what the runs computed: compact_2d's arithmetic, not small_2d's ~0.49 GFLOP per variant
    assert model.startswith("model: cnnscore_compact_2d, ")
    assert 0 < float(model.split(", ")[1].split()[0]) < 0.2, model
    rows = _rows(result)
    assert len(rows) == 1 and float(rows[0].split("|")[4]) > 0, result.stdout


def test_scaling_benchmark_refuses_more_threads_than_cores():
    result = subprocess.run(
        [sys.executable, "bench/scaling.py", "--cores", "1", "--threads", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0 and "--threads 2: only 1 cores here" in result.stderr


def test_device_kit_says_how_to_use_it_and_needs_a_prepared_kit(tmp_path):
    usage = subprocess.run(["bash", "bench/device_kit.sh"], cwd=REPO, capture_output=True,
                           text=True)  # fmt: skip
    assert usage.returncode == 2 and "usage: bench/device_kit.sh prepare" in usage.stderr
    copy = tmp_path / "repo"
    (copy / "bench").mkdir(parents=True)
    (copy / "bench" / "device_kit.sh").write_text((REPO / "bench" / "device_kit.sh").read_text())
    missing = subprocess.run(["bash", "bench/device_kit.sh", "run"], cwd=copy,
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 1 and "no .device-kit (prepare it, carry it)" in missing.stderr
