"""The fuzzed-input battery: real inputs, mutated, each run judged by what a user must be able to
rely on.

Inputs are cut from the smoke set (testdata/): 12 calls as a plain VCF and as bgzip + .tbi, the
reads around them as a BAM + .bai and as a CRAM + .crai (tests/fuzz_cram.py), the bgzip reference
with .fai/.gzi, GATK's small_2d as a .json/.hd5 pair, a Picard interval list, and for ``filter`` a
scored VCF with GIAB's truth VCF as the tranche resource. A case mutates one file
(:data:`MUTATORS`: truncation at a random offset, byte flips, dropped or repeated lines and
columns, header lines removed, contigs renamed; the .crai's lines; for the CRAM, a reference other
than the one it was written against) and runs the subcommand that reads it. Every case must end
one of these ways:

- **rejected**: exit 1, exactly one ``cnnscore: error:`` line, no other line that is not
  cnnscore's, and nothing left in the output folder;
- **same**: exit 0 and output identical to the unmutated run;
- **changed**, only where the mutated input is still valid and means something else, and then
  checked against what it means (:func:`judge`): a record line dropped or repeated gives the
  baseline without it or with it twice (required: these may not be rejected); a flipped byte in a
  VCF changes that one line of the output and no other; a mutated interval list scores a subset of
  the records, each exactly as in the run without intervals; a mutated model (``.json`` or
  ``.hd5``: GATK's format carries no checksum, so a changed weight is a different model) or truth
  resource (a different truth set moves the tranche cut-offs) may change the scores.

Never a traceback, a crash signal, a hang (``CASE_SECONDS``), another exit status, a second
error line, or a left-behind file. Cases run in long-lived worker processes that call
``cnnscore.cli.main.main`` in-process (no interpreter start per case); a worker that dies or hangs
is recorded against its case and replaced.

``python tests/fuzz_battery.py --cases 3000 --seed 1`` (``make fuzz``) runs a long battery and
prints the counts by input kind and outcome (``--commands score-cram`` draws only those cases);
``tests/test_fuzz.py`` runs a seeded few hundred.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gzip
import json
import os
import random
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from fuzz_cram import CRAM_TARGETS, build_cram, mutate_crai, other_reference

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "testdata" / "na12878_chr20_smoke"
MODEL = REPO / "python" / "cnnscore" / "models" / "gatk_small_2d"
CASE_SECONDS = 60
CALLS = 12
REGION = ("chr20", 9_999_000, 10_004_000)

# ------------------------------------------------------------------------------- the inputs


def build_base(folder: Path) -> Path:
    """The unmutated inputs, cut from the smoke set; returns ``folder``."""
    import pysam

    folder.mkdir(parents=True, exist_ok=True)
    pysam.set_verbosity(0)  # htslib's complaints about mutated files are the battery's business
    with gzip.open(SMOKE / "hc.gatk4.vcf.gz", "rt") as handle:
        lines = handle.read().splitlines(keepends=True)
    header = [line for line in lines if line.startswith("#")]
    records = [line for line in lines if not line.startswith("#")][:CALLS]
    (folder / "calls.vcf").write_text("".join(header + records))
    pysam.tabix_compress(str(folder / "calls.vcf"), str(folder / "calls.vcf.gz"), force=True)
    pysam.tabix_index(str(folder / "calls.vcf.gz"), preset="vcf", force=True)
    contig, start, end = REGION
    source = pysam.AlignmentFile(str(SMOKE / "NA12878.chr20_10M_10.1M.bam"))
    with source, pysam.AlignmentFile(str(folder / "reads.bam"), "wb", header=source.header) as sink:
        for read in source.fetch(contig, start, end):
            sink.write(read)
    pysam.index(str(folder / "reads.bam"))
    for suffix in ("", ".fai", ".gzi"):
        shutil.copy(SMOKE / f"ref.chr20.fa.gz{suffix}", folder / f"ref.fa.gz{suffix}")
    build_cram(folder, contig)
    shutil.copy(MODEL / "small_2d.json", folder / "model.json")
    shutil.copy(MODEL / "small_2d.hd5", folder / "model.hd5")
    positions = [int(line.split("\t")[1]) for line in records]
    with pysam.AlignmentFile(str(folder / "reads.bam")) as bam:
        sq = [f"@SQ\tSN:{n}\tLN:{bam.get_reference_length(n)}\n" for n in bam.references]
    # two intervals holding 3 and 4 of the calls
    intervals = [(positions[1], positions[3]), (positions[6], positions[9])]
    (folder / "calls.interval_list").write_text(
        "@HD\tVN:1.6\n" + "".join(sq)
        + "".join(f"{contig}\t{a}\t{b}\t+\t.\n" for a, b in intervals)
    )  # fmt: skip
    for suffix in ("", ".tbi"):
        shutil.copy(SMOKE / f"giab_truth.vcf.gz{suffix}", folder / f"truth.vcf.gz{suffix}")
    return folder


@dataclass(frozen=True)
class Command:
    """A subcommand run on one case folder ``{d}``; ``output`` is relative to it."""

    name: str
    argv: tuple[str, ...]
    output: str
    targets: tuple[str, ...]  # the files of the folder it reads that cases mutate


_SCORE = ("score", "-R", "{d}/ref.fa.gz", "-I", "{d}/reads.bam",
          "--architecture", "{d}/model.json", "--weights", "{d}/model.hd5", "--threads", "1",
          "--add-output-vcf-command-line", "false")  # fmt: skip
COMMANDS = (
    Command(
        "score",
        (*_SCORE, "-V", "{d}/calls.vcf", "-O", "{d}/out/scored.vcf"),
        "out/scored.vcf",
        (
            "calls.vcf",
            "reads.bam",
            "reads.bam.bai",
            "ref.fa.gz",
            "ref.fa.gz.fai",
            "ref.fa.gz.gzi",
            "model.json",
            "model.hd5",
        ),
    ),  # fmt: skip
    Command(
        "score-cram",
        (
            *(a.replace("reads.bam", "reads.cram") for a in _SCORE),
            "-V",
            "{d}/calls.vcf",
            "-O",
            "{d}/out/scored.vcf",
        ),
        "out/scored.vcf",
        CRAM_TARGETS,
    ),  # fmt: skip
    Command(
        "score-intervals",
        (
            *_SCORE,
            "-V",
            "{d}/calls.vcf.gz",
            "-L",
            "{d}/calls.interval_list",
            "-O",
            "{d}/out/scored.vcf",
        ),
        "out/scored.vcf",
        ("calls.vcf.gz", "calls.vcf.gz.tbi", "calls.interval_list"),
    ),  # fmt: skip
    Command(
        "filter",
        (
            "filter",
            "-V",
            "{d}/scored.vcf.gz",
            "--resource",
            "{d}/truth.vcf.gz",
            "--info-key",
            "CNN_2D",
            "--snp-tranche",
            "99.9",
            "--indel-tranche",
            "99.5",
            "--add-output-vcf-command-line",
            "false",
            "-O",
            "{d}/out/filtered.vcf",
        ),
        "out/filtered.vcf",
        ("truth.vcf.gz", "truth.vcf.gz.tbi", "scored.vcf.gz"),
    ),  # fmt: skip
)
TEXT_KINDS = {".vcf", ".interval_list", ".json", ".fai"}
BGZIP_TEXT = {"calls.vcf.gz", "truth.vcf.gz", "scored.vcf.gz"}  # mutated as text, recompressed

# ------------------------------------------------------------------------------- mutations


@dataclass
class Mutation:
    target: str
    how: str
    line: int | None = None  # the line changed, for text mutations
    header: bool = False  # that line is a header line
    detail: str = ""


def _split_lines(data: bytes) -> list[bytes]:
    """Lines with their newline, split at newlines only (not at a carriage return)."""
    parts = data.split(b"\n")
    return [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _is_header(line: bytes, target: str) -> bool:
    return line.startswith(b"#") or (target.endswith(".interval_list") and line.startswith(b"@"))


def mutate_text(data: bytes, target: str, rng: random.Random) -> tuple[bytes, Mutation]:
    lines = _split_lines(data)
    how = rng.choice(["truncate", "flip", "drop_line", "dup_line", "drop_column", "dup_column",
                      "drop_header_line", "rename_contig"])  # fmt: skip
    if how == "truncate":
        at = rng.randrange(len(data))
        return data[:at], Mutation(target, how, detail=f"at {at}")
    if how == "flip":
        at = rng.randrange(len(data))
        flipped = bytes([data[at] ^ rng.choice([1, 2, 4, 8, 16, 32, 64, 128])])
        index = data[:at].count(b"\n")
        mutation = Mutation(target, how, index, _is_header(lines[index], target), f"byte {at}")
        return data[:at] + flipped + data[at + 1 :], mutation
    headers = [i for i, line in enumerate(lines) if _is_header(line, target)]
    body = [i for i, line in enumerate(lines) if not _is_header(line, target)]
    if how == "drop_header_line" and headers:
        index = rng.choice(headers)
        return b"".join(lines[:index] + lines[index + 1 :]), Mutation(target, how, index, True)
    if how in ("drop_line", "dup_line", "drop_header_line"):
        how = "drop_line" if how == "drop_header_line" else how
        index = rng.randrange(len(lines))
        rest = lines[index + 1 :] if how == "drop_line" else lines[index:]
        header = _is_header(lines[index], target)
        return b"".join(lines[:index] + rest), Mutation(target, how, index, header)
    if how in ("drop_column", "dup_column") and body:
        index = rng.choice(body)
        fields = lines[index].rstrip(b"\n").split(b"\t")
        column = rng.randrange(len(fields))
        if how == "drop_column":
            del fields[column]
        else:
            fields.insert(column, fields[column])
        changed = b"\t".join(fields) + b"\n"
        mutation = Mutation(target, how, index, False, f"column {column}")
        return b"".join(lines[:index] + [changed] + lines[index + 1 :]), mutation
    # rename_contig (or a column mutation of a file without body lines)
    named = [i for i, line in enumerate(lines) if b"chr20" in line]
    if not named:
        return data[: len(data) // 2], Mutation(target, "truncate", detail="half")
    index = rng.choice(named)
    changed = lines[index].replace(b"chr20", rng.choice([b"20", b"chr20_alt", b"chrX"]), 1)
    mutation = Mutation(target, "rename_contig", index, _is_header(lines[index], target))
    return b"".join(lines[:index] + [changed] + lines[index + 1 :]), mutation


def mutate_binary(data: bytes, target: str, rng: random.Random) -> tuple[bytes, Mutation]:
    if rng.random() < 0.4:
        at = rng.randrange(len(data))
        return data[:at], Mutation(target, "truncate", detail=f"at {at}")
    flipped = bytearray(data)
    spots = sorted(rng.randrange(len(data)) for _ in range(rng.choice([1, 1, 2, 4])))
    for at in spots:
        flipped[at] ^= rng.choice([1, 2, 4, 8, 16, 32, 64, 128])
    return bytes(flipped), Mutation(target, "flip", detail=f"bytes {spots}")


def make_case(base: Path, folder: Path, command: Command, rng: random.Random) -> Mutation:
    """Lay out ``folder`` as ``base`` with one of the command's inputs mutated."""
    import pysam

    folder.mkdir(parents=True)
    (folder / "out").mkdir()
    for path in base.iterdir():
        os.link(path, folder / path.name)  # unmutated files shared; mutated ones rewritten
    target = rng.choice(command.targets)
    if target == "other-reference":
        return Mutation(target, "other_reference", detail=other_reference(
            base, folder, rng, _cram_span(base)))  # fmt: skip
    path = folder / target
    data = path.read_bytes()
    if target.endswith(".crai") and rng.random() < 0.6:
        mutated, how, line, detail = mutate_crai(data, rng)
        path.unlink()
        path.write_bytes(mutated)
        return Mutation(target, how, line, detail=detail)
    text_level = target in BGZIP_TEXT and rng.random() < 0.6
    if text_level:
        data = gzip.decompress(data)
    if text_level or path.suffix in TEXT_KINDS:
        mutated, mutation = mutate_text(data, target, rng)
    else:
        mutated, mutation = mutate_binary(data, target, rng)
    path.unlink()
    if not text_level:
        path.write_bytes(mutated)
        return mutation
    mutation.how = f"text:{mutation.how}"
    plain = folder / f"{target}.plain"
    plain.write_bytes(mutated)
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    index = folder / f"{target}.tbi"
    index.unlink()
    with contextlib.suppress(Exception):  # a mutated file that cannot be indexed goes without
        pysam.tabix_index(str(path), preset="vcf", force=True)
    return mutation


