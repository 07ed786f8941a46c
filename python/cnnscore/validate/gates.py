"""``--fail-if`` thresholds: let a pipeline stop when a candidate backend drifts too far.

A gate is ``<summary metric><op><number>`` (ops ``>``, ``>=``, ``<``, ``<=``), checked against the
flat ``summary`` block of report.json. Gates are parsed before any file is read, so a typo fails in
a second instead of after a long comparison.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from ..errors import InputError

_OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_GATE = re.compile(r"^\s*([a-z0-9_]+)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str
    threshold: float

    @property
    def text(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"

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
        gates.append(Gate(metric, op, threshold))
    return gates


def evaluate_gates(gates: list[Gate], summary: dict[str, float | int | None]) -> list[dict]:
    """One entry per gate; a gate on a metric that was not measured is an error, not a pass."""
    results = []
    for gate in gates:
        value = summary.get(gate.metric)
        if value is None:
            raise InputError(
                f"{gate.text}: {gate.metric} was not measured in this comparison "
                "(concordance needs --snp-cutoff/--indel-cutoff or --compare-filters; "
                "throughput needs both --baseline-metrics and --candidate-metrics)",
                setting="fail_if",
            )
        results.append({"gate": gate.text, "value": value, "failed": gate.fails(float(value))})
    return results
