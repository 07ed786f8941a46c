"""Small file helpers every writer shares: complete-or-nothing writes and content hashes.

An output must never be left half-written as if complete, and shipped or fetched model files are
identified by sha256; both are needed by several commands, so they live here once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

from ..errors import InputError


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_output_folder(path: str) -> None:
    """The folder ``path`` goes into exists and is writable: checked before any work is done."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        problem = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise InputError(f"output folder {problem}", path=path)
    if not os.access(folder, os.W_OK):
        raise InputError("output folder is not writable", path=path)


def write_atomically(path: str, data: bytes) -> None:
    """Write ``path`` complete or not at all (a temporary sibling, renamed)."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.partial-", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 is for the partial file only
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