# ------------------------------------------------------------------------------- the runs


@dataclass
class Result:
    exit: int | None  # None: no exit (crash or hang)
    stderr: str = ""
    failure: str | None = None  # "traceback", "crash", "hang"
    detail: str = ""


def _cram_span(base: Path) -> tuple[int, int]:
    """0-based [start, end) of the reference the CRAM's containers cover (from its .crai)."""
    rows = [line.split(b"\t") for line in gzip.decompress((base / "reads.cram.crai").read_bytes())
            .splitlines()]  # fmt: skip
    return min(int(r[1]) - 1 for r in rows), max(int(r[1]) - 1 + int(r[2]) for r in rows)


def _worker() -> None:
    """Run the cases sent on stdin as JSON argv lists, in this process; answer on stdout."""
    from cnnscore.cli.main import main

    answers = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    for line in sys.stdin:
        argv = json.loads(line)
        with tempfile.TemporaryFile("w+") as captured:
            sys.stderr.flush()
            saved = os.dup(2)
            os.dup2(captured.fileno(), 2)
            failure, detail = None, ""
            try:
                status = main(argv)
            except SystemExit as stop:
                status = stop.code if isinstance(stop.code, int) else 2
            except BaseException:  # noqa: BLE001 - exactly what the battery looks for
                status, failure, detail = None, "traceback", traceback.format_exc(limit=-4)
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            stderr = captured.read()
        answers.write(json.dumps({"exit": status, "stderr": stderr, "failure": failure,
                                  "detail": detail}) + "\n")  # fmt: skip


