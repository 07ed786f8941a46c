"""Command line: runs the subcommand :mod:`cnnscore.cli.parser` parsed, around the gs:// layer.

Each handler turns parsed flags into its module's options and prints one summary line; user
errors (InputError) become one ``cnnscore: error:`` line and exit 1.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from ..errors import InputError
from ..gcs.remote_args import localize, uses_gcs
from ..gcs.remote_files import RemoteFiles
from ..io.locations import shown_as, user_facing
from ..io.reference import reference_lengths
from ..scoring.score import ScoreOptions, run_score
from ..shards.gather import gather_vcfs
from ..shards.split import run_split
from .library_output import library_logs_wanted, only_cnnscore_lines
from .parser import build_parser


def _tell(message: str) -> None:
    """A summary line on stderr, naming the user's paths (not gs:// stand-ins)."""
    print(user_facing(message), file=sys.stderr)


def _filter(args: argparse.Namespace) -> None:
    from ..tranches.filter import (
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
    _tell(summary(run_filter(options)))


def _models(args: argparse.Namespace) -> None:
    if args.models_command == "list":
        from ..models.registry import listing

        rows = listing(args.cache_dir)
        columns = ("name", "source", "tensor_type", "default", "where", "sha256", "weights")
        widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in columns}
        for line in [dict(zip(columns, columns)), *rows]:
            print("  ".join(line[c].ljust(widths[c]) for c in columns).rstrip(), file=args.results)
        return
    from ..models.fetch import GATK_MODELS, fetch_gatk

    wanted = args.models or ["1d_cnn_mix_train_full_bn"]
    models = list(GATK_MODELS) if "all" in wanted else wanted
    fetched_files = fetch_gatk(
        models, args.cache_dir, args.mirror, args.gatk_tag, skip_missing=args.skip_missing
    )
    for item in fetched_files:
        if item.skipped:
            print(f"cnnscore: skipped GATK's {item.model}: {item.skipped}", file=sys.stderr)
            continue
        check = "sha256 verified" if item.pinned else "size and partial sha256 verified (spec §10)"
        print(item.path, file=args.results)
        state = "fetched" if item.fetched else "cached"
        print(f"cnnscore: {state}, {check}: {item.path}", file=sys.stderr)


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
        depth_adaptive=not args.no_depth_adaptive,
        encode_workers=args.encode_workers,
        encoder=args.encoder,
        convolution=args.convolution,
        model=args.model,
    )
    metrics = run_score(options)
    _tell(
        f"cnnscore: scored {metrics.variants_scored:,} variants with {metrics.info_key} in "
        f"{metrics.wall_seconds:.1f} s ({metrics.variants_per_minute:,.0f} variants/min; "
        f"encoding {metrics.encode_seconds:.1f} s, inference {metrics.inference_seconds:.1f} s, "
        f"backend {metrics.backend} {metrics.precision}) -> {options.output}"
    )


def _split(args: argparse.Namespace) -> None:
    lengths = reference_lengths(args.reference)
    paths = run_split(args.variant, lengths, args.scatter_count, args.intervals, args.output)
    _tell(f"cnnscore: wrote {len(paths)} shards to {args.output}")


def _side_label(label: str | None, throughput, fallback: str) -> str:
    if label:
        return label
    if throughput is not None and throughput.backends:
        return " + ".join(throughput.backends)
    return fallback


def _compare(args: argparse.Namespace) -> int:
    """Run the comparison; 3 when a --fail-if gate holds (the reports are written either way)."""
    from ..validate.compare import Cutoffs, compare_vcfs, read_throughput
    from ..validate.gates import evaluate_gates, parse_gates
    from ..validate.report import SUMMARY_METRICS, build_report, summary_table, write_reports

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
    print(summary_table(report), file=args.results)
    _tell(f"cnnscore: wrote {json_path} and {html_path}")
    failed = [gate["gate"] for gate in report["fail_if"] if gate["failed"]]
    if failed:
        print(f"cnnscore: --fail-if failed: {', '.join(failed)}", file=sys.stderr)
        return 3
    return 0


