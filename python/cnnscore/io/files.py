"""Small file helpers every writer shares: complete-or-nothing outputs and content hashes.

An output must never be left half-written as if complete, and shipped or fetched model files are
identified by sha256; both are needed by several commands, so they live here once. The commands'
outputs (VCFs with their indexes, tensor stores, weights, reports, metrics, interval lists) and
downloads into a cache all go through :func:`complete_or_nothing`: built under a hidden temporary
sibling, renamed onto their name when complete, removed on any failure or interruption. What
such a rename would destroy (a symbolic link, a device such as /dev/null, a pipe) is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from re import Pattern

from ..errors import InputError
from .output_paths import check_name_fits, check_replaceable, name_max

#: Temporaries are ``.{name}.partial-{random}{suffix}`` beside the output they become, the name
#: part cut short where the whole would not fit the file system's limit on a name.
PARTIAL_MARK = ".partial-"
_ATTEMPTS = 100
#: Bytes kept free in a temporary's name for what gets appended to it: an index (``.tbi``,
#: ``.csi``, by the tools that make it), a scratch ``.vcf``, a folder's ``.old`` set aside.
_APPENDED_ROOM = 16


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _temporary_name(name: str, suffix: str, limit: int) -> str:
    """``.{name}.partial-{random}{suffix}``, ``name`` cut short so that the whole, with room
    for what is appended to it, fits ``limit`` bytes: a name the file system takes must not be
    refused because its temporary is longer. ``suffix`` (the format, for tools that go by the
    extension) is kept whole."""
    tail = f"{PARTIAL_MARK}{secrets.token_hex(4)}{suffix}"
    room = limit - _APPENDED_ROOM - len(os.fsencode(f".{tail}"))
    stem = name
    while stem and len(os.fsencode(stem)) > room:
        stem = stem[: max(0, min(len(stem) - 1, room))]  # one character may be several bytes
    return f".{stem}{tail}"


def _create_temporary(path: str, folder: bool, suffix: str) -> str:
    """A new, empty, exclusively created sibling of ``path`` with a random part, so concurrent
    writers (threads or processes) never share one. Created with the modes a plain create uses
    (0o666 / 0o777 less the umask), so the output keeps them without reading the umask, which
    only ``os.umask`` can, process-wide and racing every other thread's file creation."""
    where, name = os.path.split(os.path.abspath(path))
    limit = name_max(where)
    for _ in range(_ATTEMPTS):
        temp = os.path.join(where, _temporary_name(name, suffix, limit))
        try:
            if folder:
                os.mkdir(temp, 0o777)
            else:
                os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return temp
    raise FileExistsError(f"no free temporary name beside {path}")


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held off while renames publish an output and its companions, then
    acted on: a stop that arrived between two renames raised between them (the handler runs at
    the next bytecode), after the first had happened and before the rollback could know it, and
    left an old VCF beside the new index, or part of a new shard set beside part of the old,
    under "no output written" (the interruption review). Held, the set is published whole and
    the stop then unwinds the run as usual. Python runs handlers in the main thread only, so
    elsewhere there is nothing to hold."""
    stops = (signal.SIGINT, signal.SIGTERM)
    # a handler set outside Python (None here) could not be put back: nothing is held then
    if threading.current_thread() is not threading.main_thread() or None in map(
        signal.getsignal, stops
    ):
        yield
        return
    caught: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda signum, _frame: caught.append(signum))
        for signum in stops
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            handler = previous[caught[0]]
            if callable(handler):
                handler(caught[0], None)
            elif handler != signal.SIG_IGN:  # the default action, or one set outside Python
                os.kill(os.getpid(), caught[0])


def _remove(path: str) -> None:
    """Remove a temporary file or folder tree; never raises (it runs while another error is on
    its way out), but says what it could not remove."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        print(f"cnnscore: warning: could not remove {path}: {err}", file=sys.stderr)


#: Under this much free space a failed write is taken to have failed for want of room: htslib's
#: BGZF, tabix and h5py report a full disk without errno ("Error flushing BGZFile object").
FULL_BELOW_BYTES = 1 << 20
#: Outputs abandoned while their folder was full, in order: the command line reports the last (the
#: outermost, the one the user named) as
#: "no space left on device" instead of the library's own error (cli.main).
abandoned_for_space: list[str] = []


def out_of_space(path: str) -> bool:
    """Whether the folder ``path`` is written into has (almost) no room left."""
    try:
        stat = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < FULL_BELOW_BYTES


