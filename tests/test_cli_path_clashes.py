"""An output that names one of the run's inputs, or another output, is refused before anything
runs: exit 1, one line naming the flag, every input unchanged, nothing written (cli.path_clashes).
Without the check each of these ran to the end, exit 0, with the input replaced."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import GOLDEN_2D, MODELS, SMOKE, SMOKE_BAM, SMOKE_REF, run_cli


def _inputs(folder: Path) -> dict[str, Path]:
    """Copies of the smoke inputs (the checks must never touch testdata/)."""
    folder.mkdir()
    names = {"vcf": "hc.gatk4.vcf.gz", "truth": "giab_truth.vcf.gz"}
    copies = {}
    for key, name in names.items():
        for suffix in ("", ".tbi"):
            shutil.copyfile(SMOKE / f"{name}{suffix}", folder / f"{name}{suffix}")
        copies[key] = folder / name
    shutil.copyfile(GOLDEN_2D, folder / "scored.vcf.gz")
    copies["scored"] = folder / "scored.vcf.gz"
    os.symlink(copies["truth"], folder / "truth_link.vcf.gz")
    copies["truth_link"] = folder / "truth_link.vcf.gz"
    copies["metrics"] = folder / "metrics.json"
    copies["metrics"].write_text("{}\n")
    copies["weights"] = folder / "start.hd5"
    copies["weights"].write_bytes(b"weights\n")
    for key, source, suffixes in (
        ("bam", SMOKE_BAM, ("", ".bai")),
        ("ref", SMOKE_REF, ("", ".fai", ".gzi")),
        ("model", MODELS / "small_2d.hd5", ("",)),
        ("model_json", MODELS / "small_2d.json", ("",)),
    ):
        for suffix in suffixes:
            shutil.copyfile(f"{source}{suffix}", folder / f"{source.name}{suffix}")
        copies[key] = folder / source.name
    copies["in"] = folder
    return copies


def _score(vcf: Path, *extra) -> list:
    return ["score", "-V", vcf, "-R", SMOKE_REF, "-I", SMOKE_BAM,
            "--tensor-type", "read_tensor", *extra]  # fmt: skip


def _score_copies(f: dict, metrics: str) -> list:
    """Score the copies of the inputs in the case's folder, the metrics written at ``metrics``."""
    return ["score", "-V", f["vcf"], "-R", f["ref"], "-I", f["bam"], "--tensor-type",
            "read_tensor", "-O", f["out"], "--metrics-json", metrics]  # fmt: skip


# fmt: off
CASES = {
    "metrics on the input VCF": (
        lambda f: _score(f["vcf"], "-O", f["out"], "--metrics-json", f["vcf"]),
        "--metrics-json", "(-V)",
    ),
    "metrics on the output": (
        lambda f: _score(f["vcf"], "-O", f["out"], "--metrics-json", f["out"]),
        "-O", "(--metrics-json)",
    ),
    "metrics on the output's index": (
        lambda f: _score(f["vcf"], "-O", f["out"], "--metrics-json", f"{f['out']}.tbi"),
        "-O", "(--metrics-json)",
    ),
    "metrics on a plain VCF output's .idx": (
        lambda f: _score(f["vcf"], "-O", f"{f['out']}.vcf", "--metrics-json",
                         f"{f['out']}.vcf.idx"),
        "-O", "(--metrics-json)",
    ),
    "metrics on the .tbi of an output named .VCF.GZ, which is bgzip VCF as in GATK": (
        lambda f: _score(f["vcf"], "-O", f"{f['out']}.VCF.GZ", "--metrics-json",
                         f"{f['out']}.VCF.GZ.tbi"),
        "-O", "(--metrics-json)",
    ),
    "metrics on the BAM's index": (
        lambda f: _score_copies(f, f"{f['bam']}.bai"),
        "--metrics-json", "(-I)",
    ),
    "metrics on the reference's .fai": (
        lambda f: _score_copies(f, f"{f['ref']}.fai"),
        "--metrics-json", "(-R)",
    ),
    "metrics on the reference's .gzi": (
        lambda f: _score_copies(f, f"{f['ref']}.gzi"),
        "--metrics-json", "(-R)",
    ),
    "metrics on the input VCF's index": (
        lambda f: _score(f["vcf"], "-O", f["out"], "--metrics-json", f"{f['vcf']}.tbi"),
        "--metrics-json", "(-V)",
    ),
    "metrics on the model JSON found beside --weights": (
        lambda f: _score(f["vcf"], "--weights", f["model"], "-O", f["out"],
                         "--metrics-json", f["model_json"]),
        "--metrics-json", "(--weights)",
    ),
    "a training prefix onto a tensor store's manifest": (
        lambda f: ["train", "--tensors", f["in"], "--model-kind", "1d",
                   "-O", f["in"] / "manifest"],
        "-O", "(--tensors)",
    ),
    "filter onto its truth resource": (
        lambda f: ["filter", "-V", f["scored"], "--resource", f["truth"], "-O", f["truth"]],
        "-O", "(--resource)",
    ),
    "filter onto a link to its truth resource": (
        lambda f: ["filter", "-V", f["scored"], "--resource", f["truth"],
                   "-O", f["truth_link"]],
        "-O", "(--resource)",
    ),
    "filter onto its input": (
        lambda f: ["filter", "-V", f["scored"], "--resource", f["truth"], "-O", f["scored"]],
        "-O", "(-V)",
    ),
    "a report prefix onto its metrics input": (
        lambda f: ["compare", "--baseline", f["scored"], "--candidate", f["scored"],
                   "--baseline-metrics", f["metrics"], "-O", f["metrics"].with_suffix("")],
        "-O", "(--baseline-metrics)",
    ),
    "a training prefix onto its initial weights": (
        lambda f: ["train", "--tensors", f["in"], "--model-kind", "1d",
                   "--initial-weights", f["weights"], "-O", f["weights"].with_suffix("")],
        "-O", "(--initial-weights)",
    ),
    "gather onto a shard": (
        lambda f: ["gather-vcfs", "-I", f["scored"], "-I", f["truth"], "-O", f["scored"]],
        "-O", "(-I)",
    ),
}
# fmt: on


@pytest.mark.parametrize("case", CASES)
def test_an_output_on_an_input_or_another_output_is_refused(tmp_path, case):
    files = _inputs(tmp_path / "in")
    files["out"] = tmp_path / "out" / "out.vcf.gz"
    files["out"].parent.mkdir()
    before = {p: p.read_bytes() for p in (tmp_path / "in").iterdir() if not p.is_symlink()}
    build, flag, other = CASES[case]
    result = run_cli(*build(files))
    errors = [line for line in result.stderr.splitlines() if line.startswith("cnnscore: error")]
    assert result.returncode == 1, result.stderr
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"cnnscore: error: {flag}: ") and other in errors[0], errors[0]
    assert {p: p.read_bytes() for p in before} == before  # every input as it was
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == sorted(
        p.name for p in [*before, files["truth_link"]]
    )
    assert list(files["out"].parent.iterdir()) == []
