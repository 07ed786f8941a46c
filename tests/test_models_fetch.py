"""`cnnscore models fetch gatk`: mirror folder and http(s) mirror, sha256 checks, cache reuse.

GATK's real files serve as the mirror (conftest.MODELS: small_2d as shipped, the two architecture
JSONs from testdata/gatk_models; GitHub is not reachable here); the expected hashes come from
testdata/gatk_models/SHA256SUMS, independent of the code's own table.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import MODELS, run_cli


def _sums() -> dict[str, str]:
    lines = (MODELS / "SHA256SUMS").read_text().split("\n")
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fetch(cache: Path, *extra) -> tuple[int, str, str]:
    result = run_cli("models", "fetch", "gatk", "--cache-dir", cache, *extra)
    return result.returncode, result.stdout, result.stderr


def test_fetch_from_a_mirror_folder_verifies_and_caches(tmp_path):
    code, stdout, stderr = _fetch(tmp_path / "cache", "--mirror", MODELS, "--model", "small_2d")
    assert code == 0, stderr
    paths = [Path(line) for line in stdout.split()]
    assert [p.name for p in paths] == ["small_2d.json", "small_2d.hd5"]
    sums = _sums()
    assert all(_sha256(p) == sums[p.name] for p in paths)
    assert stderr.count("fetched, sha256 verified") == 2
    stamps = [p.stat().st_mtime_ns for p in paths]
    code, _, stderr = _fetch(tmp_path / "cache", "--mirror", MODELS, "--model", "small_2d")
    assert code == 0 and stderr.count("cached, sha256 verified") == 2
    assert [p.stat().st_mtime_ns for p in paths] == stamps  # verified in place, not copied again


def test_a_tampered_file_is_refused_and_not_cached(tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(MODELS, mirror)
    (mirror / "small_2d.hd5").chmod(0o644)
    data = bytearray((mirror / "small_2d.hd5").read_bytes())
    data[1000] ^= 0xFF
    (mirror / "small_2d.hd5").write_bytes(bytes(data))
    code, _, stderr = _fetch(tmp_path / "cache", "--mirror", mirror, "--model", "small_2d")
    assert code == 1
    assert f"{mirror}/small_2d.hd5: not GATK's small_2d.hd5: sha256 " in stderr
    assert list((tmp_path / "cache" / "gatk").iterdir()) == []  # not even the good .json


def test_partially_pinned_weights_check_size_and_hash_ends(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy(MODELS / "1d_cnn_mix_train_full_bn.json", mirror)
    (mirror / "1d_cnn_mix_train_full_bn.hd5").write_bytes(b"\0" * 1000)
    code, stdout, stderr = _fetch(
        tmp_path / "cache", "--mirror", mirror, "--model", "1d_cnn_mix_train_full_bn"
    )
    assert code == 1 and stdout == ""
    assert "size 1,000 bytes, expected 20,227,144" in stderr


def test_a_model_is_cached_whole_or_not_at_all(tmp_path):
    """A mirror with only a model's .json: one error line naming the missing .hd5, no path on
    stdout, no "fetched" line, and no lone .json in the cache (that would pass for half a model).
    A .json already cached stays as it was."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy(MODELS / "1d_cnn_mix_train_full_bn.json", mirror)
    cache = tmp_path / "cache"
    code, stdout, stderr = _fetch(cache, "--mirror", mirror, "--model", "1d_cnn_mix_train_full_bn")
    assert code == 1 and stdout == ""
    assert stderr.splitlines() == [
        f"cnnscore: error: {mirror}/1d_cnn_mix_train_full_bn.hd5: not in the mirror folder"
    ]
    assert [p for p in cache.rglob("*") if not p.is_dir()] == []
    (cache / "gatk").mkdir(parents=True, exist_ok=True)
    shutil.copy(MODELS / "small_2d.json", cache / "gatk")
    code, stdout, _ = _fetch(cache, "--mirror", mirror, "--model", "small_2d")
    assert code == 1 and stdout == ""
    assert sorted(p.name for p in (cache / "gatk").iterdir()) == ["small_2d.json"]


def test_missing_file_and_unknown_model(tmp_path):
    # with no --model, GATK's 1D model (small_2d is shipped already); its weights are not offline
    code, _, stderr = _fetch(tmp_path / "cache", "--mirror", MODELS)
    assert code == 1 and "1d_cnn_mix_train_full_bn.hd5: not in the mirror folder" in stderr
    code, _, stderr = _fetch(tmp_path / "cache", "--mirror", MODELS, "--model", "2d_cnn_mix_train")
    assert code == 1 and "2d_cnn_mix_train.hd5: not in the mirror folder" in stderr
    code, _, stderr = _fetch(tmp_path / "cache", "--mirror", MODELS, "--model", "big_3d")
    assert code == 1 and "big_3d: unknown GATK model" in stderr


@pytest.fixture
def http_mirror():
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(MODELS))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_over_http(tmp_path, http_mirror):
    code, stdout, stderr = _fetch(
        tmp_path / "cache", "--mirror", http_mirror + "/", "--model", "small_2d"
    )
    assert code == 0, stderr
    assert _sha256(Path(stdout.split()[1])) == _sums()["small_2d.hd5"]
    code, _, stderr = _fetch(
        tmp_path / "cache", "--mirror", http_mirror, "--model", "2d_cnn_mix_train"
    )
    assert code == 1 and "download failed: HTTP 404" in stderr
    assert not list((tmp_path / "cache" / "gatk").glob(".*"))  # no partial download left