class Worker:
    """A long-lived process that runs cases in-process; replaced when a case kills or hangs it."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
        env.pop("TF_CPP_MIN_LOG_LEVEL", None)
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip

    def run(self, argv: list[str], seconds: float = CASE_SECONDS) -> Result:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(argv) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], seconds)
        if not ready:
            self.process.kill()
            self.process.wait()
            return Result(None, failure="hang", detail=f"no answer in {seconds} s")
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            return Result(None, failure="crash", detail=f"worker ended with {code}")
        answer = json.loads(line)
        return Result(answer["exit"], answer["stderr"], answer["failure"], answer["detail"])

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.alive:
            assert self.process.stdin
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _argv(command: Command, folder: Path) -> list[str]:
    return [arg.replace("{d}", str(folder)) for arg in command.argv]


def _lines(text: str) -> list[str]:
    """Lines split at newlines only (str.splitlines also splits at form feeds and other
    separators that a byte flip can put inside a VCF line)."""
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


def _output_lines(path: Path) -> list[str]:
    return _lines(path.read_text())


def _records(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.startswith("#")]


# ------------------------------------------------------------------------------- judging


@dataclass
class Baseline:
    """The unmutated runs' outputs: per command, and the run of all calls without intervals."""

    outputs: dict[str, list[str]] = field(default_factory=dict)


