"""A full disk, the most common failure on Terra: every subcommand that writes, its output folder
on a 16 KiB tmpfs, stops with one line (``cnnscore: error: <folder>: no space left on device
while writing <file>``), exit 1, and leaves nothing in the folder. The libraries' own reports of
it (pysam's "Error flushing BGZFile object", tabix's "building of index ... failed", h5py's)
carry no errno: the line comes from the folder being full when the output was abandoned.

Needs root to mount the tmpfs (CI runs as root); it fails, never skips, without it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_training_train import KEEP_ALL, WHOLE_REGION, write_bed, write_tensors

from conftest import (
    GOLDEN_2D,
    SHIPPED_SMALL_2D,
    SMOKE,
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
    assert_only_cnnscore_lines,
    run_cli,
)


@pytest.fixture
def full_disk(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(folder)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (root is needed): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture(scope="module")
def tensor_store(tmp_path_factory) -> Path:
    """Every labelled candidate of the smoke region (train needs each label; GIAB's smoke BED
    holds true calls only)."""
    folder = tmp_path_factory.mktemp("store")
    write_tensors(folder / "store", *KEEP_ALL, bed=write_bed(folder / "whole.bed", WHOLE_REGION))
    return folder / "store"


def _commands(folder: Path, store: Path) -> dict[str, tuple[list, str]]:
    """subcommand -> (its arguments, the name the error must give)."""
    shards = [SMOKE / "gatk460_oracle.cnn_2d.vcf.gz"]
    return {
        "score": (["score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--tensor-type",
                   "read_tensor", "-O", folder / "out.vcf.gz"], "out.vcf.gz"),
        "filter": (["filter", "-V", GOLDEN_2D, "--resource", SMOKE / "giab_truth.vcf.gz",
                    "-O", folder / "filtered.vcf.gz"], "filtered.vcf.gz"),
        "gather-vcfs": (["gather-vcfs", *[a for s in shards for a in ("-I", s)], "-O",
                         folder / "gathered.vcf.gz"], "gathered.vcf.gz"),
        "split-intervals": (["split-intervals", "-V", SMOKE_VCF, "-R", SMOKE_REF,
                             "--scatter-count", "50", "-O", folder / "shards"], "shards"),
        "compare": (["compare", "--baseline", GOLDEN_2D, "--candidate", GOLDEN_2D, "-O",
                     folder / "report"], "report."),
        "write-tensors": (["write-tensors", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--truth-vcf",
                           SMOKE / "giab_truth.vcf.gz", "--truth-bed", SMOKE / "giab_truth.bed",
                           "--tensor-type", "read_tensor", "-I", SMOKE_BAM, *KEEP_ALL, "-O",
                           folder / "store"], "store"),
        "train": (["train", "--tensors", store, "--model-kind", "compact-1d", "--epochs", "1",
                   "-O", folder / "model"], "model"),
        "models fetch": (["models", "fetch", "gatk", "--model", "small_2d", "--mirror",
                          SHIPPED_SMALL_2D, "--cache-dir", folder / "cache"], "small_2d"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "name",
    ["score", "filter", "gather-vcfs", "split-intervals", "compare", "write-tensors", "train",
     "models fetch"],
)  # fmt: skip
def test_a_full_disk_is_one_line_and_nothing_left(full_disk, tensor_store, name):
    args, written = _commands(full_disk, tensor_store)[name]
    result = run_cli(*args)
    assert_only_cnnscore_lines(result.stderr)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("cnnscore: error")]
    assert len(errors) == 1, result.stderr
    assert "no space left on device while writing" in errors[0], errors[0]
    assert written in errors[0] and str(full_disk) in errors[0], errors[0]
    left = [p for p in full_disk.rglob("*") if p.is_file()]
    if name == "models fetch":  # a cache: each file that landed was complete and verified
        assert [p.name for p in left] in ([], ["small_2d.json"]), left
        return
    assert left == [], left
