"""Each side's throughput and settings, from its scoring runs' ``--metrics-json`` files (one
per shard), and the warnings they call for: compare's speeds are only as good as these files,
so a hand-edited or foreign one is refused, and two sides that ran one configuration, or on two
CPU models, are said to have.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from ..errors import InputError


@dataclass(frozen=True)
class Throughput:
    """One side's speed, summed over the metrics files of its shards (work, not wall clock)."""

    variants: int
    seconds: float
    #: the backends and precisions the metrics name
    backends: list[str]
    #: the CPU models the metrics name (none for metrics that name none)
    cpu_models: list[str] = field(default_factory=list)
    #: what each shard ran: backend, precision and batch sizes (_settings)
    settings: list[str] = field(default_factory=list)

    @property
    def variants_per_minute(self) -> float | None:
        return 60.0 * self.variants / self.seconds if self.seconds > 0 else None


def _settings(metrics: dict) -> str:
    """What a scoring run was asked to run, as its metrics say: the batch sizes too, as a
    configuration's misspelt field is dropped by Cromwell and miniwdl without a word (WDL 1.0
    structs keep the fields they declare), and the run it names takes the defaults."""
    settings = f"{metrics.get('backend', '?')} {metrics.get('precision', '?')}"
    batches = metrics.get("inference_batch_size"), metrics.get("transfer_batch_size")
    if all(type(size) is int for size in batches):
        settings += f", batches {batches[0]}/{batches[1]}"
    return settings


def read_throughput(paths: list[str]) -> Throughput | None:
    """Sum ``--metrics-json`` files (one per shard); None when none are given. Each must hold a
    whole, non-negative count and a positive, finite wall time (a hand-edited or foreign file
    would otherwise make a speed of infinity or below zero, and a gate pass on it)."""
    if not paths:
        return None
    variants, seconds, backends, models, settings = 0, 0.0, set(), set(), set()
    for path in paths:
        try:
            with open(path) as handle:
                metrics = json.load(handle)
            count, wall = metrics["variants_scored"], metrics["wall_seconds"]
            backends.add(f"{metrics.get('backend', '?')} {metrics.get('precision', '?')}")
            settings.add(_settings(metrics))
            if metrics.get("cpu_model"):
                models.add(str(metrics["cpu_model"]))
        except FileNotFoundError:
            raise InputError("metrics file does not exist", path=path) from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise InputError(
                f"not a cnnscore --metrics-json file ({type(err).__name__}: {err})", path=path
            ) from None
        if type(count) is not int or count < 0:
            raise InputError(f"variants_scored {count!r} is not a count of variants", path=path)
        if type(wall) not in (int, float) or not 0 < wall < math.inf:
            raise InputError(f"wall_seconds {wall!r} is not a run's time in seconds", path=path)
        variants += count
        seconds += wall
    throughput = Throughput(variants, seconds, sorted(backends), sorted(models), sorted(settings))
    if not math.isfinite(throughput.variants_per_minute or 0.0):
        raise InputError(
            f"{variants:,} variants in {seconds!r} s is no speed", path=", ".join(paths)
        )
    return throughput


def same_settings_warning(
    throughputs: tuple[Throughput | None, Throughput | None],
) -> str | None:
    """Said when both sides' metrics name the same backend, precision and batch sizes (the
    fields of the validation workflow's configurations): a comparison of one configuration with
    itself, which is what a configuration whose only difference was a misspelt field runs."""
    baseline, candidate = throughputs
    if baseline is None or candidate is None or baseline.settings != candidate.settings:
        return None
    return (
        "the baseline and the candidate ran the same backend, precision and batch sizes "
        f"({'; '.join(baseline.settings)}): if they were meant to differ, check the "
        "configurations' field names (Cromwell and miniwdl drop a field a struct does not "
        "declare without a word)"
    )


def cpu_model_warning(throughputs: tuple[Throughput | None, Throughput | None]) -> str | None:
    """Said when the metrics name more than one CPU model: the speeds then compare machines as
    well as configurations (on Google, one minimum CPU platform still allows newer ones)."""
    sides = {"baseline": throughputs[0], "candidate": throughputs[1]}
    named = {side: t.cpu_models for side, t in sides.items() if t is not None and t.cpu_models}
    models = {model for side in named.values() for model in side}
    if len(models) < 2:
        return None
    where = "; ".join(f"{side} on {', '.join(side_models)}" for side, side_models in named.items())
    return (
        f"the metrics name {len(models)} CPU models ({where}): the throughput compares machines, "
        "not only configurations; score both sides on one CPU model to compare them"
    )
