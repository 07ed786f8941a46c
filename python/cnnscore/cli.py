"""Command line: ``cnnscore score`` with GATK CNNScoreVariants' flags."""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .errors import InputError
from .gather import gather_vcfs
from .reference import reference_lengths
from .remote_args import localize, uses_gcs
from .remote_files import RemoteFiles
from .score import DEFAULT_ANNOTATION_KEYS, ScoreOptions, run_score
from .split import run_split


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _add_score_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "score",
        help="annotate a VCF with CNN_1D or CNN_2D scores (GATK CNNScoreVariants)",
        description="Score every record of a VCF with a GATK CNN model and write it with "
        "INFO CNN_1D (reference model) or CNN_2D (read-tensor model).",
    )
    p.add_argument("-V", "--variant", required=True, help="input VCF (.vcf, .vcf.gz, .bcf)")
    p.add_argument(
        "-R", "--reference", required=True, help="indexed FASTA (.fai; bgzip needs .gzi)"
    )
    p.add_argument(
        "-O", "--output", required=True, help="output .vcf, .vcf.gz (+.tbi) or .bcf (+.csi)"
    )
    p.add_argument(
        "-I",
        "--input",
        action="append",
        default=[],
        dest="reads",
        help="indexed BAM or CRAM; repeatable; required for read_tensor",
    )
    p.add_argument(
        "--tensor-type",
        choices=["reference", "read_tensor"],
        help="reference (1D) or read_tensor (2D); default: the model's",
    )
    p.add_argument("--architecture", help="GATK model JSON; default: --weights with .json")
    p.add_argument("--weights", help="GATK Keras .hd5 weights; default: --architecture with .hd5")
    p.add_argument(
        "-L",
        "--intervals",
        action="append",
        default=[],
        help="chr:start-end, BED or .interval_list; repeatable (union)",
    )
    p.add_argument(
        "--inference-batch-size",
        type=_positive_int,
        help="variants per model call (default 1024 for 1D, 256 for 2D)",
    )
    p.add_argument(
        "--transfer-batch-size",
        type=_positive_int,
        help="variants buffered per write (default 1024 for 1D, 512 for 2D)",
    )
    p.add_argument(
        "--read-limit",
        type=_positive_int,
        default=128,
        help="reads per tensor; must equal the model's (default 128)",
    )
    p.add_argument(
        "--window-size",
        type=_positive_int,
        default=128,
        help="reference window; must equal the model's (default 128)",
    )
    p.add_argument(
        "--info-annotation-keys",
        nargs="+",
        default=list(DEFAULT_ANNOTATION_KEYS),
        metavar="KEY",
        help="INFO keys fed to the model, in order",
    )
    p.add_argument(
        "--filter-symbolic-and-sv",
        action="store_true",
        help="drop symbolic and structural records from the output, as GATK does",
    )
    p.add_argument("--backend", default="tensorflow", help="inference backend (default tensorflow)")
    p.add_argument("--threads", type=int, default=0, help="threads for inference (0 = all cores)")
    p.add_argument("--metrics-json", help="write run metrics (counts, timings, rates) as JSON")
    p.add_argument(
        "--progress-seconds",
        type=float,
        default=10.0,
        help="seconds between progress lines on stderr (default 10)",
    )
    p.add_argument(
        "--precision",
        choices=["fp32", "bf16", "int8"],
        default="fp32",
        help="inference precision (default fp32, the only GATK-identical one); bf16 "
        "and int8 need --backend openvino",
    )
    p.add_argument(
        "--calibration-size",
        type=_positive_int,
        default=256,
        help="records used to calibrate int8 (default 256)",
    )
    p.add_argument(
        "--calibration-vcf",
        help="calibrate int8 on this VCF's first records (same -R/-I) instead of the input's",
    )
    p.add_argument(
        "--no-depth-adaptive",
        action="store_true",
        help="run the dense 2D network on all 128 read rows instead of skipping empty rows "
        "(same scores up to float summation order; for checking)",
    )
    p.add_argument(
        "--encode-workers",
        type=int,
        default=1,
        help="encoder processes beside inference (default 1; 0 = encode in-process)",
    )
    p.add_argument(
        "--reservoir-scope",
        choices=["run", "site"],
        default="run",
        help="2D read downsampling random stream: one per run as in GATK (default), "
        "or one per site so that results do not depend on sharding",
    )


def _add_split_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "split-intervals",
        help="cut a VCF into interval-list shards of about equal record counts (for scatter)",
    )
    p.add_argument("-V", "--variant", required=True, help="input VCF")
    p.add_argument("-R", "--reference", required=True, help="indexed FASTA (for contig lengths)")
    p.add_argument(
        "-L",
        "--intervals",
        action="append",
        default=[],
        help="restrict to these intervals first (as score's -L)",
    )
    p.add_argument(
        "--scatter-count",
        type=_positive_int,
        required=True,
        help="shards wanted; fewer are written when the records allow fewer clean cuts",
    )
    p.add_argument("-O", "--output", required=True, help="folder for shard-NNNN.interval_list")


