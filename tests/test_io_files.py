"""The one complete-or-nothing writer (``io/files.py``): an output appears whole at its name, or
nothing appears, whatever stops the writer; concurrent writers never share a temporary."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from cnnscore.errors import InputError
from cnnscore.io.files import PARTIAL_MARK, complete_or_nothing, write_atomically


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_commits_on_success_with_a_plain_create_mode(tmp_path, umask_027):
    out = tmp_path / "out.txt"
    with complete_or_nothing(str(out)) as temp:
        assert Path(temp).parent == tmp_path
        assert Path(temp).name.startswith(f".out.txt{PARTIAL_MARK}")
        assert not out.exists()
        Path(temp).write_text("whole")
    assert out.read_text() == "whole"
    assert mode(out) == 0o640  # 0o666 & ~0o027, as open() would make it
    assert names(tmp_path) == ["out.txt"]


def test_write_atomically_replaces_an_older_file(tmp_path, umask_027):
    out = tmp_path / "r.json"
    out.write_text("old")
    write_atomically(str(out), b"new")
    assert out.read_bytes() == b"new" and mode(out) == 0o640
    assert names(tmp_path) == ["r.json"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt, SystemExit])
def test_an_exception_leaves_nothing_and_propagates(tmp_path, error):
    out = tmp_path / "out.vcf"
    with pytest.raises(error), complete_or_nothing(str(out)) as temp:
        Path(temp).write_text("half")
        raise error()
    assert names(tmp_path) == []


def test_an_exception_keeps_the_older_output(tmp_path):
    out = tmp_path / "out.vcf"
    out.write_text("previous")
    with pytest.raises(KeyboardInterrupt), complete_or_nothing(str(out)) as temp:
        Path(temp).write_text("half")
        raise KeyboardInterrupt
    assert names(tmp_path) == ["out.vcf"] and out.read_text() == "previous"


def test_a_failed_rename_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(OSError), complete_or_nothing(str(out)) as temp:
        (out / "inside").mkdir(parents=True)  # made meanwhile: a file cannot replace a folder
        Path(temp).write_text("whole")
    assert names(tmp_path) == ["out"] and names(out) == ["inside"]


def test_a_folder_where_a_file_output_goes_is_refused_before_the_work(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(InputError, match="is a folder: the output needs a file's name"):
        complete_or_nothing(str(tmp_path / "out"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="exists and is not a folder"):
        complete_or_nothing(str(tmp_path / "file"), folder=True)
    assert names(tmp_path) == ["file", "out"]


def test_concurrent_writers_get_distinct_temporaries_and_never_mix(tmp_path):
    out = tmp_path / "out.bin"
    first, second = complete_or_nothing(str(out)), complete_or_nothing(str(out))
    assert first.temp != second.temp
    barrier = threading.Barrier(8)
    payloads = [bytes([i]) * 1_000_000 for i in range(8)]
    temps = []

    def write(payload: bytes) -> None:
        with complete_or_nothing(str(out)) as temp:
            temps.append(temp)
            barrier.wait()
            with open(temp, "wb") as handle:
                for start in range(0, len(payload), 4096):
                    handle.write(payload[start : start + 4096])

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(temps)) == 8
    assert out.read_bytes() in payloads  # one writer's bytes, whole
    first.abort()
    second.abort()
    assert names(tmp_path) == ["out.bin"]


def test_a_folder_output_is_created_replaces_an_old_one_and_keeps_a_plain_mode(tmp_path, umask_027):
    out = tmp_path / "store"
    for content in ("first", "second"):
        with complete_or_nothing(str(out), folder=True) as temp:
            assert os.path.isdir(temp)
            (Path(temp) / "member").write_text(content)
        assert (out / "member").read_text() == content
        assert names(out) == ["member"]
    assert mode(out) == 0o750  # 0o777 & ~0o027, as mkdir would make it
    assert names(tmp_path) == ["store"]  # the swapped-out store is gone too


def test_a_folder_output_replaces_an_empty_folder_and_is_removed_whole_on_failure(tmp_path):
    out = tmp_path / "staged"
    out.mkdir()
    with pytest.raises(KeyboardInterrupt), complete_or_nothing(str(out), folder=True) as temp:
        (Path(temp) / "sub").mkdir()
        (Path(temp) / "sub" / "member").write_text("half")
        raise KeyboardInterrupt
    assert names(tmp_path) == ["staged"] and names(out) == []
    with complete_or_nothing(str(out), folder=True) as temp:
        (Path(temp) / "member").write_text("whole")
    assert names(out) == ["member"]


def test_an_earlier_index_goes_first_and_the_new_one_after_the_output(tmp_path, monkeypatch):
    """The earlier output's index is set aside, the output published, then its index: a stop no
    handler holds (SIGKILL) between two renames leaves the new output without an index, never
    the new index beside the earlier output (which the order index-then-output did)."""
    out = tmp_path / "out.vcf.gz"
    out.write_text("earlier vcf")
    Path(f"{out}.tbi").write_text("earlier index")
    output = complete_or_nothing(str(out), suffix=".vcf.gz")
    assert output.temp.endswith(".vcf.gz")
    scratch = output.beside(".txt", publish=False)
    Path(scratch).write_text("scratch")
    Path(output.temp).write_text("vcf")
    Path(output.beside(".tbi")).write_text("index")
    renamed = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (renamed.append(b), real_replace(a, b)))
    output.commit()
    assert renamed == [f"{output.temp}.tbi.old", str(out), f"{out}.tbi"]
    assert out.read_text() == "vcf" and Path(f"{out}.tbi").read_text() == "index"
    assert names(tmp_path) == ["out.vcf.gz", "out.vcf.gz.tbi"]  # the scratch file is gone
    output.abort()  # after a commit: nothing to do
    assert names(tmp_path) == ["out.vcf.gz", "out.vcf.gz.tbi"]


def test_abort_removes_the_output_and_its_companions(tmp_path):
    out = tmp_path / "out.bcf"
    output = complete_or_nothing(str(out), suffix=".bcf")
    Path(output.beside(".vcf", publish=False)).write_text("text")
    Path(output.beside(".csi")).write_text("index")  # made, then the run stops
    output.beside(".never-written")
    output.abort()
    output.abort()
    assert names(tmp_path) == []
    with pytest.raises(RuntimeError):
        output.commit()


def test_a_failed_output_rename_takes_its_published_companion_back(tmp_path):
    out = tmp_path / "out.vcf.gz"
    output = complete_or_nothing(str(out))
    (out / "inside").mkdir(parents=True)  # made meanwhile: the output's own rename will fail
    Path(output.beside(".tbi")).write_text("index")
    with pytest.raises(OSError):
        output.commit()
    assert names(tmp_path) == ["out.vcf.gz"]  # no new index beside an old output


def test_a_failed_index_rename_after_the_output_leaves_neither(tmp_path, monkeypatch):
    """Once the output is published the earlier one is gone: if its index cannot follow, the new
    output goes too, and the earlier index with it, rather than a pair that does not match."""
    out = tmp_path / "out.vcf.gz"
    out.write_text("earlier vcf")
    Path(f"{out}.tbi").write_text("earlier index")
    output = complete_or_nothing(str(out))
    Path(output.temp).write_text("vcf")
    Path(output.beside(".tbi")).write_text("index")
    real_replace = os.replace

    def replace(source, destination):
        if destination == f"{out}.tbi":
            raise OSError(5, "Input/output error")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError):
        output.commit()
    assert names(tmp_path) == []


def test_a_missing_folder_fails_at_creation(tmp_path):
    with pytest.raises(FileNotFoundError):
        complete_or_nothing(str(tmp_path / "absent" / "out.txt"))


@pytest.mark.parametrize("folder", [False, True], ids=["file", "folder"])
def test_a_pipe_or_a_link_at_the_output_is_refused_and_left_as_it_is(tmp_path, folder):
    """Renaming onto a pipe or a link replaces it (a reader waits forever; the link's target
    keeps its old content); as root a device such as /dev/null would go the same way."""
    os.mkfifo(tmp_path / "pipe")
    if folder:
        (tmp_path / "target").mkdir()
    else:
        (tmp_path / "target").write_text("old")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with pytest.raises(InputError, match="is not a regular file"):
        complete_or_nothing(str(tmp_path / "pipe"), folder=folder)
    with pytest.raises(InputError, match=f"is a symbolic link \\(to {tmp_path / 'target'}\\)"):
        complete_or_nothing(str(tmp_path / "link"), folder=folder)
    assert stat.S_ISFIFO((tmp_path / "pipe").lstat().st_mode)
    assert (tmp_path / "link").is_symlink()
    assert names(tmp_path) == ["link", "pipe", "target"]


def test_a_link_to_a_stream_says_so(tmp_path):
    """``-O /dev/stdout`` is a link to a stream: the line says that outputs appear only when
    complete, where it advised giving the path the link points to (/proc/self/fd/1, no better)."""
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link").symlink_to(tmp_path / "pipe")
    with pytest.raises(InputError, match="leads to a device, pipe or socket .* cannot be streamed"):
        complete_or_nothing(str(tmp_path / "link"))
    assert (tmp_path / "link").is_symlink() and names(tmp_path) == ["link", "pipe"]


def test_a_pipe_made_during_the_write_is_refused_at_commit_and_nothing_published(tmp_path):
    """Checked again just before the renames: a pipe that appeared at the output's index (or
    the output) while it was written is refused too, and neither file is published."""
    out = tmp_path / "out.vcf.gz"
    output = complete_or_nothing(str(out), suffix=".vcf.gz")
    Path(output.temp).write_text("vcf")
    Path(output.beside(".tbi")).write_text("index")
    os.mkfifo(f"{out}.tbi")
    with pytest.raises(InputError, match="out.vcf.gz.tbi, written beside it, is not a regular"):
        output.commit()
    assert names(tmp_path) == ["out.vcf.gz.tbi"]
    assert stat.S_ISFIFO(Path(f"{out}.tbi").lstat().st_mode)


@pytest.mark.parametrize("suffix", ["", ".vcf.gz"])
def test_a_long_name_gets_a_temporary_that_fits(tmp_path, suffix):
    """The longest name the file system takes (in bytes, two a character here): its temporary,
    16 bytes longer, could not be made ("File name too long"). The temporary is cut short, with
    room for an index appended to it, and ends in the suffix that decides the format."""
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    stem = "é" * ((limit - len(suffix)) // 2)
    out = tmp_path / (stem + "x" * ((limit - len(suffix)) % 2) + suffix)
    assert len(os.fsencode(out.name)) == limit
    with complete_or_nothing(str(out), suffix=suffix) as temp:
        name = os.fsencode(Path(temp).name)
        assert len(name) <= limit - 16 and name.endswith(os.fsencode(suffix))
        assert Path(temp).name.startswith(".éé")
        Path(temp).write_text("whole")
    assert names(tmp_path) == [out.name] and out.read_text() == "whole"


def test_a_retired_file_goes_with_the_publish_and_comes_back_if_it_fails(tmp_path):
    """An earlier output's .csi beside a new .vcf.gz (the writer publishes a .tbi): removed
    when the new output is published; put back if publishing fails, so the old pair stays."""
    out = tmp_path / "out.vcf.gz"
    out.write_text("old vcf")
    Path(f"{out}.csi").write_text("old csi")
    output = complete_or_nothing(str(out))
    output.retire(".csi")
    output.retire(".idx")  # not there: nothing to do
    (Path(output.temp)).write_text("new vcf")
    output.commit()
    assert names(tmp_path) == ["out.vcf.gz"] and out.read_text() == "new vcf"

    Path(f"{out}.csi").write_text("old csi")
    output = complete_or_nothing(str(out))
    output.retire(".csi")
    Path(output.beside(".tbi")).write_text("new index")
    os.remove(output.temp)  # the output's own rename will fail
    with pytest.raises(OSError):
        output.commit()
    assert names(tmp_path) == ["out.vcf.gz", "out.vcf.gz.csi"]
    assert Path(f"{out}.csi").read_text() == "old csi" and out.read_text() == "new vcf"


def test_outputs_published_together_put_back_what_they_replaced(tmp_path, monkeypatch):
    """A model's files replace an earlier run's: when one fails to publish, the ones already
    published are taken back and the earlier run's files are put back, whole (the earlier
    .json was left naming weights that were gone)."""
    from cnnscore.io import files

    first, second, third = (tmp_path / name for name in ("m.report.json", "m.hd5", "m.json"))
    for path in (first, second, third):
        path.write_text(f"earlier {path.name}")
    outputs = [files.written(str(path), f"new {path.name}".encode())
               for path in (first, second, third)]  # fmt: skip
    real_commit = files.PartialOutput.commit

    def commit(self):
        if self.path == str(third):
            raise OSError(5, "Input/output error")
        real_commit(self)

    monkeypatch.setattr(files.PartialOutput, "commit", commit)
    with pytest.raises(OSError):
        files.publish_together(outputs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.hd5", "m.json", "m.report.json"]
    for path in (first, second, third):
        assert path.read_text() == f"earlier {path.name}"


class _Stopped(Exception):
    pass


@pytest.fixture
def sigterm_raises():
    """SIGTERM raising, as the command line's handler makes it (cli.main.Terminated)."""
    import signal

    def stop(_signum, _frame):
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    yield signal.SIGTERM
    signal.signal(signal.SIGTERM, previous)