def _a_changed_base_under_a_record(mutation: Mutation, error: str) -> bool:
    """The other reference changed a base that a VCF record's REF names: the REF mismatch is
    found first, and that line is as right as "another reference" (seed 2501, case 367)."""
    changed = re.findall(r"(\d+):[A-Z]>[A-Z]", mutation.detail or "")
    return "does not match the reference" in error and any(
        re.search(rf"record \S+:{position} ", error) for position in changed
    )


def judge(command: Command, mutation: Mutation, result: Result, folder: Path, base: Path,
          baseline: Baseline) -> tuple[str, str]:  # fmt: skip
    """(outcome, why): outcome is rejected/same/changed, or the name of a failure."""
    if result.failure:
        return result.failure, result.detail
    lines = result.stderr.splitlines()
    foreign = [line for line in lines if not line.startswith("cnnscore:")]
    errors = [line for line in lines if line.startswith("cnnscore: error:")]
    left = sorted(p.name for p in (folder / "out").iterdir())
    if result.exit == 1:
        if foreign or len(errors) != 1:
            return "unclear_error", result.stderr[-600:]
        if left:
            return "left_behind", f"{left}: {errors[0]}"
        if mutation.target == "other-reference" and "another reference" not in errors[0] \
                and not _a_changed_base_under_a_record(mutation, errors[0]):  # fmt: skip
            return "unclear_error", f"the other reference unsaid: {errors[0]}"
        if mutation.how.endswith(("drop_line", "dup_line")) and not mutation.header \
                and mutation.target in ("calls.vcf", "calls.vcf.gz"):  # fmt: skip
            return "wrongly_rejected", errors[0]
        return "rejected", errors[0]
    if result.exit != 0:
        return "bad_exit", f"exit {result.exit}: {result.stderr[-400:]}"
    if foreign or errors:
        return "unclear_success", result.stderr[-600:]
    output = folder / command.output
    written = {output.name, f"{output.name}.idx"}  # every output here is plain VCF, indexed
    if not output.exists() or set(left) - written:
        return "left_behind", f"exit 0, out/ holds {left}"
    out = _output_lines(output)
    base_out = baseline.outputs[command.name]
    if out == base_out:
        return "same", ""
    return _judge_changed(command, mutation, folder, base, baseline, out, base_out)