def _gather(args: argparse.Namespace) -> None:
    count = gather_vcfs(args.inputs, args.output)
    _tell(f"cnnscore: gathered {count:,} records from {len(args.inputs)} shards -> {args.output}")


def _write_tensors(args: argparse.Namespace) -> None:
    from ..training.write_tensors import WriteTensorsOptions, run_write_tensors, summary

    options = WriteTensorsOptions(
        variants=args.variant,
        reference=args.reference,
        truth_vcf=args.truth_vcf,
        truth_bed=args.truth_bed,
        output=args.output,
        reads=tuple(args.reads),
        tensor_type=args.tensor_type,
        intervals=tuple(args.intervals),
        annotation_keys=tuple(args.info_annotation_keys),
        downsampling={
            "SNP": args.downsample_snps,
            "INDEL": args.downsample_indels,
            "NOT_SNP": args.downsample_not_snps,
            "NOT_INDEL": args.downsample_not_indels,
        },
        max_tensors=args.max_tensors,
        seed=args.seed,
        shard_size=args.shard_size,
        encode_workers=args.encode_workers,
    )
    _tell(summary(run_write_tensors(options)))


def _train(args: argparse.Namespace) -> None:
    from ..training.train import TrainOptions, run_train, summary

    options = TrainOptions(
        tensors=tuple(args.tensors),
        output=args.output,
        architecture=args.architecture,
        model_kind=args.model_kind,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_fraction=args.validation_fraction,
        patience=args.patience,
        learning_rate=args.learning_rate,
        cosine_decay=args.cosine_decay,
        dropout=args.dropout,
        seed=args.seed,
        threads=args.threads,
        teacher_architecture=args.teacher_architecture,
        teacher_weights=args.teacher_weights,
        log_odds_weight=args.log_odds_weight,
        other_type_weight=args.other_type_weight,
        annotation_draws=args.annotation_draws,
        initial_weights=args.initial_weights,
    )
    _tell(summary(run_train(options)))


_COMMANDS = {
    "score": _score,
    "split-intervals": _split,
    "gather-vcfs": _gather,
    "filter": _filter,
    "compare": _compare,
    "write-tensors": _write_tensors,
    "train": _train,
    "models": _models,
}


def _run(args: argparse.Namespace) -> int:
    """Run one subcommand; with gs:// arguments, around the download/range-read/upload layer."""
    command = _COMMANDS[args.command]
    if not uses_gcs(args):
        return command(args) or 0
    with RemoteFiles(args.requester_pays_project) as remote, shown_as(remote.user_text):
        try:
            status = command(localize(args, remote)) or 0
            if status in (0, 3):  # 3: compare's gates failed, its reports are complete
                remote.publish()
                print("cnnscore: uploaded the outputs to gs://", file=sys.stderr)
        except InputError as err:
            raise InputError(remote.user_text(str(err))) from None
    return status


class Terminated(KeyboardInterrupt):
    """SIGTERM (docker stop, miniwdl cancellation, batch schedulers, ``timeout``), raised where the
    program is, so that it unwinds as from Ctrl-C: partial outputs removed, encoders stopped."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    import pysam

    pysam.set_verbosity(0)  # htslib's own [E::...] lines would duplicate our one-line errors
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        with only_cnnscore_lines(not library_logs_wanted(args.verbose)) as results:
            args.results = results
            try:
                return _run(args)
            except InputError as err:
                print(f"cnnscore: error: {err}", file=sys.stderr)
                return 1
            except Terminated:
                print("cnnscore: terminated; no output written", file=sys.stderr)
                return 143
            except KeyboardInterrupt:
                print("cnnscore: interrupted; no output written", file=sys.stderr)
                return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
