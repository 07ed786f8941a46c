"""Publishing the images: docker/publish.sh pushes both to a registry (here Debian's
docker-registry, started on loopback) and prints their digests; the smoke workflow then runs from
the pushed digest, pulled back from the registry, as Terra would run a pinned image."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CONTAINERS_CONF, REPO, data_lines


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A plain-http registry on a free loopback port, storing in a temporary folder."""
    executable = shutil.which("docker-registry")
    if executable is None:
        pytest.fail("docker-registry is needed (Debian's package; make test installs it)")
    folder = tmp_path_factory.mktemp("registry")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {folder / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen([executable, "serve", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_publish_pushes_both_images_and_the_workflow_runs_from_the_digest(registry, tmp_path):
    env = dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF, CNNSCORE_PUBLISH_TLS_VERIFY="false")
    done = subprocess.run([str(REPO / "docker" / "publish.sh"), f"{registry}/cnnscore:ci"],
                          env=env, capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert done.returncode == 0, done.stderr
    references = done.stdout.split()
    assert [r.split("@")[0] for r in references] == [f"{registry}/cnnscore",
                                                     f"{registry}/cnnscore-ovtf"]  # fmt: skip
    assert all(r.split("@")[1].startswith("sha256:") and len(r.split("@")[1]) == 71
               for r in references)  # fmt: skip
    for reference in references:  # from the registry, by digest, as a pinned task would get it
        subprocess.run(["podman", "pull", "--quiet", "--tls-verify=false", reference], env=env,
                       check=True, capture_output=True, timeout=1800)  # fmt: skip
    run_dir = tmp_path / "run"
    miniwdl = Path(sys.executable).with_name("miniwdl")
    result = subprocess.run(
        [str(miniwdl), "run", "wdl/cnn_score_variants.wdl",
         f"docker={references[0]}", "-i", "inputs/local.smoke.json",
         "--dir", f"{run_dir}/.", "--cfg", "wdl/miniwdl/podman.cfg"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    outputs = json.loads((run_dir / "outputs.json").read_text())
    assert len(data_lines(outputs["CNNScoreVariants.scored_vcf"])) == 252


def test_publish_needs_a_tag(tmp_path):
    done = subprocess.run([str(REPO / "docker" / "publish.sh"), "localhost:5000/cnnscore"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and "usage: docker/publish.sh REGISTRY/NAME:TAG" in done.stderr
    wrong = subprocess.run([str(REPO / "docker" / "publish.sh"), "localhost:5000/x:1", "both"],
                           capture_output=True, text=True)  # fmt: skip
    assert wrong.returncode == 2 and "[main|ovtf|all]" in wrong.stderr


def test_publish_pushes_what_was_built_and_says_what_was_not(registry):
    """One image built and not the other: `all` pushes the one and names the other on stderr;
    asking for the missing one alone is an error; nothing at all to push is an error too."""
    env = dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF, CNNSCORE_PUBLISH_TLS_VERIFY="false",
               CNNSCORE_OVTF_IMAGE="cnnscore-ovtf:never-built")  # fmt: skip
    script, target = str(REPO / "docker" / "publish.sh"), f"{registry}/partial:ci"
    done = subprocess.run([script, target], env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr
    assert [line.split("@")[0] for line in done.stdout.split()] == [f"{registry}/partial"]
    assert "not published: cnnscore-ovtf:never-built was not built" in done.stderr
    alone = subprocess.run([script, target, "ovtf"], env=env, capture_output=True, text=True)
    assert alone.returncode == 1 and "no local image cnnscore-ovtf:never-built" in alone.stderr
    main_only = subprocess.run([script, target, "main"], env=env, capture_output=True, text=True,
                               timeout=1800)  # fmt: skip
    assert main_only.returncode == 0 and len(main_only.stdout.split()) == 1
    env["CNNSCORE_IMAGE"] = "cnnscore:never-built"
    nothing = subprocess.run([script, target], env=env, capture_output=True, text=True)
    assert nothing.returncode == 1 and "nothing published" in nothing.stderr