def _judge_changed(
    command: Command,
    mutation: Mutation,
    folder: Path,
    base: Path,
    baseline: Baseline,
    out: list[str],
    base_out: list[str],
) -> tuple[str, str]:
    target = mutation.target
    if target.startswith("model.") or target.startswith("truth.vcf.gz"):
        return "changed", "a different model or truth set"
    if target == "calls.interval_list":
        everything = set(_records(baseline.outputs["score"]))
        extra = [line for line in _records(out) if line not in everything]
        headers_same = [h for h in out if h.startswith("#")] == [
            h for h in base_out if h.startswith("#")
        ]
        if not extra and headers_same:
            return "changed", "a subset of the records, each as scored without intervals"
        return "silently_different", f"{len(extra)} records not as scored without intervals"
    if target == "scored.vcf.gz":
        return _judge_filtered(mutation, folder, base, out, base_out)
    if target in ("calls.vcf", "calls.vcf.gz"):
        return _judge_scored_calls(command, mutation, folder, base, out, base_out)
    return "silently_different", f"{mutation.how} of {target} changed the output"


def _as_given(scored: str) -> str:
    """The input line a scored record came from: its line less the CNN_2D key score added."""
    fields = scored.split("\t")
    info = [item for item in fields[7].split(";") if not item.startswith("CNN_2D=")]
    fields[7] = ";".join(info) or "."
    return "\t".join(fields)