def _add_gather_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "gather-vcfs", help="concatenate scored shards, in the order given, into one indexed VCF"
    )
    p.add_argument(
        "-I",
        "--input",
        action="append",
        required=True,
        dest="inputs",
        help="shard VCF, repeatable, in shard order",
    )
    p.add_argument("-O", "--output", required=True, help="output .vcf, .vcf.gz or .bcf")


def _add_filter_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "filter",
        help="tranche-filter a scored VCF by truth sensitivity (GATK FilterVariantTranches)",
        description="Filter SNPs and indels whose score is at or below the score that keeps the "
        "given sensitivity to the resource-confirmed variants, as GATK FilterVariantTranches.",
    )
    p.add_argument("-V", "--variant", required=True, help="scored VCF (.vcf, .vcf.gz, .bcf)")
    p.add_argument(
        "--resource",
        action="append",
        required=True,
        dest="resources",
        metavar="VCF",
        help="truth VCF (bgzip + .tbi/.csi), e.g. HapMap or Mills; repeatable",
    )
    p.add_argument(
        "--info-key", default="CNN_2D", help="INFO key holding the score (default CNN_2D)"
    )
    p.add_argument(
        "--snp-tranche",
        type=float,
        action="append",
        dest="snp_tranches",
        metavar="T",
        help="SNP truth sensitivity in percent, 0 <= t < 100; repeatable (default 99.95)",
    )
    p.add_argument(
        "--indel-tranche",
        type=float,
        action="append",
        dest="indel_tranches",
        metavar="T",
        help="indel truth sensitivity in percent; repeatable (default 99.4)",
    )
    p.add_argument(
        "--invalidate-previous-filters",
        action="store_true",
        help="drop the input's FILTER values and ##FILTER lines first",
    )
    p.add_argument(
        "-O", "--output", required=True, help="output .vcf, .vcf.gz (+.tbi) or .bcf (+.csi)"
    )


def _filter(args: argparse.Namespace) -> None:
    from .tranche_filter import (
        DEFAULT_INDEL_TRANCHES,
        DEFAULT_SNP_TRANCHES,
        FilterOptions,
        run_filter,
        summary,
    )

    options = FilterOptions(
        variants=args.variant,
        resources=tuple(args.resources),
        output=args.output,
        info_key=args.info_key,
        snp_tranches=tuple(args.snp_tranches or DEFAULT_SNP_TRANCHES),
        indel_tranches=tuple(args.indel_tranches or DEFAULT_INDEL_TRANCHES),
        invalidate_previous_filters=args.invalidate_previous_filters,
    )
    print(summary(run_filter(options)), file=sys.stderr)


def _add_compare_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "compare",
        help="score differences, classification concordance and speed between two runs",
        description="Match two scored VCFs by CHROM/POS/REF/ALT and report how their scores "
        "differ; writes PREFIX.json and PREFIX.html and prints a short table.",
    )
    p.add_argument("--baseline", required=True, help="scored VCF of the reference run")
    p.add_argument("--candidate", required=True, help="scored VCF of the run being checked")
    p.add_argument(
        "--baseline-metrics",
        nargs="+",
        default=[],
        metavar="JSON",
        help="the baseline's --metrics-json file(s), one per shard, for throughput",
    )
    p.add_argument(
        "--candidate-metrics", nargs="+", default=[], metavar="JSON", help="the same for candidate"
    )
    p.add_argument("--baseline-label", help="name shown for the baseline (default: its backend)")
    p.add_argument("--candidate-label", help="name shown for the candidate")
    p.add_argument("--info-key", default="CNN_2D", help="INFO key compared (default CNN_2D)")
    p.add_argument(
        "--snp-cutoff",
        type=float,
        help="tranche cutoff for SNPs: a SNP is filtered iff its score <= this (both sides)",
    )
    p.add_argument("--indel-cutoff", type=float, help="the same for indels")
    p.add_argument(
        "--compare-filters",
        action="store_true",
        help="the inputs are tranche-filtered VCFs: compare their FILTER columns",
    )
    p.add_argument(
        "--fail-if",
        action="append",
        default=[],
        metavar="GATE",
        help="exit 3 when e.g. 'max_abs_delta>0.01' or 'concordance<0.999' holds; repeatable",
    )
    p.add_argument("-O", "--output", required=True, help="report prefix: writes PREFIX.json/.html")


