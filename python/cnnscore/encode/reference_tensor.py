"""The 1D ``reference`` tensor and the annotation vector, as GATK's Python side builds them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import InputError

#: GATK's ambiguity-code vectors in (A, C, G, T) order. Several do not match IUPAC meaning
#: (R, Y, S, W, V, H are permuted); they are what the models were trained with, so they stay.
AMBIGUITY_CODES: dict[str, tuple[float, float, float, float]] = {
    "K": (0.0, 0.0, 0.5, 0.5),
    "M": (0.5, 0.5, 0.0, 0.0),
    "R": (0.5, 0.0, 0.0, 0.5),
    "Y": (0.0, 0.5, 0.5, 0.0),
    "S": (0.0, 0.5, 0.0, 0.5),
    "W": (0.5, 0.0, 0.5, 0.0),
    "B": (0.0, 0.333, 0.333, 0.334),
    "V": (0.333, 0.333, 0.0, 0.334),
    "H": (0.333, 0.333, 0.334, 0.0),
    "D": (0.333, 0.0, 0.333, 0.334),
    "X": (0.25, 0.25, 0.25, 0.25),
    "N": (0.25, 0.25, 0.25, 0.25),
}
DNA_SYMBOLS = "ACGT"


def _base_vectors() -> tuple[np.ndarray, np.ndarray]:
    """(256, 4) vectors per byte for A/C/G/T (one-hot) and ambiguity codes, and a known mask."""
    table = np.zeros((256, 4), dtype=np.float64)
    known = np.zeros(256, dtype=bool)
    for index, base in enumerate(DNA_SYMBOLS):
        table[ord(base), index] = 1.0
        known[ord(base)] = True
    for code, vector in AMBIGUITY_CODES.items():
        table[ord(code)] = vector
        known[ord(code)] = True
    return table, known


BASE_VECTORS, KNOWN_BASES = _base_vectors()


def reference_tensor(window: bytes) -> np.ndarray:
    """(len(window), 4) encoding of the reference window; rows after the first NUL stay zero."""
    codes = np.frombuffer(window, dtype=np.uint8)
    nul = np.flatnonzero(codes == 0)
    used = codes[: nul[0]] if nul.size else codes
    if not KNOWN_BASES[used].all():
        bad = chr(used[~KNOWN_BASES[used]][0])
        raise ValueError(f"unknown reference base {bad!r}")
    tensor = np.zeros((len(codes), 4), dtype=np.float32)
    tensor[: len(used)] = BASE_VECTORS[used]
    return tensor


def annotation_vector(
    info: dict[str, str | None], keys: Sequence[str], *, path: str, record: str
) -> np.ndarray:
    """The model's annotation input: raw INFO floats in key order, absent or NaN -> 0.

    GATK parses the raw text with Python ``float``; a ``.``, a flag or a list cannot be parsed and
    stops the tool, which here is a clear error naming the key. An infinite value (or one that
    overflows float32) is refused too, where GATK passed it on: through the network it meets
    inf - inf, and what comes out differs between runtimes (0.148 on TensorFlow and OpenVINO,
    NaN on ONNX Runtime, which the filter then refuses).
    """
    vector = np.zeros(len(keys), dtype=np.float32)
    for index, key in enumerate(keys):
        if key not in info:
            continue
        text = info[key]
        try:
            if text is None:
                raise ValueError
            value = float(text)
        except ValueError:
            shown = "a flag with no value" if text is None else f"'{text}'"
            raise InputError(
                f"annotation {key} is {shown}, which the model cannot use (GATK fails here too)",
                path=path,
                record=record,
            ) from None
        if math.isnan(value):
            continue
        if not math.isfinite(np.float32(value)):
            raise InputError(
                f"annotation {key} is '{text}', beyond what a 32-bit float holds: the model's "
                "result would be an accident of the runtime (GATK passes it on; its backends "
                "disagree, NaN on one, a number on another)",
                path=path,
                record=record,
            )
        vector[index] = value
    return vector
