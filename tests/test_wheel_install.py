"""A light install, as a user behind a firewall gets it: the wheel built from this checkout,
installed with the locked versions and without TensorFlow into a fresh virtual environment, scores
the smoke set with no network (its own network namespace: `unshare -n`), an empty model cache and
an empty HOME, and its scores are GATK 4.6.0's; TensorFlow's uses say in one line what to install.

Needs root (unshare) and the package registry for the install, as CI has; it fails, never skips,
without them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import (
    REPO,
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
    assert_matches_golden,
    assert_only_cnnscore_lines,
)

LOCK = REPO / "python" / "requirements.lock"


def _run(command: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(list(map(str, command)), capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory) -> Path:
    """A fresh venv holding the wheel and only what its core dependencies pull, at the locked
    versions."""
    work = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-c", LOCK,
          "-w", work / "dist", REPO / "python"])  # fmt: skip
    (wheel,) = (work / "dist").glob("cnnscore-*.whl")
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", venv])
    _run([venv / "bin" / "pip", "install", "--quiet", "-c", LOCK, wheel])
    return venv


def _offline(venv: Path, home: Path, *args) -> subprocess.CompletedProcess:
    """`cnnscore ARGS` from the light venv with no network at all, an empty HOME and an empty
    model cache, from a folder outside the checkout (nothing of it importable)."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.fail("this test needs root and unshare(1) to take the network away (CI has both)")
    home.mkdir(exist_ok=True)
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
           "CNNSCORE_MODEL_CACHE": str(home / "empty-model-cache")}  # fmt: skip
    command = ["unshare", "--net", venv / "bin" / "cnnscore", *args]
    return subprocess.run(list(map(str, command)), capture_output=True, text=True, env=env,
                          cwd=home, timeout=900)  # fmt: skip


def test_the_light_install_has_no_tensorflow(light_venv):
    listed = _run([light_venv / "bin" / "pip", "list", "--format", "json"]).stdout
    names = {entry["name"].lower() for entry in json.loads(listed)}
    assert {"numpy", "pysam", "h5py", "openvino", "cnnscore"} <= names
    assert not {name for name in names if name.startswith(("tensorflow", "keras"))}


def test_the_light_install_scores_gatks_numbers_offline(light_venv, tmp_path):
    out = tmp_path / "out" / "smoke.cnn_2d.vcf.gz"
    out.parent.mkdir()
    result = _offline(light_venv, tmp_path / "home", "score", "-V", SMOKE_VCF, "-R", SMOKE_REF,
                      "-I", SMOKE_BAM, "--tensor-type", "read_tensor", "-O", out)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert_only_cnnscore_lines(result.stderr)
    assert "no model given: using GATK's small_2d" in result.stderr
    assert str(light_venv) in result.stderr  # the wheel's own copy, not this checkout's
    assert_matches_golden(out)
    assert not (tmp_path / "home" / "empty-model-cache").exists()  # nothing fetched or cached


@pytest.mark.parametrize(
    "args",
    [
        ("score", "--backend", "tensorflow"),
        ("train", "--tensors", "t", "--model-kind", "compact-2d"),
    ],
    ids=["score --backend tensorflow", "train"],
)
def test_tensorflow_uses_without_it_say_what_to_install(light_venv, tmp_path, args):
    out = tmp_path / "out"
    out.mkdir()
    if args[0] == "score":
        args = (*args, "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "-O", out / "x.vcf")
    else:
        args = (*args, "-O", out / "model")
    result = _offline(light_venv, tmp_path / "home", *args)
    assert result.returncode == 1, result.stderr
    assert_only_cnnscore_lines(result.stderr)
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("cnnscore: error")]
    assert "needs TensorFlow, which is not installed: pip install 'cnnscore[tensorflow]'" in error
    assert list(out.iterdir()) == []
