"""Models by name and the default model: GATK's where its files are in the model cache (as GATK
scored with its own models), cnnscore's own otherwise, said on stderr; `--model NAME`;
`cnnscore models list`; `models fetch --skip-missing` for a mirror holding only some models."""

from __future__ import annotations

import shutil

import pytest

from conftest import (
    MODELS,
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
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


@pytest.fixture
def gatk_cache(tmp_path, monkeypatch):
    """A model cache holding GATK's small_2d (the only GATK weights available offline)."""
    cache = tmp_path / "models"
    (cache / "gatk").mkdir(parents=True)
    for name in ("small_2d.json", "small_2d.hd5"):
        shutil.copyfile(MODELS / name, cache / "gatk" / name)
    monkeypatch.setenv("CNNSCORE_MODEL_CACHE", str(cache))
    return cache


def test_with_gatks_model_cached_no_model_means_small_2d(gatk_cache, tmp_path):
    default, explicit = tmp_path / "default.vcf", tmp_path / "explicit.vcf"
    result = _score(default)
    assert result.returncode == 0, result.stderr
    assert "no model given: using GATK's small_2d, GATK's default for read_tensor" in result.stderr
    run_cli(*smoke_2d_args(explicit, *REGION), check=True)
    assert [info_text(x) for x in data_lines(default)] == [
        info_text(x) for x in data_lines(explicit)
    ]


def test_without_it_cnnscores_own_model_scores_and_says_why(tmp_path):
    result = _score(tmp_path / "out.vcf")
    assert result.returncode == 0, result.stderr
    assert "no model given: using cnnscore's own cnnscore_compact_2d.hd5" in result.stderr
    assert (
        "GATK's small_2d is unavailable: small_2d.json is not in the model cache" in result.stderr
    )


def test_a_damaged_cached_file_is_not_used(gatk_cache, tmp_path):
    weights = gatk_cache / "gatk" / "small_2d.hd5"
    weights.write_bytes(weights.read_bytes()[:-1] + b"x")
    result = _score(tmp_path / "out.vcf")
    assert result.returncode == 0, result.stderr
    assert "using cnnscore's own" in result.stderr and "is not GATK's small_2d.hd5" in result.stderr
    named = _score(tmp_path / "named.vcf", "--model", "small_2d")
    assert named.returncode == 1 and "GATK's small_2d is not available" in named.stderr


def test_model_by_name(gatk_cache, tmp_path):
    by_name, by_file = tmp_path / "name.vcf", tmp_path / "file.vcf"
    assert _score(by_name, "--model", "small_2d").returncode == 0
    run_cli(*smoke_2d_args(by_file, *REGION), check=True)
    assert data_lines(by_name) == data_lines(by_file)
    compact = _score(tmp_path / "compact.vcf", "--model", "cnnscore_compact_2d")
    assert compact.returncode == 0 and "no model given" not in compact.stderr


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--model", "small_3d"), "small_3d: unknown model; known: small_2d"),
        (("--model", "cnnscore_compact_1d"), "cnnscore_compact_1d takes the reference tensor"),
        (("--model", "small_2d", "--weights", str(MODELS / "small_2d.hd5")), "not both"),
    ],
)
def test_model_name_errors(gatk_cache, tmp_path, extra, message):
    out = tmp_path / "out" / "x.vcf"
    out.parent.mkdir()
    result = _score(out, *extra)
    assert result.returncode == 1 and message in result.stderr
    assert list(out.parent.iterdir()) == []


def test_models_list_shows_what_is_here_and_the_defaults(gatk_cache):
    result = run_cli("models", "list", check=True)
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert set(rows) == {"small_2d", "2d_cnn_mix_train", "1d_cnn_mix_train_full_bn",
                         "cnnscore_compact_2d", "cnnscore_compact_1d"}  # fmt: skip
    assert rows["small_2d"].split()[:4] == ["small_2d", "gatk", "read_tensor", "yes"]
    assert "6f663a2fdbcde0addc5cb755f7af5d4c19bed92dccfd20e25b2acf2bc8c2ca7c" in rows["small_2d"]
    assert "not fetched" in rows["2d_cnn_mix_train"]
    assert rows["cnnscore_compact_1d"].split()[3] == "yes"  # GATK's 1D weights are not here
    assert rows["cnnscore_compact_2d"].split()[3] != "yes"


def test_fetch_skip_missing_takes_the_verified_subset(tmp_path):
    """A mirror with only small_2d's weights (as ../shared): the rest is skipped and said."""
    cache = tmp_path / "cache"
    args = ("models", "fetch", "gatk", "--model", "all", "--mirror", MODELS, "--cache-dir", cache)
    strict = run_cli(*args)
    assert strict.returncode == 1 and "not in the mirror folder" in strict.stderr
    result = run_cli(*args, "--skip-missing", check=True)
    assert "skipped GATK's 1d_cnn_mix_train_full_bn" in result.stderr
    assert "skipped GATK's 2d_cnn_mix_train" in result.stderr
    assert (cache / "gatk" / "small_2d.hd5").is_file()
    listed = run_cli("models", "list", "--cache-dir", cache, check=True).stdout
    assert any(line.startswith("small_2d ") and " yes " in line for line in listed.splitlines())
