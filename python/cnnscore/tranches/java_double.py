"""Numbers as Java reads them (``Double.parseDouble``): GATK reads a score from the INFO text and
a tranche from its command line so, and Python's ``float`` takes more (``1_0`` is 10 to Python,
no number to Java) and less (``1.5d``, hexadecimal ``0x1p3``). Digits are ASCII only: Java takes no
others, while Python's ``float`` and regex digit class take any script's (``٣`` is 3 there)."""

from __future__ import annotations

import argparse
import re

_JAVA_DOUBLE = re.compile(
    r"[+-]?(?:NaN|Infinity"
    r"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?"
    r"|0[xX](?:[0-9a-fA-F]+\.?|[0-9a-fA-F]*\.[0-9a-fA-F]+)[pP][+-]?[0-9]+[fFdD]?)"
)
_JAVA_WHITESPACE = "".join(chr(code) for code in range(33))


def parse_java_double(text: str) -> float:
    """``Double.parseDouble``; ValueError if it is not a number Java would accept."""
    stripped = text.strip(_JAVA_WHITESPACE)
    if not _JAVA_DOUBLE.fullmatch(stripped):
        raise ValueError(text)
    if stripped[-1] in "fFdD":
        stripped = stripped[:-1]
    return float.fromhex(stripped) if "x" in stripped.lower() else float(stripped)


def tranche(text: str) -> float:
    """A tranche value as GATK's parser reads it (``--snp-tranche 1_0`` is no number there)."""
    try:
        return parse_java_double(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
