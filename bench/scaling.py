"""How scoring scales with cores: one process at 1..N threads against k processes over k shards on
the same N cores, side by side in one run, with start-up time; the machine described.

Each run is a fresh ``cnnscore score`` (default path: small_2d, OpenVINO fp32, the compiled
encoder) pinned with ``taskset`` to the cores it is given. The input is the smoke set
(testdata/, real NA12878 reads) with every record repeated ``--repeat`` times, which lengthens a
run without more reads; shards are contiguous slices of it. Configurations are interleaved over
``--rounds`` and the median reported, since these machines swing over minutes. For each run the
metrics JSON gives model load (start-up), encoding, the time inference waited for encoding,
inference, and how busy the scoring thread and encoding kept their threads (CPU time over the
wall time after model load): one process's Python threads share one GIL, so a share near 1 says
which of them caps it on many cores.

Usage: .venv/bin/python bench/scaling.py [--repeat 20] [--rounds 3] [--cores N]
       [--threads 2,4,8]  (the thread counts of the one-process runs, N always among them, as
                           the shards' yardstick; default 1..N)
       [--also-inline]  (also one process per thread count with encoding in the scoring thread)
       [--compare-with DIR]  (every configuration also run with the cnnscore package under
                              DIR/python, e.g. a worktree of an earlier commit, interleaved)
       [--warm-cache]  (also one process on all cores with a compiled-model cache that an
                        untimed run filled: the start-up of a machine that has scored before)
       [--model cnnscore_compact_2d]  (a shipped model instead of small_2d: compact_2d needs
                        ~1/20 of its arithmetic, so on 2 cores the scoring and encoder threads
                        carry the share of the run that small_2d gives them on ~16: a stand-in
                        for many cores where none is at hand)
       [--keep DIR]  (each run's metrics JSON, and one JSON line per run in DIR/runs.jsonl,
                      written as each run ends: what a run cut short by a time limit keeps)
       [--run-timeout S]  (a run still going after S seconds, default 300, is stopped and
                           counted as failed; the others go on)

Each row gives two rates: end to end (the issue's: the wall time from the processes' start,
interpreter and model compilation included) and after start-up (each process's variants over
its wall time less its model load, summed over the processes): a short input on many cores is
mostly start-up, which the first rate counts and the second leaves out.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from benchmark import machine

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "testdata" / "na12878_chr20_smoke"
#: named on every command line: an older tree's default 2D model may be another (before #30)
SMALL_2D = REPO / "python" / "cnnscore" / "models" / "gatk_small_2d"


class Config(NamedTuple):
    """One configuration: its row label, the cores it is pinned to, how many processes share
    them, encoding in the scoring thread, a compiled-model cache filled by an earlier run."""

    label: str
    cores: list[int]
    processes: int
    inline: bool = False
    warm: bool = False


def repeated_vcf(folder: Path, repeat: int, shards: int) -> list[Path]:
    """The smoke calls, each ``repeat`` times, as ``shards`` contiguous plain VCFs."""
    with gzip.open(SMOKE / "hc.gatk4.vcf.gz", "rt") as handle:
        lines = handle.read().splitlines(keepends=True)
    header = [line for line in lines if line.startswith("#")]
    records = [line for line in lines if not line.startswith("#") for _ in range(repeat)]
    size = -(-len(records) // shards)
    paths = []
    for index in range(shards):
        path = folder / f"calls-{shards}-{index}.vcf"
        path.write_text("".join(header + records[index * size : (index + 1) * size]))
        paths.append(path)
    return paths


def score_command(
    vcf: Path, output: Path, threads: int, inline: bool, cache: str | None, model: str | None = None
) -> list[str]:
    """``cache``: --compiled-cache's value (None: an older tree without the flag); ``model``: a
    shipped model's name, else GATK's small_2d."""
    small_2d = ["--architecture", str(SMALL_2D / "small_2d.json"),
                "--weights", str(SMALL_2D / "small_2d.hd5")]  # fmt: skip
    chosen = ["--model", model] if model else small_2d
    command = [
        sys.executable, "-m", "cnnscore", "score", "-V", str(vcf),
        "-R", str(SMOKE / "ref.chr20.fa.gz"), "-I", str(SMOKE / "NA12878.chr20_10M_10.1M.bam"),
        "--tensor-type", "read_tensor", *chosen, "-O", str(output), "--threads", str(threads),
        "--metrics-json", str(output.with_suffix(".json")),
    ]  # fmt: skip
    if cache is not None:
        command += ["--compiled-cache", cache]
    return command + (["--encode-workers", "0"] if inline else [])


def run(
    folder: Path,
    cores: list[int],
    processes: int,
    inline: bool,
    vcfs: list[Path],
    code: str,
    cache: str = "off",
    model: str | None = None,
    timeout: float = 300.0,
) -> dict:
    """k processes, each on its own len(cores)/k cores with as many threads, one shard each;
    ``code``: a folder holding the cnnscore package to run instead of this one ("" = this).
    ``cache``: the compiled-model cache, off unless a configuration asks for a warm one (a fresh
    Terra VM has none); an older tree is run without the flag, but with the variable that sets
    it (a tree from before the flag ignores it; one after it, without this, would use the user's
    cache). A process that fails or outlasts ``timeout`` makes the run ``{"failed": why}``."""
    env = dict(os.environ, CNNSCORE_COMPILED_CACHE=cache)
    if code:  # ahead of whatever else the path holds (a machine's packages: bench/device_kit.sh)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (code, env.get("PYTHONPATH")) if p)
    per = len(cores) // processes
    started = time.monotonic()
    running = []
    for index in range(processes):
        mine = ",".join(str(c) for c in cores[index * per : (index + 1) * per])
        output = folder / f"out-{processes}-{index}.vcf"
        flag = None if code else cache
        scoring = score_command(vcfs[index], output, per, inline, flag, model)
        if not code:  # a hung run ends itself (an older tree may not know the flag)
            scoring += ["--stall-seconds", str(max(30, int(timeout / 2)))]
        command = ["taskset", "-c", mine, *scoring]
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
        running.append((process, output))
    metrics, failed = [], None
    for process, output in running:
        try:
            _, stderr = process.communicate(timeout=max(1.0, started + timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
            failed = failed or f"still running after {timeout:.0f} s: {stderr[-2000:]}"
            continue
        if process.returncode != 0:
            failed = failed or f"exit {process.returncode}: {stderr[-2000:]}"
            continue
        metrics.append(json.loads(output.with_suffix(".json").read_text()))
    if failed:
        return {"failed": failed}
    wall = time.monotonic() - started
    variants = sum(m["variants_scored"] for m in metrics)

    def busy(key: str) -> float | None:
        """A thread's CPU time over the wall time after model load, per process (an older tree
        does not report it)."""
        if any(key not in m for m in metrics):
            return None
        return statistics.mean(
            m[key] / max(m["wall_seconds"] - m["model_load_seconds"], 1e-9) for m in metrics
        )

    return {
        "variants_per_second": variants / wall,
        "after_start_up": sum(
            m["variants_scored"] / max(m["wall_seconds"] - m["model_load_seconds"], 1e-9)
            for m in metrics
        ),
        "wall": wall,
        "model_load": statistics.mean(m["model_load_seconds"] for m in metrics),
        "encode": statistics.mean(m["encode_seconds"] for m in metrics),
        "encode_wait": statistics.mean(m["encode_wait_seconds"] for m in metrics),
        "inference": statistics.mean(m["inference_seconds"] for m in metrics),
        "gflop": statistics.mean(m.get("gflop_per_variant", 0.0) for m in metrics),
        "scoring_busy": busy("scoring_thread_cpu_seconds"),
        "encoder_busy": busy("encode_cpu_seconds"),
        "encoding": metrics[0].get("encoding", "?"),
        "compiled_cache": metrics[0].get("compiled_cache", "none"),
        "metrics": metrics,
    }


def _counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",")]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("thread counts are positive integers, e.g. 2,4,8,16")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--also-inline", action="store_true")
    parser.add_argument("--compare-with", default=None)
    parser.add_argument("--warm-cache", action="store_true")
    parser.add_argument("--threads", default=None, type=_counts)
    parser.add_argument("--model", default=None)
    parser.add_argument("--keep", default=None, type=Path)
    parser.add_argument("--run-timeout", default=300.0, type=float)
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    codes = {"": "this tree"}
    if args.compare_with:
        other = Path(args.compare_with).resolve() / "python"
        if not (other / "cnnscore" / "__init__.py").is_file():  # else this tree, measured twice
            raise SystemExit(f"--compare-with {args.compare_with}: no python/cnnscore/ in it "
                             "(give the checkout's root)")  # fmt: skip
        codes[str(other)] = f"{args.compare_with}"
    cores = sorted(os.sched_getaffinity(0))[: args.cores]
    n = len(cores)
    configs: list[Config] = []
    for threads in sorted(set(args.threads) | {n}) if args.threads else range(1, n + 1):
        if threads > n:
            raise SystemExit(f"--threads {threads}: only {n} cores here")
        configs.append(Config(f"1 process x {threads} threads", cores[:threads], 1))
        if args.also_inline and threads > 1:
            configs.append(Config(f"1 process x {threads} threads, encoding inline",
                                  cores[:threads], 1, inline=True))  # fmt: skip
    if args.warm_cache:
        configs.append(Config(f"1 process x {n} threads, warm compiled-model cache", cores, 1,
                              warm=True))  # fmt: skip
    for processes in range(2, n + 1):
        if n % processes == 0:
            configs.append(Config(f"{processes} processes x {n // processes} threads", cores,
                                  processes))  # fmt: skip
    results: dict[tuple[str, str], list[dict]] = {
        (config.label, code): [] for config in configs for code in codes
    }
    with tempfile.TemporaryDirectory(prefix="cnnscore-scaling-") as scratch:
        folder = Path(scratch)
        inputs = {k: repeated_vcf(folder, args.repeat, k) for k in {c.processes for c in configs}}
        total = sum(1 for line in inputs[1][0].read_text().splitlines() if line[:1] != "#")
        cache = str(folder / "compiled-cache")
        if args.warm_cache:  # one untimed run fills it
            run(folder, cores, 1, False, inputs[1], "", cache, args.model)
        for round_ in range(args.rounds):
            for config in configs:
                for code in codes:
                    if config.warm and code:
                        continue  # an older tree has no cache to warm
                    result = run(
                        folder,
                        config.cores,
                        config.processes,
                        config.inline,
                        inputs[config.processes],
                        code,
                        cache if config.warm else "off",
                        args.model,
                        args.run_timeout,
                    )
                    _report_run(args.keep, round_, config.label, codes[code], result)
                    if "failed" not in result:
                        results[(config.label, code)].append(result)
    print(f"machine: {machine()}")
    first = next((runs[0] for (_, code), runs in results.items() if not code and runs), None)
    gflop = f"{first['gflop']:.3f}" if first else "?"  # every run of this tree failed
    print(f"model: {args.model or 'small_2d (GATK)'}, {gflop} GFLOP per variant as computed "
          "(this tree)")  # fmt: skip
    print(f"input: the smoke set's 252 calls x {args.repeat} = {total} records; "
          f"median of {args.rounds} rounds, configurations interleaved; compiled-model cache off "
          "unless said")  # fmt: skip
    print("| code | run | cores | variants/s | vs 1 process, same cores, this tree | "
          "model load s | encode s | inference waited for encoding s | inference s | "
          "scoring thread busy | encoding busy | encoding | compiled cache | "
          "variants/s after start-up | vs 1 process, after start-up |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    by_label = {config.label: config for config in configs}
    yardsticks = {
        (len(by_label[label].cores), key): statistics.median(r[key] for r in runs)
        for (label, code), runs in results.items()
        if not code and runs and by_label[label].processes == 1 and not by_label[label].inline
        and not by_label[label].warm
        for key in ("variants_per_second", "after_start_up")
    }  # fmt: skip

    def versus(runs: list[dict], key: str, cores: int) -> str:
        yardstick = yardsticks.get((cores, key))
        return f"{statistics.median(r[key] for r in runs) / yardstick:.2f}x" if yardstick else "-"

    for (label, code), runs in results.items():
        cores = len(by_label[label].cores)
        if not runs:
            print(f"| {codes[code]} | {label} | {cores} | failed | - | - | - | - | - | - | - | - "
                  "| - | - | - |")  # fmt: skip
            continue
        speed = statistics.median(r["variants_per_second"] for r in runs)
        steady = statistics.median(r["after_start_up"] for r in runs)
        print(f"| {codes[code]} | {label} | {cores} | {speed:.0f} | "
              f"{versus(runs, 'variants_per_second', cores)} | "
              f"{statistics.median(r['model_load'] for r in runs):.2f} | "
              f"{statistics.median(r['encode'] for r in runs):.2f} | "
              f"{statistics.median(r['encode_wait'] for r in runs):.2f} | "
              f"{statistics.median(r['inference'] for r in runs):.2f} | "
              f"{_share(runs, 'scoring_busy')} | {_share(runs, 'encoder_busy')} | "
              f"{runs[0]['encoding']} | {runs[0]['compiled_cache']} | {steady:.0f} | "
              f"{versus(runs, 'after_start_up', cores)} |")  # fmt: skip


def _report_run(keep: Path | None, round_: int, label: str, code: str, result: dict) -> None:
    """Say each run as it ends (stderr), and with ``--keep`` append it to runs.jsonl with its
    processes' metrics: a call cut short by its time limit keeps the runs done."""
    if "failed" in result:
        print(f"scaling: round {round_ + 1}, {label}, {code}: FAILED {result['failed']}",
              file=sys.stderr)  # fmt: skip
    else:
        print(f"scaling: round {round_ + 1}, {label}, {code}: "
              f"{result['variants_per_second']:.0f} variants/s "
              f"({result['after_start_up']:.0f} after start-up)", file=sys.stderr)  # fmt: skip
    if keep is not None:
        line = {"round": round_ + 1, "run": label, "code": code, **result}
        with open(keep / "runs.jsonl", "a") as handle:
            handle.write(json.dumps(line) + "\n")


def _share(runs: list[dict], key: str) -> str:
    """The median of a thread's busy share over the rounds, or '-' where not reported."""
    values = [r[key] for r in runs if r[key] is not None]
    return f"{statistics.median(values):.2f}" if values else "-"


if __name__ == "__main__":
    main()