def _judge_scored_calls(command: Command, mutation: Mutation, folder: Path, base: Path,
                        out: list[str], base_out: list[str]) -> tuple[str, str]:  # fmt: skip
    """score on mutated calls, record by record: every call the mutation left as it was is
    scored exactly as before (and, without intervals, none is lost; with them, the same ones are
    picked); a call the mutation changed may be scored (it is another call now) but changes
    nothing else; the header is the baseline's but for header lines the mutation changed."""
    read = gzip.open if mutation.target.endswith(".gz") else open
    with read(base / mutation.target, "rt") as handle:
        base_in = _lines(handle.read())
    with read(folder / mutation.target, "rt") as handle:
        given = _lines(handle.read())
    before = {_as_given(line): line for line in _records(base_out)}  # input line -> scored
    unchanged_in = {line for line in _records(base_in)}
    records = _records(out)
    came_from = [_as_given(line) for line in records]
    given_records = [line for line in given if not line.startswith("#")]
    if not _in_order(came_from, given_records):
        return "silently_different", "records that are not the calls given, in their order"
    for line, source in zip(records, came_from, strict=True):
        if source in unchanged_in and before.get(source, line) != line:
            return "silently_different", f"an unchanged call scored differently: {source[:60]}"
    kept = [line for line in given_records if line in unchanged_in]
    scored_kept = [source for source in came_from if source in unchanged_in]
    if command.name == "score" and scored_kept != kept:
        return "silently_different", "a call the mutation did not touch is missing"
    if command.name != "score" and scored_kept != [line for line in kept if line in before]:
        return "silently_different", "the intervals picked other unchanged calls"
    base_header = [line for line in base_out if line.startswith("#")]
    header = [line for line in out if line.startswith("#")]
    given_header = {line for line in given if line.startswith("#")}
    added = [line for line in header if line not in base_header and line not in given_header]
    lost = [line for line in base_header if line not in header and line in given_header]
    if added or lost:
        return "silently_different", f"header lines added {added[:1]} or lost {lost[:1]}"
    return "changed", "the calls not mutated scored as before, nothing lost"


def _in_order(items: list[str], sequence: list[str]) -> bool:
    """``items`` is a subsequence of ``sequence``."""
    rest = iter(sequence)
    return all(any(item == candidate for candidate in rest) for item in items)


def _unfiltered(lines: list[str]) -> list[str]:
    """Filter's output with what the tranche cut-offs decide masked: the FILTER column and the
    ##FILTER lines that quote the cut-offs."""
    kept = []
    for line in lines:
        if line.startswith("##FILTER"):
            continue
        if not line.startswith("#"):
            fields = line.split("\t")
            line = "\t".join(fields[:6] + ["?"] + fields[7:])
        kept.append(line)
    return kept


def _judge_filtered(mutation: Mutation, folder: Path, base: Path, out: list[str],
                    base_out: list[str]) -> tuple[str, str]:  # fmt: skip
    """filter on mutated scored calls: every record is a call it was given, unchanged but for
    its FILTER column (a dropped or repeated record moves the cut-offs, so any FILTER may
    change); a record dropped or repeated is dropped or repeated in the output."""
    with gzip.open(folder / mutation.target, "rt") as handle:
        given = [line for line in _lines(handle.read()) if not line.startswith("#")]
    records = _records(_unfiltered(out))
    if records == _records(_unfiltered(given)):
        return "changed", "the calls given, each with a FILTER from the new cut-offs"
    return "silently_different", f"{mutation.how}: the records are not the calls given"


FAILURES = {"traceback", "crash", "hang", "unreadable_output", "unclear_error", "left_behind",
            "wrongly_rejected", "bad_exit", "unclear_success", "silently_different"}  # fmt: skip

# ------------------------------------------------------------------------------- the battery


