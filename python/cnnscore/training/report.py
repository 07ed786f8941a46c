"""The training report of ``cnnscore train``: ``PREFIX.report.json`` and ``PREFIX.report.html``.

It answers "did training work, and is the model any good at what scoring asks of it?": the loss
and accuracy per epoch (over-fitting shows as the validation loss turning up), per-class accuracy
and the confusion matrix on the held-out tensors, and, per variant type, the ROC curve of the very
score ``cnnscore score`` writes (SNP log-odds for SNP sites, INDEL log-odds for indels) separating
true from false candidates. The JSON (schema ``cnnscore.train/1``) is for pipelines; the HTML
embeds its plots as PNGs so it is one portable file, like ``cnnscore compare``'s.
"""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np

from ..io.files import PartialOutput, write_all_or_none
from ..io.report_html import figures, page, png_base64
from ..scoring.scores import log_odds
from .labels import LABELS

SCHEMA = "cnnscore.train/1"
#: ROC points kept in the report (the AUC uses every point)
_ROC_POINTS = 1000
_TYPES = (("SNP", "SNP", "NOT_SNP"), ("INDEL", "INDEL", "NOT_INDEL"))


def roc_curve(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) at every distinct threshold, from (0, 0) to
    (1, 1); tied scores form one step, so the curve does not depend on the order of ties."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    ranked, hits = np.asarray(scores)[order], np.asarray(positive, dtype=bool)[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]
    true_positives = np.cumsum(hits)[last_of_tie]
    false_positives = np.cumsum(~hits)[last_of_tie]
    tpr = np.r_[0.0, true_positives / max(int(hits.sum()), 1)]
    fpr = np.r_[0.0, false_positives / max(int((~hits).sum()), 1)]
    return fpr, tpr


def roc_auc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids; ties count half, as the Mann-Whitney U does)."""
    return float(np.trapezoid(tpr, fpr))


def _thinned(values: np.ndarray) -> list[float]:
    if len(values) <= _ROC_POINTS:
        return [round(float(v), 6) for v in values]
    keep = np.unique(np.linspace(0, len(values) - 1, _ROC_POINTS).round().astype(int))
    return [round(float(v), 6) for v in values[keep]]


def roc_by_type(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, dict[str, Any]]:
    """Per variant type, ROC and AUC of the score ``cnnscore score`` would write, true vs false."""
    snp, indel = log_odds(probabilities)
    result = {}
    for (kind, true_name, false_name), score in zip(_TYPES, (snp, indel), strict=True):
        mask = (labels == LABELS[true_name]) | (labels == LABELS[false_name])
        positive = labels[mask] == LABELS[true_name]
        entry: dict[str, Any] = {
            "positives": int(positive.sum()),
            "negatives": int((~positive).sum()),
            "auc": None,
            "fpr": [],
            "tpr": [],
        }
        if positive.any() and (~positive).any():
            fpr, tpr = roc_curve(score[mask], positive)
            entry.update(auc=roc_auc(fpr, tpr), fpr=_thinned(fpr), tpr=_thinned(tpr))
        else:
            entry["note"] = f"the validation set needs both {true_name} and {false_name} tensors"
        result[kind] = entry
    return result


def class_accuracy(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Overall and per-class accuracy (recall of each true class) and the confusion matrix
    (rows: true label, columns: predicted label, both in output-channel order)."""
    predicted = np.argmax(probabilities, axis=1)
    names = list(LABELS)
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    per_class = {}
    for name, index in LABELS.items():
        count = int(matrix[index].sum())
        per_class[name] = {
            "tensors": count,
            "accuracy": float(matrix[index, index] / count) if count else None,
        }
    total = int(matrix.sum())
    return {
        "accuracy": float(np.trace(matrix) / total) if total else None,
        "per_class": per_class,
        "confusion": {"labels": names, "matrix": matrix.tolist()},
    }


def validation_metrics(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    return {
        "tensors": int(len(labels)),
        **class_accuracy(probabilities, labels),
        "roc": roc_by_type(probabilities, labels),
    }


def report_paths(prefix: str) -> tuple[str, str]:
    return prefix + ".report.json", prefix + ".report.html"


def publish_model(
    weights: PartialOutput, json_path: str, description: bytes, report: dict[str, Any], prefix: str
) -> tuple[str, str]:
    """Every file of a trained model published together, or none: the two reports, the weights
    (written at ``weights``' temporary), then the description ``score`` loads, last. Published
    one by one, a full disk or an interrupt while the report rendered left a loadable
    ``.hd5`` + ``.json`` from a run that said it wrote nothing."""
    json_report, html_report = report_paths(prefix)
    page = render_html(report).encode()
    text = (json.dumps(report, indent=2) + "\n").encode()
    write_all_or_none([(json_report, text), (html_report, page), weights, (json_path, description)])
    return json_report, html_report


def _curve_plot(history: dict[str, list[float]], key: str, title: str) -> str:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(5.5, 4))
    axes = figure.subplots()
    sides = ((key, "training", "#1f5fa8"), (f"val_{key}", "validation", "#c0392b"))
    for name, label, color in sides:
        values = history.get(name) or []
        axes.plot(range(1, len(values) + 1), values, marker="o", label=label, color=color)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel(key)
    axes.set_title(title)
    axes.legend()
    return png_base64(figure)


