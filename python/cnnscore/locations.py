"""Input locations that are not plain local files: htslib URLs with their indexes attached.

``gs://`` inputs reach the readers as loopback ``http://`` URLs (see :mod:`cnnscore.remote_files`)
whose indexes are local files, joined by htslib's ``##idx##`` delimiter. htslib itself understands
it for BAM/CRAM/VCF; the FASTA reader splits it here (index, then the .gzi of a bgzip FASTA).
"""

from __future__ import annotations

import os

INDEX_DELIMITER = "##idx##"
_URL_SCHEMES = ("http://", "https://", "ftp://")


def split_indexes(location: str) -> tuple[str, list[str]]:
    """(the file or URL, the index paths attached to it)."""
    main, *indexes = location.split(INDEX_DELIMITER)
    return main, indexes


def is_url(location: str) -> bool:
    return location.startswith(_URL_SCHEMES)


def exists(location: str) -> bool:
    """A local file that exists, or a URL (whose existence the remote layer already checked)."""
    main, _ = split_indexes(location)
    return is_url(main) or os.path.isfile(main)
