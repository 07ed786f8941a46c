"""report.json, report.html and the terminal table of ``cnnscore compare``.

The JSON is the stable interface (pipelines gate on it; schema ``cnnscore.compare/1``, documented
in the README); the HTML is for people deciding whether to switch backends, so it shows the three
pictures that answer that: baseline vs candidate scores, the distribution of differences, and the
speed of each side. Plots are PNGs embedded in the page so the report is one portable file.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from ..errors import InputError
from ..io.files import write_all_or_none
from ..io.locations import user_facing
from ..io.output_paths import check_output_folder
from ..io.report_html import figures, page, png_base64
from .compare import DELTA_THRESHOLDS, Comparison, coverage_warnings
from .throughput import Throughput, cpu_model_warning, same_settings_warning

SCHEMA = "cnnscore.compare/1"
SUMMARY_METRICS = (
    "records_compared",
    "missing_in_baseline",
    "missing_in_candidate",
    "unscored_in_baseline",
    "unscored_in_candidate",
    "max_abs_delta",
    "mean_abs_delta",
    "over_0_001",
    "over_0_01",
    "over_0_1",
    "third_digit_differs",
    "sign_flips",
    "identical_text_fraction",
    "concordance",
    "baseline_variants_per_minute",
    "candidate_variants_per_minute",
    "speedup",
)
_PLOT_POINTS = 200_000  # scatter plots thin larger sets evenly; the counts use every record


def _threshold_name(threshold: float) -> str:
    return "over_" + f"{threshold:g}".replace(".", "_")


def _side(path: str, label: str, records: int, throughput: Throughput | None) -> dict[str, Any]:
    return {
        "vcf": user_facing(path),
        "label": label,
        "records": records,
        "backends": throughput.backends if throughput else None,
        "settings": throughput.settings if throughput else None,
        "cpu_models": throughput.cpu_models if throughput else None,
        "variants_scored": throughput.variants if throughput else None,
        "scoring_seconds": throughput.seconds if throughput else None,
        "variants_per_minute": throughput.variants_per_minute if throughput else None,
    }


def build_report(
    comparison: Comparison,
    labels: tuple[str, str],
    throughputs: tuple[Throughput | None, Throughput | None],
) -> dict[str, Any]:
    """The report.json content, without the gate results (added by the caller)."""
    c = comparison
    baseline = _side(c.baseline_path, labels[0], c.baseline_records, throughputs[0])
    candidate = _side(c.candidate_path, labels[1], c.candidate_records, throughputs[1])
    speeds = (baseline["variants_per_minute"], candidate["variants_per_minute"])
    speedup = speeds[1] / speeds[0] if speeds[0] and speeds[1] else None
    if speedup is not None and not 0 < speedup < math.inf:  # each speed finite, not their ratio
        raise InputError(
            f"the two speeds ({speeds[0]!r} and {speeds[1]!r} variants/min) have no finite "
            "ratio: check the metrics files' wall_seconds",
            setting="candidate_metrics",
        )
    agreements = {
        "cutoffs": c.cutoff_agreement.as_dict() if c.cutoff_agreement else None,
        "filters": c.filter_agreement.as_dict() if c.filter_agreement else None,
    }
    measured = [a["concordance"] for a in agreements.values() if a and a["concordance"] is not None]
    summary: dict[str, Any] = {
        "records_compared": c.compared,
        "missing_in_baseline": c.missing_in_baseline,
        "missing_in_candidate": c.missing_in_candidate,
        "unscored_in_baseline": c.unscored_in_baseline,
        "unscored_in_candidate": c.unscored_in_candidate,
        "max_abs_delta": c.max_abs_delta if c.compared else None,
        "mean_abs_delta": c.mean_abs_delta,
        **{_threshold_name(t): c.over_threshold[t] for t in DELTA_THRESHOLDS},
        "third_digit_differs": c.third_digit_differs,
        "sign_flips": c.sign_flips,
        "identical_text_fraction": c.identical_text / c.compared if c.compared else None,
        "concordance": min(measured) if measured else None,
        "baseline_variants_per_minute": speeds[0],
        "candidate_variants_per_minute": speeds[1],
        "speedup": speedup,
    }
    assert tuple(summary) == SUMMARY_METRICS
    largest = sorted(c.largest, reverse=True)
    said = (same_settings_warning(throughputs), cpu_model_warning(throughputs))
    warnings = coverage_warnings(c) + [warning for warning in said if warning]
    return {
        "schema": SCHEMA,
        "info_key": c.info_key,
        "warnings": warnings,
        "baseline": baseline,
        "candidate": candidate,
        "matching": {
            "matched": c.matched,
            "records_compared": c.compared,
            "missing_in_baseline": c.missing_in_baseline,
            "missing_in_candidate": c.missing_in_candidate,
            "unscored_in_baseline": c.unscored_in_baseline,
            "unscored_in_candidate": c.unscored_in_candidate,
        },
        "classification": agreements,
        "summary": summary,
        "largest_deltas": [
            {"record": label, "baseline": b, "candidate": a, "abs_delta": d}
            for d, label, b, a in largest
        ],
    }


def report_paths(prefix: str) -> tuple[str, str]:
    for suffix in (".json", ".html"):
        if prefix.endswith(suffix):
            prefix = prefix[: -len(suffix)]
    return prefix + ".json", prefix + ".html"


def check_report_paths(prefix: str) -> None:
    """Refuse, before the comparison, report paths every other subcommand would refuse: a
    missing or unwritable folder (a typo is not created as new folders), a folder, link or
    device where a report goes."""
    for path in report_paths(prefix):
        check_output_folder(path, file=True)


def write_reports(report: dict[str, Any], comparison: Comparison, prefix: str) -> tuple[str, str]:
    """Write report.json and report.html, each complete or not at all."""
    json_path, html_path = report_paths(prefix)
    page = render_html(report, comparison)
    text = json.dumps(report, indent=2, allow_nan=False) + "\n"  # strict JSON: no Infinity
    write_all_or_none([(json_path, text.encode()), (html_path, page.encode())])
    return json_path, html_path


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}"


def _records(count: int) -> str:
    return f"{count:,} record" + ("" if count == 1 else "s")


def summary_table(report: dict[str, Any]) -> str:
    """A short fixed-width table for the terminal and CI logs."""
    s, b, c = report["summary"], report["baseline"], report["candidate"]
    rows = [
        ("baseline", f"{b['label']}  ({_records(b['records'])})"),
        ("candidate", f"{c['label']}  ({_records(c['records'])})"),
        ("compared", _number(s["records_compared"])),
        ("missing base/cand", f"{s['missing_in_baseline']} / {s['missing_in_candidate']}"),
        ("unscored base/cand", f"{s['unscored_in_baseline']} / {s['unscored_in_candidate']}"),
        ("max |delta|", _number(s["max_abs_delta"])),
        ("mean |delta|", _number(s["mean_abs_delta"])),
        (
            "|delta| > .001/.01/.1",
            f"{s['over_0_001']} / {s['over_0_01']} / {s['over_0_1']}",
        ),
        ("3rd sig. digit differs", _number(s["third_digit_differs"])),
        ("sign flips", _number(s["sign_flips"])),
        ("identical text", _number(s["identical_text_fraction"], 6)),
        ("concordance", _number(s["concordance"], 6)),
        ("variants/min base", _number(s["baseline_variants_per_minute"])),
        ("variants/min cand", _number(s["candidate_variants_per_minute"])),
        ("speedup", _number(s["speedup"], 3)),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    for gate in report.get("fail_if", []):
        verdict = "FAIL" if gate["failed"] else "ok"
        lines.append(
            f"{'--fail-if ' + gate['gate']:<{width}}  {verdict} ({_number(gate['value'])})"
        )
    return "\n".join(lines)


def _plots(report: dict[str, Any], comparison: Comparison) -> dict[str, str]:
    """Three base64 PNGs: scores scatter, delta histogram, throughput bars."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure

    # matplotlib reads $...$ in a text as mathematics (a configuration's name with two $ stopped
    # the report with a parser's traceback): every $ given is shown as written
    key = report["info_key"].replace("$", r"\$")
    names = tuple(report[side]["label"].replace("$", r"\$") for side in ("baseline", "candidate"))
    baseline = np.frombuffer(comparison.baseline_scores, dtype=np.float64)
    candidate = np.frombuffer(comparison.candidate_scores, dtype=np.float64)
    step = max(1, len(baseline) // _PLOT_POINTS)

    scatter = Figure(figsize=(5.5, 5))
    axes = scatter.subplots()
    if len(baseline):
        axes.scatter(baseline[::step], candidate[::step], s=6, alpha=0.5, color="#1f5fa8")
        low = float(min(baseline.min(), candidate.min()))
        high = float(max(baseline.max(), candidate.max()))
        axes.plot([low, high], [low, high], color="#c0392b", linewidth=1, label="y = x")
        axes.legend(loc="upper left")
    axes.set_xlabel(f"{key}, {names[0]}")
    axes.set_ylabel(f"{key}, {names[1]}")
    axes.set_title(f"{key} per record ({len(baseline):,} compared)")

    histogram = Figure(figsize=(5.5, 5))
    axes = histogram.subplots()
    deltas = candidate - baseline
    if len(deltas):
        low, high = float(deltas.min()), float(deltas.max())
        if not high > low:  # one value: matplotlib's +-0.5 has no room between edges far out
            pad = max(0.5, abs(low) / 100)
            low, high = low - pad, high + pad
        axes.hist(deltas, bins=60, range=(low, high), color="#2e8b57", log=True)
    axes.set_xlabel(f"{key} {names[1]} - {names[0]}")
    axes.set_ylabel("records (log scale)")
    axes.set_title("Score differences")

    bars = Figure(figsize=(5.5, 4))
    axes = bars.subplots()
    speeds = [report["baseline"]["variants_per_minute"], report["candidate"]["variants_per_minute"]]
    if all(value is not None for value in speeds):
        axes.bar(names, speeds, color=["#7f8c8d", "#1f5fa8"])
        for x, value in enumerate(speeds):
            axes.text(x, value, f"{value:,.0f}", ha="center", va="bottom")
        axes.margins(y=0.15)
        axes.set_ylabel("variants per minute (summed over shards)")
        axes.set_title(f"Throughput, speedup {report['summary']['speedup']:.2f}x")
    else:
        axes.text(0.5, 0.5, "no --baseline-metrics / --candidate-metrics given", ha="center")
        axes.set_axis_off()
    return {
        "scatter": png_base64(scatter),
        "histogram": png_base64(histogram),
        "throughput": png_base64(bars),
    }


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "\n".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(_number(value, 6))}</td></tr>"
        if not isinstance(value, str)
        else f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
        for name, value in pairs
    )