class PartialOutput:
    """One output (a file, or a folder with ``folder=True``) built at :attr:`temp` and published
    at ``path`` by :meth:`commit`, or removed by :meth:`abort`: nothing else ever appears at
    ``path``. As a context manager it yields :attr:`temp`, commits when the block ends normally
    and aborts on any exception (KeyboardInterrupt and SystemExit included), which propagates.

    Files that belong with the output (an index) are written at :meth:`beside` paths and
    published with it, each before the output itself, so a reader that finds the output finds
    them. An existing non-empty folder at ``path`` is replaced whole; an empty one (a staging
    folder) is replaced as a file would be. A link, device, pipe or socket at ``path`` or at a
    companion's path is refused (InputError), never replaced.
    """

    def __init__(self, path: str, *, folder: bool = False, suffix: str = ""):
        check_replaceable(path, path)
        check_name_fits(path)
        if folder and os.path.exists(path) and not os.path.isdir(path):
            raise InputError("exists and is not a folder: the output is a folder", path=path)
        if not folder and os.path.isdir(path):
            raise InputError("is a folder: the output needs a file's name", path=path)
        self.path = path
        self.folder = folder
        self.temp = _create_temporary(path, folder, suffix)
        self._companions: list[tuple[str, bool]] = []  # (suffix, published at path + suffix)
        self._retired: list[str] = []  # suffixes of path + suffix removed when this is published
        self._open = True

    def beside(self, suffix: str, *, publish: bool = True) -> str:
        """The temporary path ``temp + suffix`` for a companion file the caller writes: renamed
        onto ``path + suffix`` at commit (before ``path``), or with ``publish=False`` a scratch
        file removed at commit. Either way it is removed on abort."""
        self._companions.append((suffix, publish))
        return self.temp + suffix

    def retire(self, suffix: str) -> None:
        """``path + suffix``, if there, must not outlive the publishing of the new output (an
        earlier output's index of another kind, which readers would take as the new one's):
        removed at commit, and left as it was if the output is never published."""
        self._retired.append(suffix)

    def commit(self) -> None:
        """Set the retired files and the earlier output's companions aside, publish the output,
        then its companions: a stop that no signal handler can hold (SIGKILL, a power cut) then
        leaves the new output without its index, never beside another output's index (gs://
        outputs are published in the same order). On failure before the output is published
        everything set aside is put back; after it (a companion's rename failing), the new
        output is removed too, and with it the earlier one's companions: whole or absent."""
        if not self._open:
            raise RuntimeError(f"{self.path}: output already committed or aborted")
        with signals_held():
            self._commit()

    def _commit(self) -> None:
        published: list[str] = []
        aside: list[str] = []
        companions = [suffix for suffix, publish in self._companions if publish]
        try:
            self._check_destinations()
            for suffix in [*self._retired, *companions]:
                if os.path.lexists(self.path + suffix):
                    os.replace(self.path + suffix, f"{self.temp}{suffix}.old")
                    aside.append(suffix)
            self._publish()
            published.append(self.path)
            for suffix in companions:
                os.replace(self.temp + suffix, self.path + suffix)
                published.append(self.path + suffix)
        except BaseException:
            for path in published:
                _remove(path)
            for suffix in aside:
                if published:  # the earlier output is gone: its companions go with it
                    _remove(f"{self.temp}{suffix}.old")
                    continue
                with contextlib.suppress(OSError):
                    os.replace(f"{self.temp}{suffix}.old", self.path + suffix)
            self.abort()
            raise
        self._open = False
        for suffix in aside:
            _remove(f"{self.temp}{suffix}.old")
        for suffix, publish in self._companions:
            if not publish:
                _remove(self.temp + suffix)

    def _check_destinations(self) -> None:
        """Checked again just before the renames: a link, device or pipe that appeared at a
        destination during the run (or a companion nobody checked) is refused, not replaced."""
        for suffix, publish in self._companions:
            if publish:
                check_replaceable(self.path + suffix, self.path)
        check_replaceable(self.path, self.path)

    def _publish(self) -> None:
        aside = None
        if self.folder and os.path.isdir(self.path) and os.listdir(self.path):
            aside = f"{self.temp}.old"  # rename cannot replace a non-empty folder: swap it out
            os.rename(self.path, aside)
        try:
            os.replace(self.temp, self.path)
        except BaseException:
            if aside:
                with contextlib.suppress(OSError):
                    os.rename(aside, self.path)
            raise
        if aside:
            _remove(aside)

    def abort(self) -> None:
        """Remove the temporary and its companions; ``path`` is never touched. Safe to call
        more than once, and after a commit (then it does nothing)."""
        if not self._open:
            return
        self._open = False
        if out_of_space(self.path):  # measured before the temporaries give their room back
            abandoned_for_space.append(self.path)
        for suffix, _ in self._companions:
            _remove(self.temp + suffix)
        _remove(self.temp)

    def __enter__(self) -> str:
        return self.temp

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def complete_or_nothing(path: str, *, folder: bool = False, suffix: str = "") -> PartialOutput:
    """The output ``path``, written complete or not at all (see :class:`PartialOutput`)::

        with complete_or_nothing(path) as temp:
            write(temp)

    The temporary is created here, so a caller can tell "cannot create the output" (an
    ``OSError`` from this call) from failures while writing it. ``suffix`` ends the temporary's
    name, for tools that pick a format by extension.
    """
    return PartialOutput(path, folder=folder, suffix=suffix)


