"""The compiled-model cache (backends/compiled_cache.py): a run that reads its compiled models
back scores exactly as one that compiles them, a change of settings compiles anew, a damaged or
unwritable cache costs time and nothing else, and the folder stays within its budget."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cnnscore.backends import compiled_cache
from cnnscore.backends.compiled_cache import SUFFIX, CompiledCache
from conftest import SMOKE_BAM, SMOKE_REF, SMOKE_VCF, assert_matches_golden, data_lines, run_cli

#: small_2d's models: the dense one and its depth buckets
MODELS = 7


def _score(tmp_path: Path, name: str, cache: str, *extra: str) -> tuple[Path, dict]:
    """The smoke set with the default model and backend (openvino), one thread count."""
    output, metrics = tmp_path / f"{name}.vcf", tmp_path / f"{name}.json"
    threads = [] if "--threads" in extra else ["--threads", "2"]  # a flag may be given once
    run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--tensor-type",
            "read_tensor", *threads, "-O", output, "--metrics-json", metrics,
            "--compiled-cache", cache, *extra, check=True)  # fmt: skip
    return output, json.loads(metrics.read_text())


def _blobs(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in folder.glob("*" + SUFFIX)}


def test_a_warm_cache_scores_exactly_as_compiling_and_settings_compile_anew(tmp_path):
    cache = tmp_path / "compiled"
    compiled, first = _score(tmp_path, "compiled", str(cache))
    assert first["compiled_cache"] == "stored"
    stored = _blobs(cache)
    assert len(stored) == MODELS and min(stored.values()) > 0
    assert not [p for p in cache.iterdir() if not p.name.endswith(SUFFIX)]  # no temporaries

    read_back, second = _score(tmp_path, "read-back", str(cache))
    assert second["compiled_cache"] == "hit"
    assert second["effective_precision"] == "fp32"  # the configuration is passed at import
    assert data_lines(read_back) == data_lines(compiled)
    assert_matches_golden(read_back)
    off, third = _score(tmp_path, "off", "off")
    assert third["compiled_cache"] == "off" and data_lines(off) == data_lines(compiled)

    # one thread is another compilation (streams, threads): stored beside the first
    _, other = _score(tmp_path, "one-thread", str(cache), "--threads", "1")
    assert other["compiled_cache"] == "stored"
    assert len(_blobs(cache)) == 2 * MODELS


@pytest.mark.parametrize("variable, flag", [("OFF", None), ("off", "Off"), ("Off", "OFF")])
def test_off_is_taken_in_any_case(tmp_path, monkeypatch, variable, flag):
    """CNNSCORE_COMPILED_CACHE=OFF or --compiled-cache Off made a cache folder of that name in
    the current folder (about 48 MB); off in any case is no cache."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("CNNSCORE_COMPILED_CACHE", variable)
    output, metrics = tmp_path / "o.vcf", tmp_path / "o.json"
    extra = ["--compiled-cache", flag] if flag else []
    run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--tensor-type",
            "read_tensor", "--threads", "2", "-O", output, "--metrics-json", metrics,
            *extra, check=True)  # fmt: skip
    assert json.loads(metrics.read_text())["compiled_cache"] == "off"
    assert list(work.iterdir()) == []
    assert_matches_golden(output)


def test_a_damaged_blob_is_compiled_again_and_replaced(tmp_path):
    cache = tmp_path / "compiled"
    reference, _ = _score(tmp_path, "first", str(cache))
    stored = _blobs(cache)
    damaged = cache / sorted(stored)[0]
    damaged.write_bytes(damaged.read_bytes()[: stored[damaged.name] // 3])  # cut short
    scored, metrics = _score(tmp_path, "again", str(cache))
    assert metrics["compiled_cache"] == f"{MODELS - 1} hit, 1 stored"
    assert data_lines(scored) == data_lines(reference)
    assert set(_blobs(cache)) == set(stored)  # replaced, under its own name
    _, replaced = _score(tmp_path, "replaced", str(cache))
    assert replaced["compiled_cache"] == "hit"


def test_a_cache_that_cannot_be_created_only_costs_time(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder\n")  # a folder inside a file cannot be made, even by root
    scored, metrics = _score(tmp_path, "scored", str(blocked / "compiled"))
    assert metrics["compiled_cache"] == "unwritable"
    assert len(data_lines(scored)) == 252 and blocked.read_text() == "not a folder\n"
    # named on the command line, its absence is said (the run pays the compiling each time)
    result = run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--tensor-type", "reference",
                     "-O", tmp_path / "1d.vcf", "--compiled-cache", blocked,
                     check=True)  # fmt: skip
    assert f"cnnscore: warning: --compiled-cache {blocked} is not a folder" in result.stderr


def test_the_key_holds_the_cpu_and_every_part(monkeypatch):
    parts = {"network": "n", "weights": "w", "batch": 1, "config": {"NUM_STREAMS": 2}}
    key = CompiledCache.key(**parts)
    assert key == CompiledCache.key(**parts)
    assert key != CompiledCache.key(**{**parts, "config": {"NUM_STREAMS": 1}})
    assert key != CompiledCache.key(**{**parts, "weights": "v"})
    monkeypatch.setattr(compiled_cache, "cpu_identity", lambda: "another CPU|avx2")
    assert key != CompiledCache.key(**parts)


def test_the_folder_keeps_the_most_recently_used_within_its_budget(tmp_path):
    cache = CompiledCache(str(tmp_path))
    for age, name in enumerate(("old", "used", "new")):
        blob = tmp_path / (name + SUFFIX)
        blob.write_bytes(b"x" * 100)
        os.utime(blob, (1000 + age, 1000 + age))
    os.utime(tmp_path / ("used" + SUFFIX), (2000, 2000))  # read back lately
    (tmp_path / ".new.blob.partial-0001").write_bytes(b"x" * 500)  # a writer's temporary
    cache.prune(budget=250)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".new.blob.partial-0001", "new" + SUFFIX, "used" + SUFFIX,
    ]  # fmt: skip


@pytest.mark.parametrize("setting", ["off", "OFF", "", None])
def test_off_or_unset_is_no_cache(setting):
    assert CompiledCache.at(setting) is None