def _add_gcs_arguments(subparsers) -> None:
    """Every subcommand takes gs://bucket/object for any path argument."""
    for parser in subparsers.choices.values():
        parser.add_argument(
            "--requester-pays-project",
            help="Google Cloud project billed for gs:// reads and writes of requester-pays "
            "buckets (credentials: Application Default Credentials)",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnscore", description="GATK-compatible CNN variant scoring."
    )
    parser.add_argument("--version", action="version", version=f"cnnscore {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_score_parser(subparsers)
    _add_split_parser(subparsers)
    _add_gather_parser(subparsers)
    _add_filter_parser(subparsers)
    _add_compare_parser(subparsers)
    _add_gcs_arguments(subparsers)
    return parser


def _score(args: argparse.Namespace) -> None:
    options = ScoreOptions(
        variants=args.variant,
        reference=args.reference,
        output=args.output,
        reads=args.reads,
        tensor_type=args.tensor_type,
        architecture=args.architecture,
        weights=args.weights,
        intervals=args.intervals,
        inference_batch_size=args.inference_batch_size,
        transfer_batch_size=args.transfer_batch_size,
        read_limit=args.read_limit,
        window_size=args.window_size,
        annotation_keys=tuple(args.info_annotation_keys),
        filter_symbolic_and_sv=args.filter_symbolic_and_sv,
        backend=args.backend,
        threads=args.threads,
        metrics_json=args.metrics_json,
        progress_seconds=args.progress_seconds,
        reservoir_scope=args.reservoir_scope,
        precision=args.precision,
        calibration_size=args.calibration_size,
        calibration_vcf=args.calibration_vcf,
        depth_adaptive=not args.no_depth_adaptive,
        encode_workers=args.encode_workers,
    )
    metrics = run_score(options)
    print(
        f"cnnscore: scored {metrics.variants_scored:,} variants with {metrics.info_key} in "
        f"{metrics.wall_seconds:.1f} s ({metrics.variants_per_minute:,.0f} variants/min; "
        f"encoding {metrics.encode_seconds:.1f} s, inference {metrics.inference_seconds:.1f} s, "
        f"backend {metrics.backend} {metrics.precision}) -> {options.output}",
        file=sys.stderr,
    )


def _split(args: argparse.Namespace) -> None:
    lengths = reference_lengths(args.reference)
    paths = run_split(args.variant, lengths, args.scatter_count, args.intervals, args.output)
    print(f"cnnscore: wrote {len(paths)} shards to {args.output}", file=sys.stderr)


def _side_label(label: str | None, throughput, fallback: str) -> str:
    if label:
        return label
    if throughput is not None and throughput.backends:
        return " + ".join(throughput.backends)
    return fallback


def _compare(args: argparse.Namespace) -> int:
    """Run the comparison; 3 when a --fail-if gate holds (the reports are written either way)."""
    from .compare import Cutoffs, compare_vcfs, read_throughput
    from .compare_gates import evaluate_gates, parse_gates
    from .compare_report import SUMMARY_METRICS, build_report, summary_table, write_reports

    gates = parse_gates(args.fail_if, SUMMARY_METRICS)
    cutoffs = None
    if args.snp_cutoff is not None or args.indel_cutoff is not None:
        cutoffs = Cutoffs(snp=args.snp_cutoff, indel=args.indel_cutoff)
    throughputs = (read_throughput(args.baseline_metrics), read_throughput(args.candidate_metrics))
    comparison = compare_vcfs(
        args.baseline, args.candidate, args.info_key, cutoffs, args.compare_filters
    )
    labels = (
        _side_label(args.baseline_label, throughputs[0], "baseline"),
        _side_label(args.candidate_label, throughputs[1], "candidate"),
    )
    report = build_report(comparison, labels, throughputs)
    report["fail_if"] = evaluate_gates(gates, report["summary"])
    json_path, html_path = write_reports(report, comparison, args.output)
    print(summary_table(report))
    print(f"cnnscore: wrote {json_path} and {html_path}", file=sys.stderr)
    failed = [gate["gate"] for gate in report["fail_if"] if gate["failed"]]
    if failed:
        print(f"cnnscore: --fail-if failed: {', '.join(failed)}", file=sys.stderr)
        return 3
    return 0


def _gather(args: argparse.Namespace) -> None:
    count = gather_vcfs(args.inputs, args.output)
    print(
        f"cnnscore: gathered {count:,} records from {len(args.inputs)} shards -> {args.output}",
        file=sys.stderr,
    )


_COMMANDS = {
    "score": _score,
    "split-intervals": _split,
    "gather-vcfs": _gather,
    "filter": _filter,
    "compare": _compare,
}


def _run(args: argparse.Namespace) -> int:
    """Run one subcommand; with gs:// arguments, around the download/range-read/upload layer."""
    command = _COMMANDS[args.command]
    if not uses_gcs(args):
        return command(args) or 0
    with RemoteFiles(args.requester_pays_project) as remote:
        try:
            status = command(localize(args, remote)) or 0
            if status in (0, 3):  # 3: compare's gates failed, its reports are complete
                remote.publish()
                print("cnnscore: uploaded the outputs to gs://", file=sys.stderr)
        except InputError as err:
            raise InputError(remote.user_text(str(err))) from None
    return status


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    import pysam

    pysam.set_verbosity(0)  # htslib's own [E::...] lines would duplicate our one-line errors
    try:
        return _run(args)
    except InputError as err:
        print(f"cnnscore: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cnnscore: interrupted; no output written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