def _stop_during_rename(monkeypatch, signum: int, nth: int) -> None:
    """The ``nth`` rename is followed by the signal, as a stop arriving between two renames."""
    real_replace, calls = os.replace, []

    def replace(a, b):
        real_replace(a, b)
        calls.append(b)
        if len(calls) == nth:
            os.kill(os.getpid(), signum)

    monkeypatch.setattr(os, "replace", replace)


def test_a_stop_between_the_renames_comes_after_the_whole_set(
    tmp_path, monkeypatch, sigterm_raises
):
    """A SIGTERM right after the index's rename raised before the output's, and the rollback,
    not knowing the index was in place, left the new index beside the earlier output (htslib
    then reads the old file through the new offsets): held until the set is published, the stop
    then unwinds the run."""
    out = tmp_path / "out.vcf.gz"
    out.write_text("earlier vcf")
    Path(f"{out}.tbi").write_text("earlier index")
    output = complete_or_nothing(str(out), suffix=".vcf.gz")
    Path(output.temp).write_text("vcf")
    Path(output.beside(".tbi")).write_text("index")
    _stop_during_rename(monkeypatch, sigterm_raises, 1)
    with pytest.raises(_Stopped):
        output.commit()
    assert (out.read_text(), Path(f"{out}.tbi").read_text()) == ("vcf", "index")
    assert names(tmp_path) == ["out.vcf.gz", "out.vcf.gz.tbi"]


def test_a_stop_while_a_shard_set_replaces_another_leaves_one_set(tmp_path, monkeypatch,
                                                                    sigterm_raises):  # fmt: skip
    """split-intervals replaces an earlier run's shards: a stop after the second rename left
    part of each set, a scatter over the folder then skipping calls."""
    import re

    from cnnscore.io.files import replace_in_folder

    for number in range(4):
        (tmp_path / f"shard-{number:04d}.interval_list").write_text(f"old {number}")
    earlier = re.compile(r"shard-\d{4}\.interval_list")
    contents = [(f"shard-{n:04d}.interval_list", f"new {n}".encode()) for n in range(4)]
    _stop_during_rename(monkeypatch, sigterm_raises, 2)
    with pytest.raises(_Stopped):
        replace_in_folder(str(tmp_path), contents, earlier)
    assert sorted((p.name, p.read_text()) for p in tmp_path.iterdir()) == [
        (f"shard-{n:04d}.interval_list", f"new {n}") for n in range(4)
    ]
