"""The openvino-tensorflow backend, in its own image (Python 3.9, TF 2.9.3, openvino-tensorflow
2.3.0): scores of the smoke set match the main TensorFlow baseline, with the integration on and
with it switched off by OPENVINO_TF_DISABLE=1."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import SHARED, info_scores, run_cli, smoke_2d_args

IMAGE = "cnnscore-ovtf:local"
CONTAINERS_CONF = os.environ.get("CNNSCORE_PODMAN_CONF", "/etc/cnnscore/containers.conf")


@pytest.fixture(scope="module")
def podman_env():
    env = dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF)
    if not shutil.which("podman") or not os.path.isfile(CONTAINERS_CONF):
        pytest.fail("podman is needed: run docker/podman-build.sh (make image)")
    if subprocess.run(["podman", "image", "exists", IMAGE], env=env, check=False).returncode:
        pytest.fail(f"image {IMAGE} not built: make image")
    return env


def score_in_image(env, out_dir, name: str, disable: bool) -> subprocess.CompletedProcess:
    smoke, models = "/shared/data/na12878_chr20_smoke", "/shared/models/gatk"
    command = [
        "podman", "run", "--rm", "--user", "0", "-v", f"{SHARED}:/shared:ro",
        "-v", f"{out_dir}:/out", "-e", f"OPENVINO_TF_DISABLE={int(disable)}", IMAGE,
        "cnnscore", "score", "-V", f"{smoke}/hc.gatk4.vcf.gz", "-R", f"{smoke}/ref.chr20.fa.gz",
        "-I", f"{smoke}/NA12878.chr20_10M_10.1M.bam", "--architecture", f"{models}/small_2d.json",
        "--weights", f"{models}/small_2d.hd5", "--backend", "openvino-tensorflow",
        "--inference-batch-size", "64", "-O", f"/out/{name}",
    ]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)


@pytest.mark.parametrize("disable", [False, True], ids=["integration-on", "OPENVINO_TF_DISABLE"])
def test_openvino_tensorflow_matches_the_baseline(podman_env, tmp_path, smoke_2d_output, disable):
    result = score_in_image(podman_env, tmp_path, "ovtf.vcf", disable)
    assert result.returncode == 0, result.stderr[-3000:]
    baseline, candidate = info_scores(smoke_2d_output), info_scores(tmp_path / "ovtf.vcf")
    assert len(candidate) == 252
    assert max(abs(a - b) for a, b in zip(baseline, candidate, strict=True)) <= 0.001 + 1e-9


def test_backend_outside_its_image_is_a_clear_error(tmp_path):
    result = run_cli(*smoke_2d_args(tmp_path / "x.vcf", "--backend", "openvino-tensorflow"))
    assert result.returncode == 1
    assert "use the image docker/Dockerfile.ovtf" in result.stderr
    assert not (tmp_path / "x.vcf").exists()
