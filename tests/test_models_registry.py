"""Models by name and the default model: GATK's small_2d, shipped in the package, for the read
tensor whatever the model cache holds; GATK's 1D model for the reference tensor where it is
cached, cnnscore's own otherwise, said on stderr; a damaged shipped file refused; `--model NAME`;
`cnnscore models list`; `models fetch --skip-missing` for a mirror holding only some models."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import (
    GATK_1D,
    MODELS,
    REPO,
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
    assert_only_cnnscore_lines,
    data_lines,
    info_text,
    run_cli,
    smoke_2d_args,
)

REGION = ("-L", "chr20:10000000-10030000")


def _score(out, *extra):
    return run_cli("score", "--backend", "tensorflow", "-V", SMOKE_VCF, "-R", SMOKE_REF,
                   "-I", SMOKE_BAM,
                   "--tensor-type", "read_tensor", *REGION, "-O", out, *extra)  # fmt: skip


def test_no_model_means_gatks_shipped_small_2d_with_an_empty_cache(empty_model_cache, tmp_path):
    assert list(empty_model_cache.iterdir()) == []
    default, explicit = tmp_path / "default.vcf", tmp_path / "explicit.vcf"
    result = _score(default)
    assert result.returncode == 0, result.stderr
    assert (
        "no model given: using GATK's small_2d, GATK's default for read_tensor (shipped with "
        "cnnscore: " in result.stderr
    )
    run_cli(*smoke_2d_args(explicit, *REGION), check=True)
    assert [info_text(x) for x in data_lines(default)] == [
        info_text(x) for x in data_lines(explicit)
    ]
    assert list(empty_model_cache.iterdir()) == []  # nothing fetched or cached


def test_no_reference_model_cached_means_cnnscores_own_1d_said_on_stderr(tmp_path):
    result = run_cli("score", "-V", GATK_1D / "input.hc_vqsr.vcf.gz",
                     "-R", GATK_1D / "ref.b37.20_1-1M.fa.gz", "-L", "20:61000-100000",
                     "-O", tmp_path / "out.vcf")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        "no model given: using cnnscore's own cnnscore_compact_1d.hd5, an approximation of "
        "GATK's 1d_cnn_mix_train_full_bn" in result.stderr
    )
    assert "1d_cnn_mix_train_full_bn.json is not in" in result.stderr
    assert len(data_lines(tmp_path / "out.vcf")) > 0


@pytest.fixture
def damaged_install(tmp_path):
    """A copy of the installed package whose shipped small_2d.hd5 lost one byte's worth of
    truth, first on PYTHONPATH (as a damaged install or a bad image layer would be)."""
    package = tmp_path / "site" / "cnnscore"
    shutil.copytree(REPO / "python" / "cnnscore", package,
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    weights = package / "models" / "gatk_small_2d" / "small_2d.hd5"
    data = bytearray(weights.read_bytes())
    data[4096] ^= 0x01
    weights.write_bytes(bytes(data))
    return tmp_path / "site"


@pytest.mark.parametrize("named", [False, True], ids=["default", "--model small_2d"])
def test_a_damaged_shipped_small_2d_is_refused_and_nothing_written(damaged_install, tmp_path,
                                                                   named):  # fmt: skip
    out = tmp_path / "out" / "x.vcf.gz"
    out.parent.mkdir()
    env = dict(os.environ, PYTHONPATH=str(damaged_install))
    command = [sys.executable, "-m", "cnnscore", "score", "-V", SMOKE_VCF, "-R", SMOKE_REF,
               "-I", SMOKE_BAM, "--tensor-type", "read_tensor", *REGION, "-O", out,
               *(["--model", "small_2d"] if named else [])]  # fmt: skip
    result = subprocess.run(list(map(str, command)), env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert_only_cnnscore_lines(result.stderr)
    (error,) = [line for line in result.stderr.splitlines() if "error" in line]
    assert str(damaged_install) in error and "the shipped copy of GATK's small_2d" in error
    assert "is not GATK's small_2d.hd5: sha256" in error and "reinstall cnnscore" in error
    assert list(out.parent.iterdir()) == []


def test_model_by_name(tmp_path):
    by_name, by_file = tmp_path / "name.vcf", tmp_path / "file.vcf"
    assert _score(by_name, "--model", "small_2d").returncode == 0
    run_cli(*smoke_2d_args(by_file, *REGION), check=True)
    assert data_lines(by_name) == data_lines(by_file)
    compact = _score(tmp_path / "compact.vcf", "--model", "cnnscore_compact_2d")
    assert compact.returncode == 0 and "no model given" not in compact.stderr
    assert data_lines(tmp_path / "compact.vcf") != data_lines(by_file)


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--model", "small_3d"), "small_3d: unknown model; known: small_2d"),
        (("--model", "cnnscore_compact_1d"), "cnnscore_compact_1d takes the reference tensor"),
        (("--model", "small_2d", "--weights", str(MODELS / "small_2d.hd5")), "not both"),
        (("--model", "2d_cnn_mix_train"), "GATK's 2d_cnn_mix_train is not available"),
    ],
)
def test_model_name_errors(tmp_path, extra, message):
    out = tmp_path / "out" / "x.vcf"
    out.parent.mkdir()
    result = _score(out, *extra)
    assert result.returncode == 1 and message in result.stderr
    assert list(out.parent.iterdir()) == []


def test_models_list_shows_what_is_here_and_the_defaults():
    result = run_cli("models", "list", check=True)
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert set(rows) == {"small_2d", "2d_cnn_mix_train", "1d_cnn_mix_train_full_bn",
                         "cnnscore_compact_2d", "cnnscore_compact_1d"}  # fmt: skip
    assert rows["small_2d"][:5] == ["small_2d", "gatk", "read_tensor", "yes", "shipped"]
    assert rows["small_2d"][5] == "6f663a2fdbcde0addc5cb755f7af5d4c19bed92dccfd20e25b2acf2bc8c2ca7c"
    assert rows["2d_cnn_mix_train"][3:5] == ["missing", "-"]  # no default column, not here
    assert rows["1d_cnn_mix_train_full_bn"][3] == "missing"
    assert rows["cnnscore_compact_1d"][3:5] == ["yes", "shipped"]  # GATK's 1D is not cached
    assert rows["cnnscore_compact_2d"][3] == "shipped"  # opt-in by name, not a default


def test_fetch_skip_missing_takes_the_verified_subset(tmp_path):
    """A mirror with only small_2d's weights: the rest is skipped and said."""
    cache = tmp_path / "cache"
    args = ("models", "fetch", "gatk", "--model", "all", "--mirror", MODELS, "--cache-dir", cache)
    strict = run_cli(*args)
    assert strict.returncode == 1 and "not in the mirror folder" in strict.stderr
    result = run_cli(*args, "--skip-missing", check=True)
    assert "skipped GATK's 1d_cnn_mix_train_full_bn" in result.stderr
    assert "skipped GATK's 2d_cnn_mix_train" in result.stderr
    assert (cache / "gatk" / "small_2d.hd5").is_file()
