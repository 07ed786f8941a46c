"""The openvino-tensorflow image (Python 3.9, TF 2.9.3, openvino-tensorflow 2.3.0): scores of the
smoke set match the main TensorFlow baseline, with the integration on and with it switched off by
OPENVINO_TF_DISABLE=1; and its Keras 2 loads the whole models cnnscore exports, as GATK would."""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from test_image_requirements import ROOT, closure, pins

from cnnscore.backends import cpu
from conftest import (
    MODELS,
    SMALL_2D_HD5,
    SMALL_2D_JSON,
    TESTDATA,
    assert_matches_golden,
    assert_only_cnnscore_lines,
    header_lines,
    info_scores,
    podman_env_for,
    random_layers,
    run_cli,
    smoke_2d_args,
)

IMAGE = "cnnscore-ovtf:local"
#: what cnnscore imports in this image (its Dockerfile checks these imports); cnnscore itself is
#: installed without its dependencies, which are the main image's (TF 2.21, Keras 3)
OVTF_ROOTS = ("openvino-tensorflow", "tensorflow-cpu", "pysam", "h5py", "numpy")


@pytest.fixture(scope="module")
def podman_env():
    return podman_env_for(IMAGE)


PLUGINS_XML = "/opt/cnnscore/lib/python3.9/site-packages/openvino_tensorflow/plugins.xml"
F32_PROPERTY = '<properties><property key="INFERENCE_PRECISION_HINT" value="f32"/></properties>'


def score_in_image(
    env, out_dir, name: str, disable: bool, *, unpatched: bool = False, extra=()
) -> subprocess.CompletedProcess:
    smoke = "/testdata/na12878_chr20_smoke"
    # no model given: the image's default, GATK's small_2d shipped in the package
    # unpatched: the plugins.xml as openvino-tensorflow ships it (no f32 hint for the CPU)
    before = f"sed -i 's#{F32_PROPERTY}##' {PLUGINS_XML} && " if unpatched else ""
    command = [
        "podman", "run", "--rm", "--user", "0", "-v", f"{TESTDATA}:/testdata:ro",
        "-v", f"{out_dir}:/out", "-e", f"OPENVINO_TF_DISABLE={int(disable)}", IMAGE,
        "bash", "-c", before + 'exec "$@"', "score", "cnnscore", "score",
        "-V", f"{smoke}/hc.gatk4.vcf.gz", "-R", f"{smoke}/ref.chr20.fa.gz",
        "-I", f"{smoke}/NA12878.chr20_10M_10.1M.bam", "--tensor-type", "read_tensor",
        "--backend", "openvino-tensorflow",
        "--inference-batch-size", "64", "-O", f"/out/{name}", *extra,
    ]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)


@pytest.mark.parametrize("disable", [False, True], ids=["integration-on", "OPENVINO_TF_DISABLE"])
def test_openvino_tensorflow_matches_the_baseline(podman_env, tmp_path, smoke_2d_output, disable):
    result = score_in_image(podman_env, tmp_path, "ovtf.vcf", disable)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_only_cnnscore_lines(result.stderr)
    assert "no model given: using GATK's small_2d" in result.stderr
    assert_matches_golden(tmp_path / "ovtf.vcf")
    baseline, candidate = info_scores(smoke_2d_output), info_scores(tmp_path / "ovtf.vcf")
    assert len(candidate) == 252
    assert max(abs(a - b) for a, b in zip(baseline, candidate, strict=True)) <= 0.001 + 1e-9
    (line,) = [h for h in header_lines(tmp_path / "ovtf.vcf") if h.startswith("##cnnscoreComm")]
    assert 'Precision="fp32"' in line


def test_unpatched_openvino_tensorflow_refuses_fp32_where_it_would_run_bf16(podman_env, tmp_path):
    """Without the image's f32 hint, its OpenVINO runs bf16 on avx512_bf16/AMX CPUs: there the
    run stops with one line saying why; elsewhere its default is f32 and fp32 holds."""
    region = ("-L", "chr20:10000000-10010000")
    result = score_in_image(podman_env, tmp_path, "x.vcf", False, unpatched=True, extra=region)
    assert_only_cnnscore_lines(result.stderr)
    if cpu.has_bf16():
        assert result.returncode == 1, result.stderr
        assert "openvino-tensorflow's OpenVINO would run bf16, not fp32" in result.stderr
        assert not (tmp_path / "x.vcf").exists()
    else:
        assert result.returncode == 0, result.stderr
        assert len(info_scores(tmp_path / "x.vcf")) > 0


def test_backend_outside_its_image_is_a_clear_error(tmp_path):
    result = run_cli(*smoke_2d_args(tmp_path / "x.vcf", "--backend", "openvino-tensorflow"))
    assert result.returncode == 1
    assert "use the image docker/Dockerfile.ovtf" in result.stderr
    assert not (tmp_path / "x.vcf").exists()


