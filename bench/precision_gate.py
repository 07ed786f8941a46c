"""Do reduced precisions earn their place? bf16, and int8 quantized once with several NNCF
settings, each measured against the gates a user's calls need, on held-out benchmark sites.

Calibration sites are the bench candidates before ``--split`` (chr20 position), held-out sites
the ones after it: no site is in both. bf16 compiles the dense network with OpenVINO's bf16 hint
(only where the CPU runs bf16: avx512_bf16 or AMX; elsewhere it is reported as not run, with the
reason). Each int8 setting quantizes the dense network once (f32 inference hint, so only the
quantized nodes run in int8). Each is compared, on the held-out sites, with OpenVINO fp32 of the
same network:

- sign flips (a score's sign changing changes which side of 0 the call falls) and their rate;
- max and p99 |score delta|;
- FILTER concordance after tranche filtering at GATK's defaults (SNP 99.95, indel 99.4) with the
  simulated truth as resource: both VCFs go through ``cnnscore filter`` and ``cnnscore compare
  --compare-filters``, exactly as a user would run them;
- model-only throughput of int8 and fp32, side by side in this run, with the runtime precision
  OpenVINO reports for the executed graph.

The gate (issue #16): sign flips <= 0.1% and FILTER concordance >= 99.9%. Results go to stdout as
a markdown table, with the machine described; ``--json`` also writes them.

    .venv/bin/python bench/precision_gate.py --calibration 1000 --held-out 3000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cnnscore.backends import cpu
from cnnscore.backends.openvino_backend import runtime_precision
from cnnscore.backends.openvino_graph import build_openvino_model
from cnnscore.encode.read_tensor import rows_at_height
from cnnscore.io.vcf_output import annotate_line, annotated_header
from cnnscore.io.vcf_text import VcfReader
from cnnscore.models.architectures import load_network
from cnnscore.models.defaults import default_model
from cnnscore.models.keras2_weights import read_keras2_weights
from cnnscore.models.registry import locate
from cnnscore.models.spec import DEFAULT_ANNOTATION_KEYS, READ_TENSOR, load_model_spec
from cnnscore.scoring.pipeline import Encoder, EncoderConfig
from cnnscore.scoring.scores import format_score, site_scores

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("CNNSCORE_BENCH_CACHE", Path.home() / ".cache" / "cnnscore-bench"))
MICRO_BATCH = 8
SETTINGS = {
    "bf16": {"bf16": True},
    "ptq-default": {},
    "ptq-full-bias-correction": {"fast_bias_correction": False},
    "ptq-mixed-preset": {"preset": "mixed"},
    "ptq-keep-first-last-fp32": {"ignore_first_last": True},
    "accuracy-control": {"accuracy_control": True},
}


def model_files(name: str) -> tuple[str, str]:
    if name == "gatk":
        located = locate("small_2d")
        return located.architecture, located.weights
    return default_model(READ_TENSOR)


def encode(vcf: Path, records: list, spec) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    config = EncoderConfig(
        vcf_path=str(vcf), reference_path=str(CACHE / "20.fa"),
        reads_paths=(str(CACHE / "bench.bam"),), tensor_type=READ_TENSOR,
        annotation_keys=DEFAULT_ANNOTATION_KEYS, window_size=spec.window_size,
        read_limit=spec.read_limit, reservoir_scope="site",
    )  # fmt: skip
    encoder = Encoder(config)
    tensors, annotations, labels = [], [], []
    for record in records:
        tensor, annotation, label, _ = encoder.encode(record)
        tensors.append(tensor)
        annotations.append(annotation)
        labels.append(label)
    encoder.close()
    return tensors, np.stack(annotations), labels


def batches(tensors, annotations, rows: int):
    for start in range(0, len(tensors), MICRO_BATCH):
        part = [rows_at_height(t[None], rows)[0] for t in tensors[start : start + MICRO_BATCH]]
        ann = annotations[start : start + MICRO_BATCH]
        count = len(part)
        if count < MICRO_BATCH:
            part += [np.zeros_like(part[0])] * (MICRO_BATCH - count)
            ann = np.concatenate([ann, np.zeros((MICRO_BATCH - count, ann.shape[1]), np.float32)])
        yield np.stack(part).astype(np.float32), ann.astype(np.float32), count


def infer(compiled, names, tensors, annotations, rows) -> tuple[np.ndarray, float]:
    import openvino as ov

    queue = ov.AsyncInferQueue(compiled, 2)
    results: dict[int, np.ndarray] = {}

    def done(request, userdata):
        index, count = userdata
        results[index] = np.array(request.get_output_tensor(0).data[:count], dtype=np.float32)

    queue.set_callback(done)
    started = time.monotonic()
    for index, (t, a, count) in enumerate(batches(tensors, annotations, rows)):
        queue.start_async({names[0]: t, names[1]: a}, (index, count))
    queue.wait_all()
    seconds = time.monotonic() - started
    return np.concatenate([results[i] for i in range(len(results))]), seconds


def compile_model(model, threads: int, hint: str = "f32"):
    import openvino as ov

    config = {
        "INFERENCE_PRECISION_HINT": hint,
        "PERFORMANCE_HINT": "THROUGHPUT",
        "NUM_STREAMS": 2,
        "INFERENCE_NUM_THREADS": threads,
    }
    return ov.Core().compile_model(model, "CPU", config)


def quantize(model, setting: dict, calibration, names, network, validation=None):
    import nncf

    data = [{names[0]: t, names[1]: a} for t, a, _ in calibration]
    dataset = nncf.Dataset(data)
    kwargs = {"subset_size": len(data) * MICRO_BATCH}
    if "fast_bias_correction" in setting:
        kwargs["fast_bias_correction"] = setting["fast_bias_correction"]
    if setting.get("preset") == "mixed":
        kwargs["preset"] = nncf.QuantizationPreset.MIXED
    if setting.get("ignore_first_last"):
        ops = [
            op for op in model.get_ordered_ops() if op.get_type_name() in ("Convolution", "MatMul")
        ]
        first_last = [ops[0].get_friendly_name(), ops[-1].get_friendly_name()]
        kwargs["ignored_scope"] = nncf.IgnoredScope(names=first_last)
    if setting.get("accuracy_control"):
        held, reference = validation

        def sign_agreement(compiled, items) -> float:

            outputs = []
            for item in items:
                outputs.append(compiled(item)[compiled.outputs[0]])
            probabilities = np.concatenate(outputs)
            return float(np.mean(np.sign(margin(probabilities)) == np.sign(reference)))

        return nncf.quantize_with_accuracy_control(
            model, dataset, nncf.Dataset(held), sign_agreement, max_drop=0.0005,
            drop_type=nncf.DropType.ABSOLUTE, subset_size=kwargs["subset_size"],
        )  # fmt: skip
    return nncf.quantize(model, dataset, **kwargs)


def margin(probabilities: np.ndarray) -> np.ndarray:
    """max(SNP, INDEL) log-odds margin used only to steer accuracy control."""
    snp = np.log(1e-7 + probabilities[:, 2] / (probabilities[:, 0] + 1e-7))
    indel = np.log(1e-7 + probabilities[:, 3] / (probabilities[:, 1] + 1e-7))
    return np.maximum(snp, indel)


def write_scored(vcf: Path, records, scores, path: Path, key: str) -> None:
    reader = VcfReader(str(vcf))
    lines = annotated_header(reader.header_lines, key)
    for record, score in zip(records, scores, strict=True):
        lines.append(annotate_line(record.line, key, format_score(score)))
    with gzip.open(path, "wt") if str(path).endswith(".gz") else open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def cli(*args) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "cnnscore", *map(str, args)], capture_output=True, text=True
    )
    if result.returncode not in (0, 3):
        raise SystemExit(result.stderr)
    return result


def filter_concordance(vcf, records, fp32, int8, key, work: Path) -> float:
    for name, scores in (("fp32", fp32), ("int8", int8)):
        write_scored(vcf, records, scores, work / f"{name}.vcf", key)
        cli("filter", "-V", work / f"{name}.vcf", "--resource", CACHE / "truth.vcf.gz",
            "--info-key", key, "-O", work / f"{name}.filtered.vcf")  # fmt: skip
    cli("compare", "--baseline", work / "fp32.filtered.vcf", "--candidate",
        work / "int8.filtered.vcf", "--info-key", key, "--compare-filters",
        "-O", work / "compare")  # fmt: skip
    report = json.loads((work / "compare.json").read_text())
    return report["summary"]["concordance"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--models", nargs="+", choices=["gatk", "compact"], default=["gatk", "compact"],
        help="GATK's small_2d and/or cnnscore's compact_2d",
    )  # fmt: skip
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--calibration", type=int, default=1000, help="calibration sites")
    parser.add_argument("--held-out", type=int, default=2000, help="held-out sites")
    parser.add_argument("--split", type=int, default=32_000_000, help="chr20 position")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    vcf = CACHE / "candidates.vcf.gz"
    records = list(VcfReader(str(vcf)).records(None))
    early = [r for r in records if r.pos < args.split]
    late = [r for r in records if r.pos >= args.split]
    rng = np.random.default_rng(0)
    calibration_records = [
        early[i]
        for i in sorted(rng.choice(len(early), min(args.calibration, len(early)), replace=False))
    ]  # noqa: E501
    held_records = [
        late[i] for i in sorted(rng.choice(len(late), min(args.held_out, len(late)), replace=False))
    ]  # noqa: E501
    print(f"Machine: {cpu.describe()} ({os.cpu_count()} cores)", file=sys.stderr)
    results = []
    for model_name in args.models:
        json_path, weights_path = model_files(model_name)
        spec = load_model_spec(json_path)
        network, weights = load_network(spec, read_keras2_weights(weights_path), weights_path)
        names = network.input_names
        rows = network.tensor_shape[0]
        cal_t, cal_a, _ = encode(vcf, calibration_records, spec)
        held_t, held_a, held_labels = encode(vcf, held_records, spec)
        calibration = list(batches(cal_t, cal_a, rows))
        fp32_model = build_openvino_model(network, weights, MICRO_BATCH)
        fp32_compiled = compile_model(fp32_model, args.threads)
        fp32_probs, fp32_seconds = infer(fp32_compiled, names, held_t, held_a, rows)
        fp32_scores = np.array(site_scores(fp32_probs, held_labels), dtype=np.float32)
        held_items = [
            {names[0]: t, names[1]: a} for t, a, _ in batches(held_t[:400], held_a[:400], rows)
        ]  # noqa: E501
        for setting_name in args.settings:
            started = time.monotonic()
            if SETTINGS[setting_name].get("bf16"):
                if not cpu.has_bf16():
                    print(f"{spec.model_id} bf16: not run, this CPU ({cpu.describe()}) has no "
                          "bf16 (OpenVINO would run it as f32)", file=sys.stderr)  # fmt: skip
                    continue
                compiled = compile_model(fp32_model, args.threads, "bf16")
            else:
                quantized = quantize(
                    build_openvino_model(network, weights, MICRO_BATCH), SETTINGS[setting_name],
                    calibration, names, network, (held_items, margin(fp32_probs[:400])),
                )  # fmt: skip
                compiled = compile_model(quantized, args.threads)
            quantize_seconds = time.monotonic() - started
            probs, seconds = infer(compiled, names, held_t, held_a, rows)
            _, fp32_again = infer(fp32_compiled, names, held_t, held_a, rows)
            scores = np.array(site_scores(probs, held_labels), dtype=np.float32)
            delta = np.abs(scores - fp32_scores)
            flips = int(np.sum(np.sign(scores) != np.sign(fp32_scores)))
            with tempfile.TemporaryDirectory() as work:
                concordance = filter_concordance(
                    vcf, held_records, fp32_scores, scores, spec.info_key, Path(work)
                )
            results.append({
                "model": spec.model_id, "setting": setting_name, "sites": len(held_records),
                "runtime_precision": runtime_precision(compiled), "sign_flips": flips,
                "sign_flip_rate": flips / len(held_records), "max_abs_delta": float(delta.max()),
                "p99_abs_delta": float(np.percentile(delta, 99)),
                "filter_concordance": concordance, "quantize_seconds": round(quantize_seconds, 1),
                "variants_per_s": len(held_records) / seconds,
                "fp32_variants_per_s": len(held_records) / ((fp32_seconds + fp32_again) / 2),
                "passes": flips / len(held_records) <= 0.001 and (concordance or 0) >= 0.999,
            })  # fmt: skip
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(f"Machine: {cpu.describe()}, {os.cpu_count()} cores; calibration {args.calibration} "
          f"sites before chr20:{args.split:,}, held-out {args.held_out} after\n")  # fmt: skip
    print("| model | setting | runtime precision | sign flips | max abs delta | p99 abs delta "
          "| FILTER concordance | v/s | fp32 v/s (model only, same run) | gate |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['model']} | {r['setting']} | {r['runtime_precision']} | {r['sign_flips']} "
              f"({100 * r['sign_flip_rate']:.2f}%) | {r['max_abs_delta']:.3f} | "
              f"{r['p99_abs_delta']:.3f} | {100 * (r['filter_concordance'] or 0):.2f}% | "
              f"{r['variants_per_s']:.0f} | {r['fp32_variants_per_s']:.0f} | "
              f"{'pass' if r['passes'] else 'fail'} |")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
