"""The compiled read-tensor encoder (``_pileup.pyx``) behind the same interface as the Python one.

``--encoder python`` is the reference: :mod:`.reads` selects GATK's reads and :mod:`.read_tensor`
builds the tensor from them, step by step as GATK's Python does. The compiled module does the
same from pysam's records in C, byte for byte (tests compare the two on real and stress BAMs),
6-17 times faster (bench/encoders.py, bench/RESULTS.md). It reads pysam's record struct
directly, so it runs only with the pysam it was compiled against; ``auto`` (the default) uses
it when it is there and usable and says why not otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from .javarandom import JavaRandom
from .read_tensor import P_CALLED, P_OTHER, read_tensor, stored_height
from .reads import ReadSource
from .reference_tensor import BASE_VECTORS, KNOWN_BASES

_P_CALLED = P_CALLED.astype(np.float32)
_P_OTHER = P_OTHER.astype(np.float32)
_BASE_VECTORS = BASE_VECTORS.astype(np.float32)
_KNOWN_BASES = KNOWN_BASES.astype(np.uint8)


def unavailable_reason() -> str | None:
    """Why the compiled encoder cannot run here, or None when it can."""
    try:
        import pysam

        from . import _pileup
    except ImportError as err:
        return f"not built ({err})"
    if pysam.__version__ != _pileup.BUILT_WITH_PYSAM:
        return f"built for pysam {_pileup.BUILT_WITH_PYSAM}, running pysam {pysam.__version__}"
    return None


def resolve_encoder(name: str) -> str:
    """``compiled`` or ``python`` for ``--encoder``; ``auto`` falls back to Python with a note."""
    if name == "python":
        return "python"
    reason = unavailable_reason()
    if reason is None:
        return "compiled"
    if name == "compiled":
        raise InputError(f"the compiled encoder is unavailable: {reason}", setting="encoder")
    print(
        f"cnnscore: warning: the compiled encoder is unavailable ({reason}); using the Python "
        "encoder (same tensors, 6-17x slower)",
        file=sys.stderr,
    )
    return "python"


class CompiledReadTensors:
    """Per variant: GATK's reads from the open files, then the compact 2D tensor."""

    def __init__(self, source: ReadSource):
        from . import _pileup

        self._pileup = _pileup
        self._source = source
        self._selector = _pileup.ReadSelector(source.files, source.blacklisted_read_groups)

    def encode(
        self,
        contig: str,
        pos: int,
        end: int,
        type_label: str,
        reference_window: bytes,
        window: int,
        read_limit: int,
        rng: JavaRandom,
        *,
        record: str,
        heights: Sequence[int] = (),
    ) -> tuple[np.ndarray, int]:
        """(compact tensor, reads kept), as ReadSource.reads_for_variant + read_tensor give
        (``heights``: read_tensor.stored_height)."""
        try:
            reads = self._selector.select(contig, pos, end, read_limit, rng)
        except (OSError, ValueError) as err:
            raise self._source.read_failure(contig, pos, err, record) from None
        if self._selector.first_without_read_group is not None:
            self._source.warn_no_read_group(self._selector.first_without_read_group)
            self._selector.first_without_read_group = None
        kept = min(len(reads), read_limit)
        try:
            tensor = self._pileup.read_tensor(
                reads, pos, type_label, reference_window, window, read_limit,
                stored_height(kept, read_limit, heights),
                _P_CALLED, _P_OTHER, _BASE_VECTORS, _KNOWN_BASES,
            )  # fmt: skip
        except (self._pileup.TooManyPads, ValueError):
            # more insertion keys than it holds (never seen), or a read it cannot encode: the
            # Python encoder builds the same tensor, or says which fault (ReadSymbolError)
            rows = [self._source.read_data(read) for read in reads]
            tensor = read_tensor(
                rows, pos, type_label, reference_window, window, read_limit, compact=True,
                heights=heights,
            )  # fmt: skip
        return tensor, kept
