"""``--fail-if`` thresholds: let a pipeline stop when a candidate backend drifts too far.

A gate is ``<summary metric><op><number>`` (ops ``>``, ``>=``, ``<``, ``<=``), checked against the
flat ``summary`` block of report.json. Gates are parsed before any file is read, so a typo fails in
a second instead of after a long comparison.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass

from ..errors import InputError

_OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_GATE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")
_THROUGHPUT = "it needs both --baseline-metrics and --candidate-metrics"
#: why a metric can be missing from a comparison (the deltas are there whenever it succeeds)
_UNMEASURED = {
    "concordance": "it needs --snp-cutoff/--indel-cutoff, and a record of a type given one in "
    "both files, or --compare-filters",
    "baseline_variants_per_minute": _THROUGHPUT,
    "candidate_variants_per_minute": _THROUGHPUT,
    "speedup": _THROUGHPUT,
}


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str
    threshold: float

    @property
    def text(self) -> str:
        number = repr(self.threshold)  # every digit given (":g" kept six)
        return f"{self.metric}{self.op}{number.removesuffix('.0')}"

    def fails(self, value: float) -> bool:
        return _OPERATORS[self.op](value, self.threshold)


def parse_gates(texts: list[str], known_metrics: tuple[str, ...]) -> list[Gate]:
    gates = []
    for text in texts:
        match = _GATE.match(text)
        if not match:
            raise InputError(
                f"'{text}' is not METRIC<op>NUMBER with op one of > >= < <=", setting="fail_if"
            )
        metric, op, number = match.groups()
        if metric not in known_metrics:
            raise InputError(
                f"unknown metric '{metric}'; known: {', '.join(known_metrics)}", setting="fail_if"
            )
        try:
            threshold = float(number)
        except ValueError:
            raise InputError(f"'{number}' is not a number in '{text}'", setting="fail_if") from None
        if not math.isfinite(threshold):  # 1e400: a gate that could never hold
            raise InputError(f"'{number}' is not a finite number in '{text}'", setting="fail_if")
        gates.append(Gate(metric, op, threshold))
    return gates


def evaluate_gates(gates: list[Gate], summary: dict[str, float | int | None]) -> list[dict]:
    """One entry per gate; a gate on a metric that was not measured is an error, not a pass."""
    results = []
    for gate in gates:
        value = summary.get(gate.metric)
        if value is None:
            why = _UNMEASURED.get(gate.metric, "nothing was compared")
            raise InputError(
                f"{gate.text}: {gate.metric} was not measured in this comparison ({why})",
                setting="fail_if",
            )
        results.append({"gate": gate.text, "value": value, "failed": gate.fails(float(value))})
    return results
