"""``cnnscore compare``: one comparison from its options to its written reports, as ``run_score``
and ``run_filter`` are their stages' entries; the command line only prints what it returns.

The gates are parsed and the report paths checked before either VCF is read, so a typo in a
``--fail-if`` or an unwritable ``-O`` costs nothing; each side is labelled by the user, else by
the backends its metrics JSON names, else "baseline"/"candidate".
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .compare import Cutoffs, compare_vcfs
from .gates import evaluate_gates, parse_gates
from .options import CompareOptions
from .report import SUMMARY_METRICS, build_report, check_report_paths, summary_table, write_reports
from .throughput import Throughput, read_throughput


@dataclass(frozen=True)
class CompareResult:
    """What the command prints: the summary table, the reports written, the gates that held."""

    table: str
    json_path: str
    html_path: str
    failed_gates: list[str]


def _side_label(label: str | None, throughput: Throughput | None, fallback: str) -> str:
    if label:
        return label
    if throughput is not None and throughput.backends:
        return " + ".join(throughput.backends)
    return fallback


def run_compare(options: CompareOptions) -> CompareResult:
    """Compare the candidate's scores with the baseline's and write the JSON and HTML reports
    (whatever the gates say: a failed gate is a result, reported, not an error)."""
    gates = parse_gates(list(options.fail_if), SUMMARY_METRICS)
    check_report_paths(options.output)
    cutoffs = None
    if options.snp_cutoff is not None or options.indel_cutoff is not None:
        cutoffs = Cutoffs(snp=options.snp_cutoff, indel=options.indel_cutoff)
    throughputs = (
        read_throughput(list(options.baseline_metrics)),
        read_throughput(list(options.candidate_metrics)),
    )
    comparison = compare_vcfs(
        options.baseline, options.candidate, options.info_key, cutoffs, options.compare_filters
    )
    labels = (
        _side_label(options.baseline_label, throughputs[0], "baseline"),
        _side_label(options.candidate_label, throughputs[1], "candidate"),
    )
    report = build_report(comparison, labels, throughputs)
    for warning in report["warnings"]:
        print(f"cnnscore: warning: {warning}", file=sys.stderr)
    report["fail_if"] = evaluate_gates(gates, report["summary"])
    json_path, html_path = write_reports(report, comparison, options.output)
    failed = [gate["gate"] for gate in report["fail_if"] if gate["failed"]]
    return CompareResult(summary_table(report), str(json_path), str(html_path), failed)
