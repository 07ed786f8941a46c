"""What an output path must be before any work is done: its folder there and writable, its name
within the file system's limit, and nothing at it (or beside it, where its index goes) that
publishing would destroy: a symbolic link, a device, a pipe, a folder. Checked first, so that a
run never computes for an hour to find at the end that it cannot write (io.files publishes).
"""

from __future__ import annotations

import os
import stat

from ..errors import InputError

#: NAME_MAX where the file system does not say (POSIX file systems on Linux and macOS all use it)
_DEFAULT_NAME_MAX = 255


def name_max(folder: str) -> int:
    """The longest file name, in bytes, the file system holding ``folder`` takes."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return _DEFAULT_NAME_MAX


def _subject(written: str, output: str | None) -> str:
    """What an error line about ``written`` speaks of, after the output's path: the output
    itself, or which file beside it."""
    return "" if output in (None, written) else f"{written}, written beside it, "


def check_name_fits(written: str, output: str | None = None) -> None:
    """Refuse ``written`` (``output`` itself, or a file published beside it) when its name is
    longer than its folder's file system takes: the temporaries are cut to fit, so nothing else
    would find it before the final rename, after all the work."""
    folder, name = os.path.split(os.path.abspath(written))
    size, limit = len(os.fsencode(name)), name_max(folder)
    if size > limit:
        beside = _subject(written, output)
        what = f"{beside}would have a name" if beside else "name"
        raise InputError(
            f"{what} too long ({size} bytes; this file system takes at most {limit}): give a "
            "shorter name",
            path=output or written,
        )


def check_replaceable(written: str, output: str) -> None:
    """Refuse a symbolic link, device, pipe or socket at ``written`` (``output`` or a file
    published beside it): the rename that publishes the output would replace it with a regular
    file, destroying a device node such as /dev/null (as root) or a link, and a reader waiting on a
    pipe would wait forever.

    A link is refused, not followed. Following it would mean publishing in the folder of the file
    it points to, which the user did not name (another file system maybe, where the index written
    beside the output's own name cannot be renamed to), and splitting an output from its index:
    htslib looks for ``name.tbi`` beside the name it was given, the link, while the file written
    would be the target. The line names the target, so the fix is one edit.
    """
    try:
        info = os.lstat(written)
    except OSError:
        return  # absent (the usual case), or its folder is not one: check_output_folder says so
    if stat.S_ISLNK(info.st_mode):
        if _is_stream(written):  # /dev/stdout and the like: the link's advice would not help
            raise InputError(
                f"{_subject(written, output)}leads to a device, pipe or socket (through "
                f"{os.readlink(written)}): outputs appear only when complete, so they cannot be "
                "streamed; give a file's path",
                path=output,
            )
        raise InputError(
            f"{_subject(written, output)}is a symbolic link (to {os.readlink(written)}): writing "
            "would replace the link; give the path it points to, or remove the link",
            path=output,
        )
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        raise InputError(
            f"{_subject(written, output)}is not a regular file (a device, pipe or socket): "
            "give another path",
            path=output,
        )


def _is_stream(link: str) -> bool:
    """Whether the link ends at something that is neither a regular file nor a folder."""
    try:
        mode = os.stat(link).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def check_output_folder(path: str, *, file: bool = False, companions: tuple[str, ...] = ()) -> None:
    """The folder ``path`` goes into exists and is writable; ``path`` and the files written
    beside it (``path + suffix``) are not what publishing the output would destroy (a link, a
    device, a pipe); neither ``path`` (an output ``file``) nor a file beside it is a folder, which
    only the final rename would find; ``path``'s name fits the file system. Checked before any
    work is done."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        problem = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise InputError(f"output folder {problem}", path=path)
    if not os.access(folder, os.W_OK):
        raise InputError("output folder is not writable", path=path)
    check_name_fits(path)
    for written in [path] + [path + suffix for suffix in companions]:
        check_replaceable(written, path)
    for written in ([path] if file else []) + [path + suffix for suffix in companions]:
        if os.path.isdir(written):
            if written == path:
                raise InputError("is a folder: the output needs a file's name", path=path)
            raise InputError(f"a folder is where its index goes: {written}", path=path)
