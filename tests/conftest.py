"""Shared test helpers: where the real data lives, and runs of the CLI.

Every input the tests read is in the repository: the real data sets in ``testdata/`` (sources and
licenses in its README), GATK's small_2d shipped in the package. Nothing outside the clone is
read, so a fresh clone runs ``make test`` as it is.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
TESTDATA = REPO / "testdata"
SMOKE = TESTDATA / "na12878_chr20_smoke"
GATK_1D = TESTDATA / "gatk_cnn1d_expected_chr20"
HG002 = TESTDATA / "hg002_chr20_10M_10.1M"
#: GATK's small_2d as the package ships it (the default 2D model)
SHIPPED_SMALL_2D = REPO / "python" / "cnnscore" / "models" / "gatk_small_2d"
#: GATK's golden 2D output for the smoke set: GATK 4.6.0's scoring code with small_2d
GOLDEN_2D = SMOKE / "gatk460_oracle.cnn_2d.vcf.gz"

# Every run compiles its models unless a test gives it a compiled-model cache: what a test checks
# must not depend on what an earlier test (or run on this machine) left in ~/.cache.
# test_backends_compiled_cache.py runs the cached path against this one.
os.environ["CNNSCORE_COMPILED_CACHE"] = "off"


def _gatk_models_folder() -> Path:
    """GATK's model files in one folder, as GATK's release holds them (the fetch tests use it as
    a mirror): small_2d from the package, the two architecture descriptions whose weights are not
    available offline from testdata/gatk_models, and that folder's SHA256SUMS, GATK's own hashes
    for all four (independent of the code's table)."""
    folder = Path(tempfile.mkdtemp(prefix="cnnscore-gatk-models-"))
    atexit.register(shutil.rmtree, folder, True)
    for source in [*(TESTDATA / "gatk_models").iterdir(), *SHIPPED_SMALL_2D.glob("small_2d.*")]:
        if source.name != "README.md":
            shutil.copyfile(source, folder / source.name)
    return folder


MODELS = _gatk_models_folder()

SMOKE_VCF = SMOKE / "hc.gatk4.vcf.gz"
SMOKE_REF = SMOKE / "ref.chr20.fa.gz"
SMOKE_BAM = SMOKE / "NA12878.chr20_10M_10.1M.bam"
SMALL_2D_JSON = SHIPPED_SMALL_2D / "small_2d.json"
SMALL_2D_HD5 = SHIPPED_SMALL_2D / "small_2d.hd5"


def small_2d_network():
    """GATK's small_2d as cnnscore runs it: its network and the shipped weights bound to it."""
    from cnnscore.models.architectures import load_network
    from cnnscore.models.keras2_weights import read_keras2_weights
    from cnnscore.models.spec import load_model_spec

    spec = load_model_spec(str(SMALL_2D_JSON))
    return load_network(spec, read_keras2_weights(str(SMALL_2D_HD5)), str(SMALL_2D_HD5))


#: a 5 kb window of the smoke set with real sequence, reads and calls (chr20:10,000,001-10,005,000)
SLICE_START, SLICE_LENGTH = 10_000_000, 5_000


def smoke_slice_fasta(folder: Path, contig: str = "slice") -> Path:
    """The smoke reference's 5 kb slice as a one-contig FASTA of its own (with .fai): a small
    real reference for the tiny-pileup and simulation tests."""
    import pysam

    with pysam.FastaFile(str(SMOKE_REF)) as fasta:
        bases = fasta.fetch("chr20", SLICE_START, SLICE_START + SLICE_LENGTH)
    path = Path(folder) / f"{contig}.fa"
    lines = [bases[i : i + 60] for i in range(0, len(bases), 60)]
    path.write_text(f">{contig}\n" + "\n".join(lines) + "\n")
    pysam.faidx(str(path))
    return path


def run_cli(
    *args: str | os.PathLike,
    check: bool = False,
    only_cnnscore_lines: bool = True,
    prelude: str | None = None,
    timeout: float = 900,
    stdin_text: str | None = None,
) -> subprocess.CompletedProcess:
    """Run ``python -m cnnscore`` as a user would (the environment as it is: no log-level
    variables), capturing its output. Unless told otherwise, stderr must hold only ``cnnscore:``
    lines, whatever the CPU (TensorFlow prints its own on AVX-512 CPUs). ``prelude``: Python run
    first in the same process (a stand-in for what the machine tells the code, or a hang).
    ``stdin_text``: fed to the command through a pipe (``-V /dev/stdin``)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", "CNNSCORE_LIBRARY_LOGS")
    }
    command = [sys.executable, "-m", "cnnscore", *map(str, args)]
    if prelude is not None:
        code = (
            f"import sys\n{prelude}\n"
            "from cnnscore.cli.main import main\n"
            f"sys.exit(main({[str(a) for a in args]!r}))\n"
        )
        command = [sys.executable, "-c", code]
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=timeout, input=stdin_text
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
    """small_2d on the smoke set with the reference backend, tensorflow, unless ``extra`` names
    another (a flag may be given once), so that runs compare exactly."""
    backend = [] if "--backend" in map(str, extra) else ["--backend", "tensorflow"]
    return [
        "score", *backend, "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM,
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


def golden_agreement(path: os.PathLike) -> tuple[float, int, int]:
    """How a scored smoke VCF agrees with GATK 4.6.0's own scores (GOLDEN_2D): the records must
    be the same, in the same order; returns (max |delta|, records whose printed CNN_2D text is
    GATK's exactly, records)."""
    ours, gatk = data_lines(path), data_lines(GOLDEN_2D)
    assert [line.split("\t")[:5] for line in ours] == [line.split("\t")[:5] for line in gatk]
    texts = [(info_text(a), info_text(b)) for a, b in zip(ours, gatk, strict=True)]
    worst = max(abs(float(a) - float(b)) for a, b in texts)
    return worst, sum(a == b for a, b in texts), len(texts)


def assert_matches_golden(path: os.PathLike) -> None:
    """GATK's tolerance for its own 2D test (the last printed digit): max |delta| <= 0.001 and
    the printed text identical on at least 250 of the 252 records."""
    worst, identical, count = golden_agreement(path)
    assert count == 252, count
    assert worst <= 0.001 + 1e-9, f"max |delta| {worst} against GATK 4.6.0"
    assert identical >= 250, f"only {identical} of {count} records print GATK's text"


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


def gcs_score_args(
    output: str, *extra: str, reads: str = "smoke/NA12878.chr20_10M_10.1M.bam"
) -> list[str]:
    """small_2d on the smoke set uploaded to the emulator (gcs_emulator), every input gs://."""
    return [
        "score", "--backend", "tensorflow",
        "-V", gs("smoke/hc.gatk4.vcf.gz"), "-R", gs("smoke/ref.chr20.fa.gz"),
        "-I", gs(reads), "--tensor-type", "read_tensor",
        "--weights", gs("models/small_2d.hd5"), "-O", output, *extra,
    ]  # fmt: skip