@dataclass
class Battery:
    seed: int
    cases: int
    workers: int = 2
    commands: tuple[Command, ...] = COMMANDS  # those the cases are drawn from
    counts: collections.Counter = field(default_factory=collections.Counter)
    failures: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def run(self, scratch: Path) -> Battery:
        import concurrent.futures

        started = time.monotonic()
        base = build_base(scratch / "base")
        pool = [Worker() for _ in range(self.workers)]
        baseline = self._baseline(base, scratch, pool[0])
        rng = random.Random(self.seed)
        plans = []
        for number in range(self.cases):
            command = rng.choice(self.commands)
            plans.append((number, command, random.Random(rng.random())))
        idle = list(pool)

        def one(plan) -> None:
            number, command, case_rng = plan
            folder = scratch / f"case-{number:05d}"
            mutation = make_case(base, folder, command, case_rng)
            worker = idle.pop()
            try:
                result = worker.run(_argv(command, folder))
                if not worker.alive:
                    worker = Worker()
            finally:
                idle.append(worker)
            try:
                outcome, why = judge(command, mutation, result, folder, base, baseline)
            except Exception:  # noqa: BLE001 - output the judge cannot read is a finding too
                outcome, why = "unreadable_output", traceback.format_exc(limit=-2)
            kind = mutation.target
            self.counts[(kind, outcome)] += 1
            if outcome in FAILURES:
                self.failures.append({"case": number, "command": command.name, "outcome": outcome,
                                      "mutation": vars(mutation), "why": why})  # fmt: skip
            else:
                shutil.rmtree(folder, ignore_errors=True)

        with concurrent.futures.ThreadPoolExecutor(self.workers) as threads:
            list(threads.map(one, plans))
        for worker in idle:
            worker.close()
        self.seconds = time.monotonic() - started
        return self

    def _baseline(self, base: Path, scratch: Path, worker: Worker) -> Baseline:
        baseline = Baseline()
        import pysam

        for command in COMMANDS:
            folder = scratch / f"baseline-{command.name}"
            folder.mkdir()
            (folder / "out").mkdir()
            for path in base.iterdir():
                os.link(path, folder / path.name)
            result = worker.run(_argv(command, folder), seconds=300)
            if result.exit != 0:
                raise RuntimeError(f"the unmutated {command.name} failed: {result}")
            baseline.outputs[command.name] = _output_lines(folder / command.output)
            if command.name == "score":  # filter's input: these scored calls, bgzipped
                scored = str(base / "scored.vcf.gz")
                pysam.tabix_compress(str(folder / command.output), scored)
                pysam.tabix_index(scored, preset="vcf")
        if baseline.outputs["score-cram"] != baseline.outputs["score"]:
            raise RuntimeError("the CRAM of the BAM's reads should score as the BAM does")
        everything = set(_records(baseline.outputs["score"]))
        subset = _records(baseline.outputs["score-intervals"])
        if not subset or not set(subset) <= everything or len(subset) == len(everything):
            raise RuntimeError("the interval list should pick some of the calls, as scored whole")
        return baseline

    def table(self) -> str:
        kinds = sorted({kind for kind, _ in self.counts})
        outcomes = sorted({outcome for _, outcome in self.counts})
        rows = [f"| input | {' | '.join(outcomes)} |", "|---" * (len(outcomes) + 1) + "|"]
        for kind in kinds:
            cells = " | ".join(str(self.counts.get((kind, o), 0)) for o in outcomes)
            rows.append(f"| {kind} | {cells} |")
        return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--commands", help="comma-separated names: draw cases from these only")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker()
        return 0
    with tempfile.TemporaryDirectory(prefix="cnnscore-fuzz-") as scratch:
        names = args.commands.split(",") if args.commands else [c.name for c in COMMANDS]
        commands = tuple(c for c in COMMANDS if c.name in names)
        battery = Battery(args.seed, args.cases, args.workers, commands).run(Path(scratch))
        print(f"fuzz battery: {args.cases} cases, seed {args.seed}, {args.workers} workers, "
              f"{battery.seconds:.0f} s, commands {','.join(names)}")  # fmt: skip
        print(battery.table())
        for failure in battery.failures:
            print(json.dumps(failure))
    return 1 if battery.failures else 0


if __name__ == "__main__":
    sys.exit(main())
