"""Output paths that publishing would destroy, and names only just short enough (io.output_paths).

Every output is built under a temporary name and renamed onto its path. A rename replaces what is
there: a pipe a reader waits on, a symbolic link (its target kept the old content), a device
(``--metrics-json /dev/null`` as root replaced /dev/null). Such a path is refused before the
work, one line, everything at the path as it was. And a name the file system takes is written,
however long: its temporary (``.{name}.partial-{random}{suffix}``) is cut to fit.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pysam
import pytest
from test_cli_bad_input import score_2d, small_vcf

from conftest import GOLDEN_2D, SMOKE, SMOKE_BAM, SMOKE_REF, SMOKE_VCF, data_lines, run_cli

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


def _name_max(folder: Path) -> int:
    return os.pathconf(folder, "PC_NAME_MAX")


@pytest.mark.parametrize("suffix", [".vcf.gz", ".bcf"])
def test_the_longest_name_whose_index_fits_is_written(tmp_path, suffix):
    """A name of NAME_MAX less the index's 4 bytes: written with its index. Its temporary,
    16 bytes longer, made the run fail ("File name too long")."""
    out = tmp_path / "out"
    out.mkdir()
    output = out / ("a" * (_name_max(out) - len(suffix) - len(".tbi")) + suffix)
    result = score_2d(output, vcf=small_vcf(tmp_path))
    assert result.returncode == 0, result.stderr
    index = ".tbi" if suffix == ".vcf.gz" else ".csi"
    assert sorted(p.name for p in out.iterdir()) == [output.name, output.name + index]
    with pysam.VariantFile(str(output)) as scored:
        assert len(list(scored)) == 3


def test_a_name_that_fits_but_its_index_does_not_is_refused_before_the_work(tmp_path):
    """NAME_MAX bytes exactly: the output's name fits, its .tbi's does not. Refused before
    scoring, naming the index; without an index the same name is written."""
    out = tmp_path / "out"
    out.mkdir()
    output = out / ("a" * (_name_max(out) - len(".vcf.gz")) + ".vcf.gz")
    vcf = small_vcf(tmp_path)
    result = score_2d(output, vcf=vcf)
    errors = [line for line in result.stderr.splitlines() if line.startswith(ERROR)]
    assert result.returncode == 1 and len(errors) == 1, result.stderr
    assert f"{output}.tbi, written beside it, would have a name too long" in errors[0]
    assert list(out.iterdir()) == []
    result = score_2d(output, vcf=vcf, extra=("--create-output-variant-index", "false"))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in out.iterdir()] == [output.name]
    assert len(data_lines(output)) == 3