def _roc_plot(roc: dict[str, dict[str, Any]]) -> str:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.5, 5))
    axes = figure.subplots()
    for (kind, entry), color in zip(roc.items(), ("#1f5fa8", "#2e8b57"), strict=True):
        if entry["auc"] is not None:
            label = f"{kind} AUC {entry['auc']:.3f}"
            axes.plot(entry["fpr"], entry["tpr"], color=color, label=label)
    axes.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1)
    axes.set_xlabel("false positive rate (NOT_* scored above the cut)")
    axes.set_ylabel("true positive rate")
    axes.set_title("ROC on the validation set, by variant type")
    if any(entry["auc"] is not None for entry in roc.values()):
        axes.legend(loc="lower right")
    return png_base64(figure)


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _table(rows: list[tuple[str, Any]]) -> str:
    return "\n".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(_number(value))}</td></tr>"
        for name, value in rows
    )


def render_html(report: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    history, validation = report["history"], report["validation"]
    plots = {
        "loss": _curve_plot(history, "loss", "Categorical cross-entropy"),
        "accuracy": _curve_plot(history, "accuracy", "Accuracy"),
        "roc": _roc_plot(validation["roc"]),
    }
    images = figures(plots)
    training = report["training"]
    summary = _table(
        [
            ("model", f"{report['model']['id']} ({report['model']['tensor_type']})"),
            ("parameters", report["model"]["parameters"]),
            (
                "tensors (training / validation)",
                f"{training['tensors']:,} / {validation['tensors']:,}",
            ),
            ("epochs run", training["epochs_run"]),
            ("best epoch (weights kept)", training["best_epoch"]),
            ("stopped early", "yes" if training["stopped_early"] else "no"),
            ("validation accuracy", validation["accuracy"]),
            *((f"{kind} ROC AUC", entry["auc"]) for kind, entry in validation["roc"].items()),
            ("training seconds", training["seconds"]),
        ]
    )
    per_class = "\n".join(
        f"<tr><th>{html.escape(name)}</th><td>{entry['tensors']:,}</td>"
        f"<td>{html.escape(_number(entry['accuracy']))}</td></tr>"
        for name, entry in validation["per_class"].items()
    )
    names = validation["confusion"]["labels"]
    confusion = "<tr><th>true \\ predicted</th>" + "".join(f"<th>{n}</th>" for n in names) + "</tr>"
    confusion += "\n".join(
        f"<tr><th>{name}</th>" + "".join(f"<td>{v:,}</td>" for v in row) + "</tr>"
        for name, row in zip(names, validation["confusion"]["matrix"], strict=True)
    )
    outputs = "\n".join(
        f"<tr><th>{html.escape(kind)}</th><td>{html.escape(entry['path'])}</td>"
        f"<td><code>{entry['sha256']}</code></td></tr>"
        for kind, entry in report["outputs"].items()
    )
    stores = "\n".join(
        f"<tr><td>{html.escape(store['path'])}</td>"
        + "".join(f"<td>{store['counts'].get(name, 0):,}</td>" for name in names)
        + "</tr>"
        for store in report["data"]["stores"]
    )
    options = _table(list(report["options"].items()))
    body = f"""<h1>Training report: {html.escape(report["model"]["id"])}</h1>
<h2>Summary</h2><table>{summary}</table>
<h2>Curves</h2>
{images}
<h2>Validation accuracy per class</h2>
<table><tr><th>label</th><th>tensors</th><th>accuracy</th></tr>
{per_class}</table>
<h2>Confusion matrix (validation)</h2><table>{confusion}</table>
<h2>Training data</h2>
<table><tr><th>store</th>{"".join(f"<th>{n}</th>" for n in names)}</tr>
{stores}</table>
<h2>Options</h2><table>{options}</table>
<h2>Exported files</h2><table><tr><th>file</th><th>path</th><th>sha256</th></tr>
{outputs}</table>
<p>Schema {SCHEMA}; generated by cnnscore train {html.escape(report["cnnscore_version"])}.</p>
"""
    return page(f"cnnscore train: {report['model']['id']}", body)
