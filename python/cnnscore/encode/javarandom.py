"""java.util.Random and GATK's ReservoirDownsampler, bit for bit.

GATK downsamples the reads of each variant with one process-wide ``java.util.Random`` seeded with
47382911, so which reads a deep site keeps depends on every earlier draw. Reproducing the exact
stream is the only way to get GATK's tensors at sites with more reads than the read limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")

GATK_RANDOM_SEED = 47382911
_MULTIPLIER = 0x5DEECE66D
_ADDEND = 0xB
_MASK = (1 << 48) - 1


class JavaRandom:
    """The 48-bit linear congruential generator of ``java.util.Random``."""

    def __init__(self, seed: int = GATK_RANDOM_SEED):
        self._seed = (seed ^ _MULTIPLIER) & _MASK

    def next_bits(self, bits: int) -> int:
        self._seed = (self._seed * _MULTIPLIER + _ADDEND) & _MASK
        value = self._seed >> (48 - bits)
        # Java returns a signed 32-bit int; only bits == 32 can set the sign bit.
        if value & 0x80000000:
            value -= 1 << 32
        return value

    def next_int(self, bound: int) -> int:
        """``Random.nextInt(bound)``, including the power-of-two shortcut and rejection loop."""
        if bound <= 0:
            raise ValueError("bound must be positive")
        if bound & (bound - 1) == 0:
            return (bound * self.next_bits(31)) >> 31
        while True:
            bits = self.next_bits(31)
            value = bits % bound
            # Java rejects when bits - value + (bound - 1) overflows a signed 32-bit int.
            if bits - value + (bound - 1) < (1 << 31):
                return value


def reservoir_sample(items: Iterable[T], limit: int, rng: JavaRandom) -> list[T]:
    """Vitter's algorithm R exactly as GATK's ReservoirDownsampler applies it.

    The first ``limit`` items are kept in order; the k-th item (1-based, k > limit) replaces slot
    ``rng.next_int(k)`` when that slot is below the limit. The slot order is the output order.
    """
    reservoir: list[T] = []
    for seen, item in enumerate(items, 1):
        if seen <= limit:
            reservoir.append(item)
        else:
            slot = rng.next_int(seen)
            if slot < limit:
                reservoir[slot] = item
    return reservoir
