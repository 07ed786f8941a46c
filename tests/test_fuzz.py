"""The fuzzed-input battery (tests/fuzz_battery.py) with a fixed seed: a few hundred mutated
inputs, none of which may end in a traceback, a crash, a hang, an unclear error, a file left
behind or an output that is silently different. ``make fuzz`` runs thousands (bench/RESULTS.md)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

from fuzz_battery import COMMANDS, Baseline, Battery, Mutation, Result, judge

SEED = 20261204
CASES = 180


def test_the_battery_finds_nothing_silently_wrong(tmp_path):
    battery = Battery(SEED, CASES, workers=2).run(tmp_path)
    print(battery.table())
    assert not battery.failures, json.dumps(battery.failures[:5], indent=1)
    assert {kind for kind, _ in battery.counts} == {t for c in COMMANDS for t in c.targets}
    assert {"rejected", "same", "changed"} <= {outcome for _, outcome in battery.counts}
    assert {"rejected", "same"} <= {o for k, o in battery.counts if k == "other-reference"}


HEADER = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
CALLS = [f"chr20\t{100 + i}\t.\tA\tG\t50\t.\tDP={i}" for i in range(3)]


def _scored(line: str, score: str) -> str:
    return f"{line};CNN_2D={score}"


def _case(tmp_path: Path, mutated: list[str], out: list[str] | None) -> Path:
    base, folder = tmp_path / "base", tmp_path / "case"
    shutil.rmtree(folder, ignore_errors=True)
    for path in (base, folder / "out"):
        path.mkdir(parents=True, exist_ok=True)
    (base / "calls.vcf").write_text("\n".join(HEADER + CALLS) + "\n")
    (folder / "calls.vcf").write_text("\n".join(HEADER + mutated) + "\n")
    if out is not None:
        (folder / "out" / "scored.vcf").write_text("\n".join(out) + "\n")
    return folder


def test_the_judge_flags_each_way_of_going_wrong(tmp_path):
    """The oracle can fail: each fault, fabricated, is named as such."""
    score = COMMANDS[0]
    baseline = Baseline({"score": HEADER + [_scored(c, "1.000") for c in CALLS]})
    dropped = Mutation("calls.vcf", "drop_line", line=3)  # the second call
    one_error = "cnnscore: error: calls.vcf: record 2: bad\n"

    def outcome(mutated, out, result):
        folder = _case(tmp_path, mutated, out)
        return judge(score, dropped, result, folder, tmp_path / "base", baseline)[0]

    rest = [CALLS[0], CALLS[2]]
    good = HEADER + [_scored(CALLS[0], "1.000"), _scored(CALLS[2], "1.000")]
    assert outcome(rest, good, Result(0)) == "changed"
    rescored = HEADER + [_scored(CALLS[0], "1.000"), _scored(CALLS[2], "2.000")]
    assert outcome(rest, rescored, Result(0)) == "silently_different"
    lost = HEADER + [_scored(CALLS[0], "1.000")]
    assert outcome(rest, lost, Result(0)) == "silently_different"
    assert outcome(rest, None, Result(1, one_error)) == "wrongly_rejected"
    assert outcome(rest, good, Result(1, one_error)) == "left_behind"
    assert outcome(rest, None, Result(1, one_error * 2)) == "unclear_error"
    assert outcome(rest, None, Result(1, "Traceback (most recent call last):\n")) == (
        "unclear_error"
    )
    assert outcome(rest, None, Result(None, failure="hang")) == "hang"
    assert outcome(rest, None, Result(None, failure="crash")) == "crash"
    assert outcome(rest, good, Result(0, "[W::vcf_parse] noise\n")) == "unclear_success"


def test_a_corrupt_bam_block_is_one_line(tmp_path):
    """Found by the battery (seed 1, case 46): two flipped bytes in a BAM block made the read
    fail and then pysam's close() fail too ("Closing failed"), whose traceback hid the first
    error. The same close() raised the TimeoutError of issue #34's storage endpoint that went
    away mid-run."""
    from fuzz_battery import COMMANDS, Worker, _argv, build_base

    base = build_base(tmp_path / "base")
    data = bytearray((base / "reads.bam").read_bytes())
    for at, mask in ((34208, 0x10), (63783, 0x04)):
        data[at] ^= mask
    (base / "reads.bam").write_bytes(bytes(data))
    (base / "out").mkdir()
    worker = Worker()
    try:
        result = worker.run(_argv(COMMANDS[0], base))
    finally:
        worker.close()
    assert result.failure is None, result.detail
    assert result.exit == 1
    assert result.stderr.startswith("cnnscore: error: ") and result.stderr.count("\n") == 1
    assert "reads.bam" in result.stderr
    assert not list((base / "out").iterdir())


def _crai_lines(lines: list[bytes], how: str) -> list[bytes]:
    if how == "first line dropped":
        return lines[1:]
    if how == "first container as unplaced":
        return [b"-1" + lines[0][lines[0].index(b"\t") :], *lines[1:]]
    return [lines[1], lines[0], *lines[2:]]  # the first two lines swapped


def test_a_crai_that_misses_a_contigs_first_container_is_refused(tmp_path):
    from fuzz_battery import COMMANDS, Worker, _argv, build_base

    base = build_base(tmp_path / "base")
    lines = gzip.decompress((base / "reads.cram.crai").read_bytes()).splitlines(keepends=True)
    score_cram = next(c for c in COMMANDS if c.name == "score-cram")
    worker = Worker()
    try:
        for how in ("first line dropped", "first container as unplaced", "lines swapped"):
            (base / "reads.cram.crai").write_bytes(gzip.compress(b"".join(_crai_lines(lines, how))))
            shutil.rmtree(base / "out", ignore_errors=True)
            (base / "out").mkdir()
            result = worker.run(_argv(score_cram, base))
            assert result.failure is None, result.detail
            assert result.exit == 1, f"{how}: {result.stderr}"
            assert result.stderr.startswith("cnnscore: error: ") and result.stderr.count("\n") == 1
            assert "reads.cram" in result.stderr
            assert not list((base / "out").iterdir())
    finally:
        worker.close()