def render_html(report: dict[str, Any], comparison: Comparison) -> str:
    plots = _plots(report, comparison)
    b, c, s = report["baseline"], report["candidate"], report["summary"]
    gates = report.get("fail_if", [])
    verdict = "FAILED" if any(g["failed"] for g in gates) else "passed" if gates else "no gates"
    sides = _rows(
        [
            ("baseline", f"{b['label']} — {b['vcf']}"),
            ("candidate", f"{c['label']} — {c['vcf']}"),
            ("baseline settings", "; ".join(b["settings"] or ["n/a"])),
            ("candidate settings", "; ".join(c["settings"] or ["n/a"])),
            ("baseline CPU", ", ".join(b["cpu_models"] or ["n/a"])),
            ("candidate CPU", ", ".join(c["cpu_models"] or ["n/a"])),
            ("records (baseline / candidate)", f"{b['records']:,} / {c['records']:,}"),
        ]
    )
    summary = _rows(list(s.items()))
    gate_rows = _rows([(g["gate"], "FAIL" if g["failed"] else "ok") for g in gates])
    largest = "\n".join(
        f"<tr><td>{html.escape(d['record'])}</td><td>{d['baseline']:.3f}</td>"
        f"<td>{d['candidate']:.3f}</td><td>{d['abs_delta']:.4g}</td></tr>"
        for d in report["largest_deltas"]
    )
    images = figures(plots)
    warnings = "".join(
        f'<p class="verdict">Warning: {html.escape(warning)}</p>\n'
        for warning in report["warnings"]
    )
    heading = f"{report['info_key']}: {c['label']} vs {b['label']}"
    body = f"""<h1>{html.escape(heading)}</h1>
<p class="verdict">Gates: {verdict}</p>
{warnings}<h2>Inputs</h2><table>{sides}</table>
<h2>Summary</h2><table>{summary}</table>
<h2>Gates</h2><table>{gate_rows or "<tr><td>none given</td></tr>"}</table>
<h2>Plots</h2>
{images}
<h2>Largest differences</h2>
<table><tr><th>record</th><th>baseline</th><th>candidate</th><th>|delta|</th></tr>
{largest}</table>
<p>Schema {SCHEMA}; generated by cnnscore compare.</p>
"""
    return page(f"cnnscore compare: {report['info_key']}", body)
