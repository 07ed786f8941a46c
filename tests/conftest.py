"""Shared test helpers: where the real data lives, and runs of the CLI.

The real data and models stay in ``../shared`` (never copied into the repo). ``CNNSCORE_SHARED``
points elsewhere; when the folder is missing the tests fail loudly rather than skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    path = Path(os.environ.get("CNNSCORE_SHARED", REPO.parent / "shared")).resolve()
    if not (path / "spec" / "gatk_cnn_spec.md").is_file():
        raise RuntimeError(
            f"shared data folder not found at {path}: set CNNSCORE_SHARED to the folder holding "
            "data/, models/ and spec/"
        )
    return path


SHARED = shared_dir()
SMOKE = SHARED / "data" / "na12878_chr20_smoke"
GATK_1D = SHARED / "data" / "gatk_cnn1d_expected_chr20"
DEMO = SHARED / "data" / "demo20_tiny"
MODELS = SHARED / "models" / "gatk"

SMOKE_VCF = SMOKE / "hc.gatk4.vcf.gz"
SMOKE_REF = SMOKE / "ref.chr20.fa.gz"
SMOKE_BAM = SMOKE / "NA12878.chr20_10M_10.1M.bam"
SMALL_2D_JSON = MODELS / "small_2d.json"
SMALL_2D_HD5 = MODELS / "small_2d.hd5"


def run_cli(
    *args: str | os.PathLike, check: bool = False, only_cnnscore_lines: bool = True
) -> subprocess.CompletedProcess:
    """Run ``python -m cnnscore`` as a user would (the environment as it is: no log-level
    variables), capturing its output. Unless told otherwise, stderr must hold only ``cnnscore:``
    lines, whatever the CPU (TensorFlow prints its own on AVX-512 CPUs)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", "CNNSCORE_LIBRARY_LOGS")
    }
    result = subprocess.run(
        [sys.executable, "-m", "cnnscore", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"cnnscore failed ({result.returncode}):\n{result.stderr}")
    if only_cnnscore_lines:
        assert_only_cnnscore_lines(result.stderr)
    return result


def assert_only_cnnscore_lines(stderr: str) -> None:
    others = [line for line in stderr.splitlines() if not line.startswith("cnnscore:")]
    assert not others, f"stderr holds lines that are not cnnscore's:\n{stderr}"


def smoke_2d_args(output: os.PathLike, *extra: str | os.PathLike) -> list[str | os.PathLike]:
    """small_2d on the smoke set with the reference backend, tensorflow (a --backend in
    ``extra`` comes later and wins), so that runs compare exactly."""
    return [
        "score", "--backend", "tensorflow", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM,
        "--tensor-type", "read_tensor", "--weights", SMALL_2D_HD5,
        "--architecture", SMALL_2D_JSON, "-O", output, *extra,
    ]  # fmt: skip


def data_lines(path: os.PathLike) -> list[str]:
    """The record lines of a VCF (plain or bgzip), in order."""
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        return [line.rstrip("\n") for line in handle if not line.startswith("#")]


def info_text(line: str, key: str = "CNN_2D") -> str:
    """The raw INFO value of ``key`` in one record line."""
    return dict(item.partition("=")[::2] for item in line.split("\t")[7].split(";"))[key]


def info_scores(path: os.PathLike, key: str = "CNN_2D") -> list[float]:
    """The ``key`` INFO values of every record of a VCF, as floats, in order."""
    return [float(info_text(line, key)) for line in data_lines(path)]


def header_lines(path: os.PathLike) -> list[str]:
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        return [line.rstrip("\n") for line in handle if line.startswith("#")]


@pytest.fixture(scope="session")
def smoke_2d_output(tmp_path_factory) -> Path:
    """The real smoke data scored once with the real small_2d model (shared by several tests)."""
    output = tmp_path_factory.mktemp("smoke2d") / "out.vcf.gz"
    run_cli(*smoke_2d_args(output, "--metrics-json", output.with_suffix(".json")), check=True)
    return output


def model_kind_spec(kind: str):
    """The ModelSpec of ``cnnscore train --model-kind KIND`` (GATK's default annotation keys)."""
    from cnnscore.models.gatk_json import architecture_json
    from cnnscore.models.spec import DEFAULT_ANNOTATION_KEYS, parse_model_spec

    data = architecture_json(kind, DEFAULT_ANNOTATION_KEYS)
    data["architecture"] = f"{kind}.hd5"
    return parse_model_spec(data, f"{kind}.json")


def random_layers(network, seed: int) -> list:
    """Seeded random weights for every weighted layer of a Network, under Keras-2 style layer
    names (GATK's files name layers differently from our descriptions)."""
    from cnnscore.models.keras2_weights import LayerWeights
    from cnnscore.models.network import weight_shapes

    rng = np.random.default_rng(seed)
    layers = []
    for index, shapes in enumerate(weight_shapes(network).values()):
        if "moving_mean" in shapes:
            kind = "batchnormalization"
            arrays = {
                "gamma": rng.uniform(0.5, 1.5, shapes["gamma"]),
                "beta": rng.normal(0, 0.1, shapes["beta"]),
                "moving_mean": rng.normal(0, 1, shapes["moving_mean"]),
                "moving_variance": rng.uniform(0.5, 2.0, shapes["moving_variance"]),
            }
        else:
            kind = "dense" if len(shapes["kernel"]) == 2 else f"conv{len(shapes['kernel']) - 2}d"
            arrays = {key: rng.normal(0, 0.05, shape) for key, shape in shapes.items()}
        layers.append(LayerWeights(f"{kind}_{index}", arrays))
    return layers


def write_random_weights(architecture_json: os.PathLike, path: os.PathLike, seed: int) -> Path:
    """A Keras-2 .hd5 with seeded random weights for the architecture (GATK's 1D weights are not
    available offline, so 1D runs use this stand-in)."""
    from cnnscore.models.architectures import network_for
    from cnnscore.models.keras2_weights import write_keras2_weights
    from cnnscore.models.spec import load_model_spec

    spec = load_model_spec(str(architecture_json))
    layers = random_layers(network_for(spec), seed)
    write_keras2_weights(str(path), layers, [layer.name for layer in layers])
    return Path(path)


#: podman's configuration for the task images (docker/podman-build.sh writes it: runc, ulimits)
CONTAINERS_CONF = os.environ.get("CNNSCORE_PODMAN_CONF", "/etc/cnnscore/containers.conf")


def podman_env_for(image: str) -> dict[str, str]:
    """The environment for `podman run IMAGE`; fails (never skips) when podman, its
    configuration or the image is missing: `make test` builds them first."""
    env = dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF)
    if not shutil.which("podman") or not Path(CONTAINERS_CONF).is_file():
        pytest.fail("podman and the task images are needed: docker/podman-build.sh (make image)")
    exists = subprocess.run(["podman", "image", "exists", image], env=env, check=False)
    if exists.returncode != 0:
        pytest.fail(f"image {image} not built: run docker/podman-build.sh (make image)")
    return env


