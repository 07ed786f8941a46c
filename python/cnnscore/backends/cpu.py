"""The CPU's instruction sets that decide which precisions run natively, and how fast.

Reduced precisions are a property of the machine as much as of the flag: OpenVINO runs bf16 only
with avx512_bf16 or AMX (and, unasked, picks it there), int8 is fast only with VNNI (avx512_vnni,
or avx_vnni, its 256-bit form on CPUs without AVX-512 such as Intel's E-core servers) or AMX. So
every record of a run (metrics JSON, VCF header provenance, benchmark) names the sets present,
and a number can always be traced to the kind of CPU that produced it.
"""

from __future__ import annotations

import functools

#: The sets that matter for inference, as /proc/cpuinfo spells them.
RELEVANT = (
    "avx2",
    "avx_vnni",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)


def parse_cpuinfo_flags(text: str) -> set[str]:
    """The ``flags`` of the first processor in /proc/cpuinfo text."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def relevant_sets(flags: set[str]) -> tuple[str, ...]:
    """The :data:`RELEVANT` sets among ``flags``, in one order: every record spells a CPU alike."""
    return tuple(name for name in RELEVANT if name in flags)


@functools.cache
def instruction_sets() -> tuple[str, ...]:
    """The relevant sets this CPU has, in :data:`RELEVANT` order; empty when unknown."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = parse_cpuinfo_flags(handle.read())
    except OSError:
        return ()
    return relevant_sets(flags)


def describe() -> str:
    """The sets as one space-separated word list (``unknown`` off Linux)."""
    return " ".join(instruction_sets()) or "unknown"


def has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (avx512_bf16 or AMX), where OpenVINO's CPU plugin
    runs bf16, asked or, without an f32 hint, unasked."""
    return bool({"avx512_bf16", "amx_bf16"} & set(instruction_sets()))
