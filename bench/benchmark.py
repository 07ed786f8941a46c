"""Benchmark every backend x precision on the same input, side by side, in one run.

Each configuration scores the same VCF end to end (VCF -> VCF, model load included) in a fresh
process; configurations are interleaved over --rounds and the median is reported, because these
machines swing by up to 2x over minutes and only same-run ratios mean anything. Scores of every
configuration are compared with the `tensorflow` fp32 baseline of the same round.

Usage (after bench/build_data.sh):
  .venv/bin/python bench/benchmark.py [--records 2000] [--rounds 2] [--tensor-type read_tensor]
      [--configs tensorflow:fp32 tensorflow:fp32:dense openvino:bf16 openvino-tensorflow:fp32 ...]
      [--models gatk compact]
--models picks the models scored: GATK's (small_2d, shipped in the package and the default with
no model given, or a random-weight stand-in of its 1D architecture) and/or cnnscore's compact
model for the tensor type (opt-in by name); every configuration runs with
each, interleaved, scores are compared within a model, speed against the first model's tensorflow.
openvino-tensorflow (and openvino-tensorflow-off, the same image with OPENVINO_TF_DISABLE=1) run
in the cnnscore-ovtf:local image (make image) under podman. A config's third field holds modes
joined by "+": "dense" (no depth-adaptive buckets), "direct" (convolutions evaluated directly, not
as DFT matrix products) and "python-encoder" (the reference Python read encoder instead of the
compiled one), e.g. openvino:fp32:dense+direct (the dense baseline before both).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from cnnscore.backends import cpu as instruction_sets

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = Path(os.environ.get("CNNSCORE_BENCH_CACHE", Path.home() / ".cache" / "cnnscore-bench"))
GATK_JSONS = REPO / "testdata" / "gatk_models"  # GATK's architecture-only model descriptions
CONFIGS_2D = [("tensorflow", "fp32"), ("onnxruntime", "fp32"), ("openvino", "fp32"),
              ("openvino", "bf16")]  # fmt: skip
CONFIGS_1D = [("tensorflow", "fp32"), ("onnxruntime", "fp32"), ("openvino", "fp32"),
              ("openvino", "bf16")]  # fmt: skip


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    simd = instruction_sets.describe()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = []
    # read from the installed packages, not imported (TensorFlow would print its log lines)
    for package in ("tensorflow", "tensorflow-cpu", "openvino", "onnxruntime"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    return (
        f"{cpu}, {instruction_sets.usable_cores()} of {os.cpu_count()} logical CPUs usable"
        f"{_threads_per_core()} ({simd}), {memory:.0f} GiB, Linux {platform.release()}, "
        f"Python {platform.python_version()}, {', '.join(versions)}, "
        f"htslib inflating with {'libdeflate' if _libdeflate() else 'zlib'}"
    )


def _threads_per_core() -> str:
    """The threads per core the kernel's CPU topology gives, as the machine line says it (8
    cores with 2 threads each are 16 logical CPUs, which scale unlike 16 cores); nothing where
    the kernel does not say."""
    try:
        siblings = Path("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list").read_text()
    except OSError:
        return ""
    count = sum(
        int(b) - int(a) + 1 if "-" in part else 1
        for part in siblings.strip().split(",")
        for a, _, b in [part.partition("-")]
    )
    return f", {count} thread{'s' if count > 1 else ''} per core"


def _libdeflate() -> bool:
    try:
        from cnnscore.io.htslib import inflates_with_libdeflate
    except ImportError:
        return False
    return bool(inflates_with_libdeflate())


def subset_vcf(records: int) -> Path:
    source = CACHE / "candidates.vcf.gz"
    if not source.exists():
        sys.exit(f"no bench data in {CACHE}: run bench/build_data.sh first")
    if records <= 0:
        return source
    target = CACHE / f"candidates.first{records}.vcf"
    if not target.exists():
        kept, lines = 0, []
        with gzip.open(source, "rt") as handle:
            for line in handle:
                if line.startswith("#"):
                    lines.append(line)
                elif kept < records:
                    lines.append(line)
                    kept += 1
        target.write_text("".join(lines))
    return target


def scores(path: Path, key: str) -> list[float]:
    pattern = re.compile(rf"(?:^|;){key}=([^;\t]+)")
    values = []
    with open(path) as handle:
        for line in handle:
            if not line.startswith("#"):
                values.append(float(pattern.search(line.split("\t")[7]).group(1)))
    return values


OVTF_IMAGE = "cnnscore-ovtf:local"


def container_prefix(backend: str, workdir: Path) -> list[str]:
    """openvino-tensorflow runs only in its own image (Python 3.9, TF 2.9): run it there under
    podman, with every path mounted at the same place so the command line stays the same.
    "openvino-tensorflow-off" is the same image with OPENVINO_TF_DISABLE=1: stock TF 2.9."""
    mounts = []
    for path in (CACHE, REPO, workdir, HERE):
        mounts += ["-v", f"{path.resolve()}:{path.resolve()}"]
    disable = "1" if backend.endswith("-off") else "0"
    return ["podman", "run", "--rm", "--user", "0", *mounts, "-e", f"OPENVINO_TF_DISABLE={disable}",
            OVTF_IMAGE, "python"]  # fmt: skip


def run(config, args, vcf: Path, workdir: Path, model_args: list[str], model: str) -> dict:
    backend, precision, *mode = config
    modes = mode[0].split("+") if mode else []
    workers = [] if args.encode_workers is None else ["--encode-workers", str(args.encode_workers)]
    name = "-".join((model, *config))
    out = workdir / f"{name}.vcf"
    metrics = workdir / f"{name}.json"
    python = [sys.executable]
    if backend.startswith("openvino-tensorflow"):
        python = container_prefix(backend, workdir)
        backend = "openvino-tensorflow"
    command = [*python, str(HERE / "run_one.py"), "score", "-V", str(vcf),
               "-R", str(CACHE / "20.fa"), "-O", str(out), "--backend", backend,
               "--precision", precision, "--metrics-json", str(metrics),
               "--inference-batch-size", str(args.batch), "--threads", str(args.threads),
               *workers,
               "--progress-seconds", "3600",
               *model_args, *(["--no-depth-adaptive"] if "dense" in modes else []),
               *(["--encoder", "python"] if "python-encoder" in modes else []),
               *(["--convolution", "direct"] if "direct" in modes else [])]  # fmt: skip
    # podman needs the containers.conf docker/podman-build.sh wrote (runc, ulimits root can grant)
    conf = os.environ.get("CNNSCORE_PODMAN_CONF", "/etc/cnnscore/containers.conf")
    env = {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", conf)}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        error = [line for line in result.stderr.splitlines() if "error" in line]
        return {"config": config, "error": (error or result.stderr.splitlines()[-1:])[-1]}
    rss = json.loads(result.stdout.strip().splitlines()[-1])
    data = json.loads(metrics.read_text())
    data.update(rss)
    data["config"] = config
    data["output"] = out
    return data


def mode_label(config: tuple, args) -> str:
    """precision, and for 2D: dense or adaptive (config[2] holds '+'-joined modes)."""
    if args.tensor_type != "read_tensor":
        return config[1]
    modes = config[2].split("+") if len(config) > 2 else []
    label = f"{config[1]} {'dense' if 'dense' in modes else 'adaptive'}"
    return label + (" python-encoder" if "python-encoder" in modes else "")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--records", type=int, default=2000, help="first N candidates (0 = all)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--tensor-type", choices=["read_tensor", "reference"], default="read_tensor"
    )
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--encode-workers", type=int, default=None, help="(default: score's)")
    parser.add_argument("--configs", nargs="*", help="backend:precision (default: all)")
    parser.add_argument(
        "--models", nargs="+", choices=["gatk", "compact"], default=["gatk"],
        help="GATK's model and/or cnnscore's compact one (default: gatk)",
    )  # fmt: skip
    args = parser.parse_args()

    vcf = subset_vcf(args.records)
    workdir = Path(tempfile.mkdtemp(prefix="cnnscore-bench-"))
    tensor_type = ["--tensor-type", args.tensor_type]
    if args.tensor_type == "read_tensor":
        key, configs = "CNN_2D", CONFIGS_2D
        reads = ["-I", str(CACHE / "bench.bam")]
        model_args = {
            "gatk": [*reads, *tensor_type],  # no model given: GATK's small_2d, shipped
            "compact": [*reads, *tensor_type, "--model", "cnnscore_compact_2d"],
        }  # fmt: skip
    else:
        # GATK's 1D weights are not available offline: a seeded random-weight stand-in with the
        # real architecture (same compute, meaningless scores) measures throughput only.
        sys.path.insert(0, str(REPO / "tests"))
        from conftest import write_random_weights

        weights = write_random_weights(
            GATK_JSONS / "1d_cnn_mix_train_full_bn.json", workdir / "random_1d.hd5", seed=1
        )
        key, configs = "CNN_1D", CONFIGS_1D
        gatk_1d = GATK_JSONS / "1d_cnn_mix_train_full_bn.json"
        model_args = {
            "gatk": ["--architecture", str(gatk_1d), "--weights", str(weights)],
            "compact": [*tensor_type, "--model", "cnnscore_compact_1d"],
        }
    if args.tensor_type == "read_tensor":
        configs = [*configs, ("tensorflow", "fp32", "dense"),
                   ("openvino", "fp32", "dense+direct"), ("openvino", "fp32", "direct"),
                   ("openvino", "fp32", "python-encoder")]  # fmt: skip
    if args.configs:
        configs = [tuple(c.split(":")) for c in args.configs]
    if ("tensorflow", "fp32") not in configs:
        configs = [("tensorflow", "fp32"), *configs]
    # (model, backend, precision[, mode]): each model's tensorflow fp32 first, its own baseline
    configs = [(model, *config) for model in args.models for config in configs]
    first = (args.models[0], "tensorflow", "fp32")

    rounds: dict[tuple, list[dict]] = {c: [] for c in configs}
    for number in range(args.rounds):
        baseline: list[float] = []
        for config in configs:
            result = run(config[1:], args, vcf, workdir, model_args[config[0]], config[0])
            if "error" not in result:
                values = scores(result["output"], key)
                if config[1:3] == ("tensorflow", "fp32") and len(config) == 3:
                    baseline = values
                    texts = [f"{v:.3f}" for v in values]
                deltas = [abs(a - b) for a, b in zip(values, baseline, strict=True)]
                result["max_delta"] = max(deltas)
                result["identical"] = sum(
                    f"{v:.3f}" == t for v, t in zip(values, texts, strict=True)
                ) / len(values)
                result["sign_flips"] = sum(
                    (a > 0) != (b > 0) for a, b in zip(values, baseline, strict=True)
                )
            rounds[config].append(result)
            print(
                f"round {number + 1}: {config[0]} {config[1]} {mode_label(config[1:], args)}: "
                + (
                    result.get("error")
                    or f"{result['variants_scored'] / result['wall_seconds']:.1f} variants/s"
                ),
                file=sys.stderr,
                flush=True,
            )

    def median(config, field):
        values = [r[field] for r in rounds[config] if field in r]
        return statistics.median(values) if values else None

    base_rate = statistics.median(r["variants_scored"] / r["wall_seconds"] for r in rounds[first])
    print(f"Machine: {machine()}")
    print(
        f"Input: {vcf.name} ({rounds[configs[0]][0].get('variants_scored', '?')} records), "
        f"{args.tensor_type}, inference batch {args.batch}, threads {args.threads}, "
        f"encoder processes {'auto' if args.encode_workers is None else args.encode_workers}, "
        f"median of {args.rounds} interleaved rounds\n"
    )
    print(
        f"| model | backend | precision | effective precision | encoder | encoder ms/variant "
        f"| convolution | GFLOP/variant | variants/s end to end "
        f"| ratio to {first[0]} tensorflow "
        "| encode s | inference s | wait for encoder s | model load s | peak RSS MB "
        "| max abs delta vs the model's tensorflow | identical %.3f text | sign flips |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for config in configs:
        label = f"| {config[0]} | {config[1]} | {mode_label(config[1:], args)} |"
        errors = [r["error"] for r in rounds[config] if "error" in r]
        if errors:
            print(f"{label} not run: {errors[0].replace('|', '/')} ||||||||||||||")
            continue
        rate = statistics.median(r["variants_scored"] / r["wall_seconds"] for r in rounds[config])
        effective = sorted({r["effective_precision"] for r in rounds[config] if "error" not in r})
        encoder = sorted({r.get("encoder", "python") for r in rounds[config] if "error" not in r})
        encode_ms = statistics.median(
            1000 * r["encode_seconds"] / r["variants_scored"] for r in rounds[config]
        )
        convolution = sorted({r.get("convolution", "direct") for r in rounds[config]
                              if "error" not in r})  # fmt: skip
        gflop = median(config, "gflop_per_variant")
        print(
            f"{label} {', '.join(effective)} | {', '.join(encoder)} | {encode_ms:.2f} | "
            f"{', '.join(convolution)} | {'?' if gflop is None else f'{gflop:.2f}'} | "
            f"{rate:.1f} | {rate / base_rate:.2f} | "
            f"{median(config, 'encode_seconds'):.1f} | {median(config, 'inference_seconds'):.1f} | "
            f"{median(config, 'encode_wait_seconds'):.1f} | "
            f"{median(config, 'model_load_seconds'):.1f} | "
            f"{median(config, 'peak_rss_mb'):.0f} | {median(config, 'max_delta'):.3f} | "
            f"{100 * median(config, 'identical'):.2f}% | {median(config, 'sign_flips'):.0f} |"
        )
    print(f"\n{depth_summary(rounds)}")


def depth_summary(rounds: dict) -> str:
    for results in rounds.values():
        for result in results:
            if result.get("read_rows_quantiles") and result.get("depth_adaptive"):
                return (
                    f"Reads per variant (min/p10/p50/p90/max): "
                    f"{'/'.join(str(v) for v in result['read_rows_quantiles'].values())}; "
                    f"variants per computed-rows bucket: {result['rows_computed']}"
                )
    return ""


if __name__ == "__main__":
    main()
