"""Input locations that are not plain local files: htslib URLs with their indexes attached, and
how locations are shown to the user.

``gs://`` inputs reach the readers as loopback ``http://`` URLs (see
:mod:`cnnscore.gcs.remote_files`) whose indexes are local files, joined by htslib's ``##idx##``
delimiter. htslib itself understands
it for BAM/CRAM/VCF; the FASTA reader splits it here (index, then the .gzi of a bgzip FASTA).

Such stand-ins (cache paths, loopback URLs, staging files) must not leak into what the user reads:
messages, reports and manifests name the user's ``gs://`` paths. The gs:// layer installs the
renaming for the run (:func:`shown_as`); writers pass what they show through :func:`user_facing`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import InputError

_rename: Callable[[str], str] | None = None


@contextmanager
def shown_as(rename: Callable[[str], str]) -> Iterator[None]:
    """While active, :func:`user_facing` puts the user's names back with ``rename``."""
    global _rename
    previous, _rename = _rename, rename
    try:
        yield
    finally:
        _rename = previous


def user_facing(value: Any) -> Any:
    """``value`` (text, or JSON-like dicts and lists of it) with stand-ins renamed."""
    if _rename is None:
        return value
    if isinstance(value, str):
        return _rename(value)
    if isinstance(value, dict):
        return {key: user_facing(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(user_facing(item) for item in value)
    return value


INDEX_DELIMITER = "##idx##"
_URL_SCHEMES = ("http://", "https://", "ftp://")


def split_indexes(location: str) -> tuple[str, list[str]]:
    """(the file or URL, the index paths attached to it)."""
    main, *indexes = location.split(INDEX_DELIMITER)
    return main, indexes


def local_file_and_index(location: str, missing: str) -> tuple[str, str | None]:
    """(a local file, the one index attached to it as ``FILE##idx##INDEX`` or None), both
    checked to exist: the file's absence is ``missing``, said of it."""
    path, attached = split_indexes(location)
    if not os.path.isfile(path):
        raise InputError(_not_a_file(path) or missing, path=path)
    if len(attached) > 1:
        raise InputError(
            f"{len(attached)} indexes attached ({INDEX_DELIMITER}): give one", path=path
        )
    if attached and not os.path.isfile(attached[0]):
        raise InputError(f"its index {attached[0]} does not exist", path=path)
    return path, attached[0] if attached else None


def _not_a_file(path: str) -> str | None:
    """Why a path that exists is no input file, or None where nothing is there. A pipe
    (``-V /dev/stdin`` fed by ``cat``) exists but can be read only once, and a VCF is read more
    than once (its header, then its records; split-intervals counts them first)."""
    if os.path.isdir(path):
        return "is a folder, not a file"
    if os.path.exists(path):
        return (
            "is not a regular file (a pipe or a device): it is read more than once, so it must "
            "be a file; save the stream to one first"
        )
    return None


def same_file(first: str, second: str) -> bool:
    """The same file: by identity where both exist (links included), else by resolved path; URLs
    (and ``gs://`` objects) by name."""
    if "://" in first or "://" in second:
        return first == second
    if os.path.exists(first) and os.path.exists(second):
        return os.path.samefile(first, second)
    return os.path.realpath(first) == os.path.realpath(second)


def first_repeat(locations: list[str]) -> tuple[str, str] | None:
    """The first location (its index set aside) naming the same file as an earlier one, with
    that earlier one; None when each names its own. For inputs that would count twice."""
    seen: list[str] = []
    for location in locations:
        path = split_indexes(location)[0]
        for earlier in seen:
            if same_file(path, earlier):
                return path, earlier
        seen.append(path)
    return None


def is_url(location: str) -> bool:
    return location.startswith(_URL_SCHEMES)


def exists(location: str) -> bool:
    """A local file that exists, or a URL (whose existence the remote layer already checked)."""
    main, _ = split_indexes(location)
    return is_url(main) or os.path.isfile(main)


#: The index names htslib looks for beside a reads file, each as ``x.bam`` + suffix and then as
#: ``x`` + suffix, in this order: whichever exists first is the one it reads.
READS_INDEX_SUFFIXES = (".csi", ".bai", ".crai")


def index_of(location: str) -> str | None:
    """The index htslib will use for a reads file: the one attached with ``##idx##``, else one
    beside it, looked for in htslib's order (``x.bam.csi``, ``x.csi``, then ``x.bam.bai``,
    ``x.bai`` and .crai likewise: a .csi beside the file wins even over a good .bai, so it is
    the one to check); None for a remote file with none attached (htslib looks beside it by
    URL)."""
    if INDEX_DELIMITER in location:
        return location.split(INDEX_DELIMITER, 1)[1]
    if is_url(location):
        return None
    stem, _ = os.path.splitext(location)
    for suffix in READS_INDEX_SUFFIXES:
        for candidate in (location + suffix, stem + suffix):
            if os.path.isfile(candidate):
                return candidate
    return None