def write_atomically(path: str, data: bytes) -> None:
    """Write ``path`` complete or not at all."""
    with complete_or_nothing(path) as temp, open(temp, "wb") as out:
        out.write(data)


def write_all_or_none(contents: Sequence[tuple[str, bytes] | PartialOutput]) -> None:
    """Several files that make one output (a report's .json and .html; a model's weights,
    description and reports): each written complete, then all published in the order given, or
    none of them (:func:`publish_together`). An entry is a path and its bytes, or an output
    the caller has already written at its temporary."""
    outputs: list[PartialOutput] = []
    try:
        for entry in contents:
            outputs.append(entry if isinstance(entry, PartialOutput) else written(*entry))
    except BaseException:
        for entry in [*outputs, *contents]:
            if isinstance(entry, PartialOutput):
                entry.abort()
        raise
    publish_together(outputs)


def written(path: str, data: bytes) -> PartialOutput:
    """The output ``path`` with ``data`` written at its temporary, not yet published (for
    :func:`publish_together`); removed again if the write fails."""
    output = complete_or_nothing(path)
    try:
        with open(output.temp, "wb") as out:
            out.write(data)
    except BaseException:
        output.abort()
        raise
    return output


def publish_together(outputs: Sequence[PartialOutput]) -> None:
    """Commit outputs that make one result (a model's weights, its description, its report),
    in the order given, or none of them: when one fails, those already published are taken
    back, the files they replaced (an earlier run's at the same names) put back, and the rest
    aborted, so no reader finds part of one set beside part of another."""
    with signals_held():
        _publish_together(outputs)


def _publish_together(outputs: Sequence[PartialOutput]) -> None:
    published: list[str] = []
    earlier: list[tuple[str, str]] = []  # (a path, where the file it held waits meanwhile)
    try:
        for output in outputs:
            if os.path.isfile(output.path) and not os.path.islink(output.path):
                os.replace(output.path, output.temp + ".old")
                earlier.append((output.path, output.temp + ".old"))
            output.commit()
            published.append(output.path)
    except BaseException:
        for output in outputs:
            output.abort()
        for path in published:
            _remove(path)
        for path, waiting in earlier:
            with contextlib.suppress(OSError):
                os.replace(waiting, path)
        raise
    for _, waiting in earlier:
        _remove(waiting)


def check_folder_to_fill(folder: str, earlier: Pattern[str]) -> list[str]:
    """Before the work: ``folder`` is a folder that can be written, and the earlier outputs in it
    (names matching ``earlier``) are files :func:`replace_in_folder` may replace: not a folder, a
    link, a device or a pipe. Returns their names."""
    if not os.path.isdir(folder):
        raise InputError("exists and is not a folder: the output is a folder", path=folder)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError("output folder is not writable", path=folder)
    stale = sorted(name for name in os.listdir(folder) if earlier.fullmatch(name))
    for name in stale:
        where = os.path.join(folder, name)
        check_replaceable(where, folder)
        if os.path.isdir(where):
            raise InputError(f"a folder is where an output file goes: {name}", path=folder)
    return stale


def replace_in_folder(
    folder: str, contents: Sequence[tuple[str, bytes]], earlier: Pattern[str]
) -> None:
    """Put the files ``contents`` (name, bytes; each name matching ``earlier``) into the existing
    ``folder``, all or none, replacing the files there whose names match ``earlier`` (an earlier
    run's outputs, some perhaps beyond the new ones' count, which a glob would otherwise take
    with the new ones) and never touching anything else: the folder may be the user's own
    (``-O .``), holding the inputs.

    The files are written in a hidden temporary folder inside ``folder`` (the same file system,
    so each is published by a rename); the earlier ones are moved into it, the new ones out of
    it, and it is removed. On any failure the new files are taken back and the earlier put back.
    """
    stale = check_folder_to_fill(folder, earlier)
    with signals_held():
        _replace_in_folder(folder, contents, stale)


def _replace_in_folder(
    folder: str, contents: Sequence[tuple[str, bytes]], stale: list[str]
) -> None:
    staging = _create_temporary(os.path.join(folder, "output"), True, "")
    moved_aside: list[str] = []
    published: list[str] = []
    try:
        os.mkdir(os.path.join(staging, "old"))
        for name, data in contents:
            with open(os.path.join(staging, name), "wb") as out:
                out.write(data)
        for name in stale:
            os.rename(os.path.join(folder, name), os.path.join(staging, "old", name))
            moved_aside.append(name)
        for name, _ in contents:
            check_replaceable(os.path.join(folder, name), folder)
            os.replace(os.path.join(staging, name), os.path.join(folder, name))
            published.append(name)
    except BaseException:
        if out_of_space(os.path.join(folder, "output")):
            abandoned_for_space.append(folder)
        for name in published:
            _remove(os.path.join(folder, name))
        for name in moved_aside:
            with contextlib.suppress(OSError):
                os.rename(os.path.join(staging, "old", name), os.path.join(folder, name))
        _remove(staging)
        raise
    _remove(staging)