@pytest.fixture(scope="session", autouse=True)
def empty_model_cache(tmp_path_factory):
    """Every run starts from an empty model cache, whatever the machine's ~/.cache holds: which
    model scores when none is given depends on it (GATK's where its files are cached)."""
    os.environ["CNNSCORE_MODEL_CACHE"] = str(tmp_path_factory.mktemp("model-cache"))
    return Path(os.environ["CNNSCORE_MODEL_CACHE"])


def pytest_sessionfinish(session, exitstatus):
    """In CI a skipped test is a failure: nothing may pass by not running."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI") and skipped and exitstatus == 0:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; failing the run", red=True)
        session.exitstatus = 1


# --------------------------------------------------------------------- GCS API emulator
BUCKET = "cnnscore-test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def gcs_emulator(tmp_path_factory):
    """A running GCS API emulator (gcp-storage-emulator on localhost) with the smoke data and
    model uploaded; yields a client on it. Module-scoped: it sets STORAGE_EMULATOR_HOST."""
    port = _free_port()
    executable = Path(sys.executable).with_name("gcp-storage-emulator")
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [str(executable), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
            stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip
    saved = {k: os.environ.get(k) for k in ("STORAGE_EMULATOR_HOST", "CNNSCORE_GCS_CACHE")}
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    os.environ["CNNSCORE_GCS_CACHE"] = str(tmp_path_factory.mktemp("gcs-cache"))
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"the GCS emulator did not start: {log.read_text()}")
        from google.cloud import storage

        client = storage.Client(project="test")
        bucket = client.create_bucket(BUCKET)
        for path in [
            SMOKE_VCF, Path(f"{SMOKE_VCF}.tbi"), SMOKE_REF, Path(f"{SMOKE_REF}.fai"),
            Path(f"{SMOKE_REF}.gzi"), SMOKE_BAM, Path(f"{SMOKE_BAM}.bai"),
            SMOKE / "giab_truth.vcf.gz", SMOKE / "giab_truth.vcf.gz.tbi",
        ]:  # fmt: skip
            bucket.blob(f"smoke/{path.name}").upload_from_filename(str(path))
        for path in (SMALL_2D_JSON, SMALL_2D_HD5):
            bucket.blob(f"models/{path.name}").upload_from_filename(str(path))
        bucket.blob("noindex/reads.bam").upload_from_filename(str(SMOKE_BAM))
        yield client
    finally:
        process.terminate()
        process.wait(timeout=10)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def gs(name: str) -> str:
    return f"gs://{BUCKET}/{name}"