_LOAD_WITH_KERAS_2 = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
for case in sys.argv[1:]:
    path = "/models/small_2d.hd5" if case == "gatk_small_2d" else f"/work/{case}.hd5"
    inputs = np.load(f"/work/{case.replace('gatk_', '')}.inputs.npz")
    model = tf.keras.models.load_model(path, compile=False)
    out = model([inputs["tensor"], inputs["annotations"]], training=False).numpy()
    np.save(f"/work/{case}.out.npy", out)
"""


def test_models_cnnscore_writes_load_with_keras_2(podman_env, tmp_path):
    """What `cnnscore train` exports is a whole Keras 2.2 model, as GATK ships them: Keras 2
    (TensorFlow 2.9 in this image) loads it with load_model and predicts what cnnscore predicts.
    GATK's real small_2d weights, re-exported, must also predict what GATK's own file predicts,
    and cnnscore's shipped default models must load as they are."""
    from cnnscore.models.architectures import load_network, network_for
    from cnnscore.models.defaults import DEFAULT_MODELS, default_model
    from cnnscore.models.keras2_config import write_gatk_model
    from cnnscore.models.keras2_weights import read_keras2_weights
    from cnnscore.models.keras_builder import build_keras
    from cnnscore.models.network import bind_weights
    from cnnscore.models.spec import load_model_spec

    cases = {
        "small_2d": load_network(
            load_model_spec(str(SMALL_2D_JSON)),
            read_keras2_weights(str(SMALL_2D_HD5)),
            str(SMALL_2D_HD5),
        )
    }
    for name in ("2d_cnn_mix_train", "1d_cnn_mix_train_full_bn"):
        network = network_for(load_model_spec(str(MODELS / f"{name}.json")))
        cases[name] = network, bind_weights(network, random_layers(network, 5), name, "random")
    shipped = {}
    for tensor_type in DEFAULT_MODELS:
        architecture, weights_path = default_model(tensor_type)
        name = os.path.basename(weights_path)[: -len(".hd5")]
        shipped[name] = weights_path
        cases[name] = load_network(
            load_model_spec(architecture), read_keras2_weights(weights_path), weights_path
        )
    rng = np.random.default_rng(8)
    expected = {}
    for name, (network, weights) in cases.items():
        if name in shipped:  # the shipped file itself, as trained and exported
            shutil.copyfile(shipped[name], tmp_path / f"{name}.hd5")
        else:
            write_gatk_model(str(tmp_path / f"{name}.hd5"), network, weights)
        tensor = rng.random((3, *network.tensor_shape), dtype=np.float32)
        annotations = rng.normal(0, 2, (3, network.annotation_count)).astype(np.float32)
        np.savez(tmp_path / f"{name}.inputs.npz", tensor=tensor, annotations=annotations)
        expected[name] = build_keras(network, weights)([tensor, annotations]).numpy()
    (tmp_path / "load.py").write_text(_LOAD_WITH_KERAS_2)
    command = [
        "podman", "run", "--rm", "--user", "0", "-v", f"{MODELS}:/models:ro",
        "-v", f"{tmp_path}:/work", IMAGE, "python", "/work/load.py", *cases, "gatk_small_2d",
    ]  # fmt: skip
    result = subprocess.run(command, env=podman_env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in cases:
        got = np.load(tmp_path / f"{name}.out.npy")
        np.testing.assert_allclose(got, expected[name], atol=1e-5, err_msg=name)
    np.testing.assert_allclose(
        np.load(tmp_path / "gatk_small_2d.out.npy"), expected["small_2d"], atol=1e-5
    )


def test_image_carries_its_runtime_closure_and_nothing_else(podman_env):
    """docker/requirements-ovtf.txt (resolved once for CPython 3.9) pins exactly what the image's
    roots pull in, read from the metadata installed in the image, as for the main image
    (tests/test_image_requirements.py, whose closure() runs here by its source)."""
    script = "\n".join([
        "from __future__ import annotations", "import json", "from importlib import metadata",
        "from packaging.requirements import Requirement",
        "from packaging.utils import canonicalize_name", inspect.getsource(closure),
        f"needed = closure([Requirement(name) for name in {list(OVTF_ROOTS)!r}])",
        "installed = {canonicalize_name(d.metadata['Name']) for d in metadata.distributions()}",
        "print(json.dumps({'needed': sorted(needed), 'installed': sorted(installed)}))",
    ])  # fmt: skip
    command = ["podman", "run", "--rm", IMAGE, "python", "-c", script]
    result = subprocess.run(command, env=podman_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    needed, installed = set(found["needed"]), set(found["installed"])
    image = set(pins(ROOT / "docker" / "requirements-ovtf.txt"))
    installers = set(pins(ROOT / "docker" / "build-requirements.txt"))  # pip, setuptools, wheel
    assert needed - installed == set(), "runtime dependencies missing from the image"
    # pkg-resources 0.0.0: what Debian bullseye's venv module installs beside pip (a Debian patch)
    unpinned = installers | {"cnnscore", "pkg-resources"}
    assert installed - needed - unpinned == set(), "installed, never needed"
    assert image == needed - installers, "requirements-ovtf.txt differs from what its roots need"
