"""Output paths that publishing would destroy (io.files).

Every output is built under a temporary name and renamed onto its path. A rename replaces what is
there: a pipe a reader waits on, a symbolic link (its target kept the old content), a device
(``--metrics-json /dev/null`` as root replaced /dev/null). Such a path is refused before the
work, one line, everything at the path as it was.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import GOLDEN_2D, SMOKE, SMOKE_BAM, SMOKE_REF, SMOKE_VCF, run_cli

ERROR = "cnnscore: error: "


def _link(path: Path, target: Path, content: str | None = "earlier\n") -> Path:
    """A symbolic link at ``path`` to ``target`` (a file with ``content``, or a folder)."""
    target.parent.mkdir(exist_ok=True)
    if content is None:
        target.mkdir()
    else:
        target.write_text(content)
    path.symlink_to(target)
    return path


def _pipe(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _score(*outputs) -> list:
    return ["score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM,
            "--tensor-type", "read_tensor", *outputs]  # fmt: skip


def _kind(path: Path) -> str:
    mode = path.lstat().st_mode
    return "link" if stat.S_ISLNK(mode) else "pipe" if stat.S_ISFIFO(mode) else "other"


# name -> (make the special path in the output folder and return it, the command's arguments)
# fmt: off
CASES: dict[str, tuple[Callable[[Path], Path], Callable[[Path], list]]] = {
    "score -O a pipe": (
        lambda out: _pipe(out / "out.vcf"),
        lambda out: _score("-O", out / "out.vcf"),
    ),
    "score's index a pipe": (
        lambda out: _pipe(out / "out.vcf.gz.tbi"),
        lambda out: _score("-O", out / "out.vcf.gz"),
    ),
    "score --metrics-json a link to a file": (
        lambda out: _link(out / "m.json", out.parent / "elsewhere" / "m.json"),
        lambda out: _score("-O", out / "out.vcf.gz", "--metrics-json", out / "m.json"),
    ),
    "filter -O a link to a file": (
        lambda out: _link(out / "f.vcf.gz", out.parent / "elsewhere" / "f.vcf.gz"),
        lambda out: ["filter", "-V", GOLDEN_2D, "--resource", SMOKE / "giab_truth.vcf.gz",
                     "-O", out / "f.vcf.gz"],
    ),
    "gather-vcfs -O a pipe": (
        lambda out: _pipe(out / "g.vcf"),
        lambda out: ["gather-vcfs", "-I", GOLDEN_2D, "-O", out / "g.vcf"],
    ),
    "compare's report.html a pipe": (
        lambda out: _pipe(out / "report.html"),
        lambda out: ["compare", "--baseline", GOLDEN_2D, "--candidate", GOLDEN_2D,
                     "-O", out / "report"],
    ),
    "split-intervals -O a link to a folder": (
        lambda out: _link(out / "shards", out.parent / "elsewhere" / "shards", None),
        lambda out: ["split-intervals", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--scatter-count",
                     "2", "-O", out / "shards"],
    ),
    "write-tensors -O a link to an empty folder": (
        lambda out: _link(out / "store", out.parent / "elsewhere" / "store", None),
        lambda out: ["write-tensors", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--truth-vcf",
                     SMOKE / "giab_truth.vcf.gz", "--truth-bed", SMOKE / "giab_truth.bed",
                     "-O", out / "store"],
    ),
    # no tensors: only a check made before reading them can name the output
    "train's .json a link": (
        lambda out: _link(out / "model.json", out.parent / "elsewhere" / "model.json"),
        lambda out: ["train", "--tensors", out.parent / "no_such_store", "--model-kind", "1d",
                     "-O", out / "model"],
    ),
}
# fmt: on


@pytest.mark.parametrize("case", CASES)
def test_a_pipe_or_link_where_an_output_goes_is_refused_before_the_work(tmp_path, case):
    """Each subcommand: one line naming the output, exit 1, the pipe still a pipe and the link
    still a link to its unchanged target, nothing else written. Without the check each ran to
    the end (exit 0) and left a regular file where the pipe or link was."""
    make, command = CASES[case]
    out = tmp_path / "out"
    out.mkdir()
    special = make(out)
    kind = _kind(special)
    target = special.resolve() if kind == "link" else None
    before = sorted(target.iterdir()) if target and target.is_dir() else None
    before_text = target.read_text() if target and target.is_file() else None
    result = run_cli(*command(out))
    errors = [line for line in result.stderr.splitlines() if line.startswith(ERROR)]
    assert result.returncode == 1 and len(errors) == 1, result.stderr
    what = "is a symbolic link" if kind == "link" else "is not a regular file"
    assert what in errors[0] and str(special) in errors[0], errors[0]
    assert _kind(special) == kind
    assert [p.name for p in out.iterdir()] == [special.name]
    if target is not None:
        assert target == special.resolve()
        if before is not None:
            assert sorted(target.iterdir()) == before
        else:
            assert target.read_text() == before_text
