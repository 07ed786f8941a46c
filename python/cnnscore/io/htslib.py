"""What the htslib inside pysam was built with (its ``hts_feature_string``).

Why: BGZF decompression is most of what reading a BAM costs, and htslib inflates with libdeflate
when it was built with it and with zlib otherwise. PyPI's pysam wheels use zlib; cnnscore's
environment and image build pysam from source with libdeflate (Makefile, docker/Dockerfile), which
inflates faster (bench/RESULTS.md). A run reports which one it had.
"""

from __future__ import annotations

import ctypes
import functools


@functools.cache
def features() -> dict[str, str]:
    """htslib's build features as key -> value (``libdeflate`` -> ``yes``/``no``, ...); empty
    when the library does not say."""
    import pysam.libchtslib

    try:
        library = ctypes.CDLL(pysam.libchtslib.__file__)
        library.hts_feature_string.restype = ctypes.c_char_p
        text = library.hts_feature_string().decode()
    except (OSError, AttributeError):
        return {}
    return dict(item.split("=", 1) for item in text.split() if "=" in item)


def inflates_with_libdeflate() -> bool:
    return features().get("libdeflate") == "yes"
