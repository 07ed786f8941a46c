"""The workflow end to end: miniwdl runs it in the real task image (podman) on the smoke data with
scatter_count=3, and the gathered VCF must equal a direct `cnnscore score` run record for record.

Needs the image built by `docker/podman-build.sh` (the Makefile's `image` target, which `make test`
runs first) and the miniwdl plugin in tools/miniwdl_podman_local (installed by `make setup`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, data_lines, header_lines, run_cli, smoke_2d_args

IMAGE = "cnnscore:local"
CONTAINERS_CONF = os.environ.get("CNNSCORE_PODMAN_CONF", "/etc/cnnscore/containers.conf")


@pytest.fixture(scope="module")
def podman_env():
    env = dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF)
    if not shutil.which("podman") or not Path(CONTAINERS_CONF).is_file():
        pytest.fail("podman and the task image are needed: run docker/podman-build.sh (make image)")
    exists = subprocess.run(["podman", "image", "exists", IMAGE], env=env, check=False)
    if exists.returncode != 0:
        pytest.fail(f"image {IMAGE} not built: run docker/podman-build.sh (make image)")
    return env


@pytest.fixture(scope="module")
def workflow_output(podman_env, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("miniwdl")
    miniwdl = Path(sys.executable).with_name("miniwdl")
    result = subprocess.run(
        [str(miniwdl), "run", "wdl/workflows/cnn_score_variants.wdl",
         "-i", "inputs/local.smoke.json", "--dir", f"{run_dir}/.",
         "--cfg", "wdl/miniwdl/podman.cfg"],
        cwd=REPO, env=podman_env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-6000:]
    outputs = json.loads((run_dir / "outputs.json").read_text())
    return outputs


def test_workflow_output_equals_direct_run(workflow_output, tmp_path):
    direct = tmp_path / "direct.vcf.gz"
    run_cli(*smoke_2d_args(direct, "--reservoir-scope", "site"), check=True)
    gathered = Path(workflow_output["CNNScoreVariants.scored_vcf"])
    assert Path(workflow_output["CNNScoreVariants.scored_vcf_index"]).is_file()
    records = data_lines(gathered)
    assert len(records) == 252
    assert records == data_lines(direct)  # same order, every field, identical CNN_2D text
    assert header_lines(gathered) == header_lines(direct)


def test_workflow_reports_metrics_per_shard(workflow_output):
    metrics = [
        json.loads(Path(p).read_text()) for p in workflow_output["CNNScoreVariants.shard_metrics"]
    ]
    assert len(metrics) == 3
    assert sum(m["variants_scored"] for m in metrics) == 252
    assert all(m["backend"] == "tensorflow" and m["info_key"] == "CNN_2D" for m in metrics)
