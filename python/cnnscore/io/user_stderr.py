"""The descriptor of the user's own stderr, for what must reach the user whatever else happens.

``cli.library_output`` points descriptor 2 at a pipe whose ``cnnscore:`` lines a Python thread
forwards. Output written where no Python thread may run again (a process about to end, or one
whose GIL is held by a hung thread: ``scoring.stall``) must skip that pipe and go here.
"""

from __future__ import annotations

_descriptor = 2


def descriptor() -> int:
    """The user's stderr: 2, unless a command's library-output filter holds a copy elsewhere."""
    return _descriptor


def set_descriptor(fd: int) -> None:
    global _descriptor
    _descriptor = fd
