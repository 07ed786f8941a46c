"""Inference backends and the encoding pipeline: same scores as the TensorFlow baseline.

fp32 backends must agree with `tensorflow` within 0.001 on every smoke record (the score text has
three decimals, so a rounding flip of one unit is the most allowed). Reduced precisions are not
GATK-identical; their runs are checked for completeness and agreement in direction.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnscore.backends import available_backends, backend_class, cpu
from cnnscore.models.architectures import load_network
from cnnscore.models.keras2_weights import read_keras2_weights
from cnnscore.models.keras_builder import build_keras
from cnnscore.models.spec import load_model_spec
from conftest import (
    GATK_1D,
    MODELS,
    SMALL_2D_HD5,
    SMALL_2D_JSON,
    data_lines,
    header_lines,
    info_scores,
    run_cli,
    smoke_2d_args,
    write_random_weights,
)


def test_builtin_backends_are_registered():
    assert {"tensorflow", "openvino", "onnxruntime"} <= set(available_backends())


@pytest.mark.parametrize("name", ["tensorflow", "openvino", "onnxruntime"])
def test_padded_batches_return_one_row_per_input_in_order(name):
    spec = load_model_spec(str(SMALL_2D_JSON))
    network, weights = load_network(spec, read_keras2_weights(str(SMALL_2D_HD5)), str(SMALL_2D_HD5))
    rng = np.random.default_rng(5)
    reads = rng.random((5, 128, 128, 15), dtype=np.float32)
    annotations = rng.normal(30, 10, (5, 7)).astype(np.float32)
    expected = build_keras(network, weights)([reads, annotations], training=False).numpy()
    backend = backend_class(name)(network, weights, batch_size=2, threads=2)
    got = backend.predict([reads, annotations])  # batches of 2, 2, and 1 padded to 2
    assert got.shape == (5, 4)
    np.testing.assert_allclose(got, expected, atol=2e-6)


@pytest.mark.parametrize("name", ["openvino", "onnxruntime"])
def test_fp32_backends_match_tensorflow_on_the_smoke_set(tmp_path, smoke_2d_output, name):
    out = tmp_path / f"{name}.vcf"
    run_cli(
        *smoke_2d_args(
            out,
            "--backend",
            name,
            "--inference-batch-size",
            "64",
            "--metrics-json",
            tmp_path / "m.json",
        ),
        check=True,
    )
    baseline, candidate = info_scores(smoke_2d_output), info_scores(out)
    assert len(candidate) == 252
    assert max(abs(a - b) for a, b in zip(baseline, candidate, strict=True)) <= 0.001 + 1e-9
    assert json.loads((tmp_path / "m.json").read_text())["backend"] == name


def test_int8_is_refused_with_the_measurements_that_rule_it_out(tmp_path):
    """int8 failed the sign-flip gate for small_2d (bench/precision_gate.py): one line says so,
    with the numbers, before any file is read or written."""
    out = tmp_path / "out" / "x.vcf"
    out.parent.mkdir()
    result = run_cli(*smoke_2d_args(out, "--backend", "openvino", "--precision", "int8"))
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("cnnscore: error: --precision: int8 is not offered: ")
    assert "0.37% of score signs" in line and "bench/precision_gate.py" in line
    assert list(out.parent.iterdir()) == []


def test_bf16_runs_or_is_refused_clearly(tmp_path, smoke_2d_output):
    out = tmp_path / "bf16.vcf"
    result = run_cli(
        *smoke_2d_args(
            out, "--backend", "openvino", "--precision", "bf16", "-L", "chr20:10000000-10010000"
        )
    )
    if _cpu_runs_bf16():
        assert result.returncode == 0, result.stderr
        assert len(data_lines(out)) > 0
    else:
        assert result.returncode == 1
        assert "this CPU has no bf16 support" in result.stderr
        assert not out.exists()


def _cpu_runs_bf16() -> bool:
    import openvino

    return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


@pytest.mark.parametrize(
    "name, precision",
    [("tensorflow", "fp32"), ("openvino", "fp32"), ("onnxruntime", "fp32"), ("openvino", "bf16")],
)
def test_each_backend_runs_the_precision_asked_for(name, precision):
    """Read back from the runtime: OpenVINO would pick bf16 by itself on bf16 CPUs. Where the CPU
    has no bf16 (AVX2-only, AVX-512 without avx512_bf16), asking for it is refused instead."""
    from cnnscore.errors import InputError

    spec = load_model_spec(str(SMALL_2D_JSON))
    network, weights = load_network(spec, read_keras2_weights(str(SMALL_2D_HD5)), str(SMALL_2D_HD5))
    if precision == "bf16" and not _cpu_runs_bf16():
        with pytest.raises(InputError, match="this CPU has no bf16 support"):
            backend_class(name)(network, weights, batch_size=2, threads=2, precision=precision)
        return
    backend = backend_class(name)(network, weights, batch_size=2, threads=2, precision=precision)
    assert backend.effective_precision() == precision


def test_metrics_and_header_name_the_effective_precision_and_cpu(tmp_path):
    out, metrics = tmp_path / "o.vcf", tmp_path / "m.json"
    region = ("-L", "chr20:10000000-10010000", "--metrics-json", metrics)
    run_cli(*smoke_2d_args(out, "--backend", "openvino", *region), check=True)
    data = json.loads(metrics.read_text())
    assert data["precision"] == data["effective_precision"] == "fp32"
    assert data["cpu_instruction_sets"] == list(cpu.instruction_sets())
    (line,) = [h for h in header_lines(out) if h.startswith("##cnnscoreCommandLine=<ID=score")]
    assert f'Precision="fp32",CPU="{cpu.describe()}"' in line


def test_a_runtime_that_lowers_precision_by_itself_is_refused(tmp_path, monkeypatch):
    """oneDNN told to compute in bf16 makes TensorFlow's fp32 not fp32: refused, nothing left."""
    monkeypatch.setenv("ONEDNN_DEFAULT_FPMATH_MODE", "BF16")
    result = run_cli(*smoke_2d_args(tmp_path / "x.vcf", "-L", "chr20:10000000-10010000"))
    assert result.returncode == 1
    assert "backend tensorflow runs bf16 on this CPU" in result.stderr
    assert "not the fp32 asked for" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_cpu_flags_are_read_from_cpuinfo():
    text = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile\n"
    assert cpu.parse_cpuinfo_flags(text) == {"fpu", "sse", "avx2", "avx512f", "avx512_bf16",
                                             "amx_tile"}  # fmt: skip
    assert set(cpu.instruction_sets()) <= set(cpu.RELEVANT)


def test_vex_vnni_is_named_where_avx512_is_absent():
    """int8 speed on AVX2-only servers with avx_vnni (Intel E-cores) must be traceable too."""
    flags = cpu.parse_cpuinfo_flags("flags\t\t: fpu avx2 avx_vnni fma\n")
    assert cpu.relevant_sets(flags) == ("avx2", "avx_vnni")
    zen5 = "flags\t\t: avx2 avx_vnni avx512f avx512_vnni avx512_bf16 avx512_vp2intersect\n"
    assert cpu.relevant_sets(cpu.parse_cpuinfo_flags(zen5)) == (
        "avx2", "avx_vnni", "avx512f", "avx512_vnni", "avx512_bf16")  # fmt: skip


def test_bf16_is_native_with_avx512_bf16_or_amx_only(monkeypatch):
    for sets, native in ((("avx2", "avx512f", "avx512_vnni"), False), (("avx2",), False),
                         (("avx2", "avx512f", "avx512_bf16"), True),
                         (("avx2", "amx_tile", "amx_bf16", "amx_int8"), True)):  # fmt: skip
        monkeypatch.setattr(cpu, "instruction_sets", lambda sets=sets: sets)
        assert cpu.has_bf16() is native, sets


def test_reduced_precision_is_refused_by_fp32_only_backends(tmp_path):
    result = run_cli(*smoke_2d_args(tmp_path / "x.vcf", "--precision", "bf16"))
    assert result.returncode == 1
    assert "backend tensorflow runs fp32, not bf16" in result.stderr


@pytest.fixture(scope="module")
def random_1d_weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("w1d")
    return write_random_weights(MODELS / "1d_cnn_mix_train_full_bn.json", folder / "w.hd5", seed=9)


@pytest.mark.parametrize("workers", ["0", "3"])
def test_encoder_processes_keep_order_and_scores(tmp_path, random_1d_weights, workers):
    common = ["score", "-V", GATK_1D / "input.hc_vqsr.vcf.gz",
              "-R", GATK_1D / "ref.b37.20_1-1M.fa.gz",
              "--architecture", MODELS / "1d_cnn_mix_train_full_bn.json",
              "--weights", random_1d_weights, "--inference-batch-size", "16",
              "--reservoir-scope", "site"]  # fmt: skip
    run_cli(*common, "-O", tmp_path / "one.vcf", check=True)  # default: one encoder process
    run_cli(*common, "-O", tmp_path / "n.vcf", "--encode-workers", workers, check=True)
    assert data_lines(tmp_path / "n.vcf") == data_lines(tmp_path / "one.vcf")
    assert len(data_lines(tmp_path / "n.vcf")) == 472


def test_gatk_stream_forces_one_encoder_process(tmp_path, smoke_2d_output):
    out = tmp_path / "w.vcf.gz"
    result = run_cli(*smoke_2d_args(out, "--encode-workers", "2"), check=True)
    assert "using 1 encoder process" in result.stderr
    assert data_lines(out) == data_lines(smoke_2d_output)


@pytest.mark.parametrize(
    "json_name",
    [
        "small_2d.json", "2d_cnn_mix_train.json", "1d_cnn_mix_train_full_bn.json",
        "compact-2d", "compact-1d",
    ],
)  # fmt: skip
@pytest.mark.parametrize("name", ["openvino", "onnxruntime"])
def test_graph_built_without_keras_equals_keras(name, json_name):
    """OpenVINO's and ONNX Runtime's graphs are built from the description, not converted from
    Keras: layouts (channels-first convolutions, channels-last Flatten), the folded batch norm and
    the second annotation concatenation of the legacy models must all agree with Keras. GATK's
    JSONs, and cnnscore's own compact networks (their --model-kind JSONs)."""
    from cnnscore.models.architectures import network_for
    from cnnscore.models.network import bind_weights
    from conftest import model_kind_spec, random_layers

    if json_name.endswith(".json"):
        spec = load_model_spec(str(MODELS / json_name))
    else:
        spec = model_kind_spec(json_name)
    network = network_for(spec)
    weights = bind_weights(network, random_layers(network, seed=11), json_name, "random")
    rng = np.random.default_rng(2)
    tensors = rng.random((3, *network.tensor_shape), dtype=np.float32)
    annotations = rng.normal(0, 2, (3, network.annotation_count)).astype(np.float32)
    expected = build_keras(network, weights)([tensors, annotations], training=False).numpy()
    got = backend_class(name)(network, weights, batch_size=2, threads=2).predict(
        [tensors, annotations]
    )
    np.testing.assert_allclose(got, expected, atol=2e-6)


@pytest.mark.parametrize("name", ["openvino", "onnxruntime"])
def test_scoring_never_imports_tensorflow(tmp_path, name):
    """The openvino and onnxruntime backends build their graphs from the description: a whole 2D
    score (depth buckets included) must run without TensorFlow, Keras or tf2onnx in the process."""
    import subprocess
    import sys

    out = tmp_path / f"{name}.vcf"
    args = [str(a) for a in smoke_2d_args(out, "--backend", name)]
    code = (
        "import sys\n"
        "from cnnscore.cli.main import main\n"
        f"rc = main({args!r})\n"
        "loaded = sorted(m for m in ('tensorflow', 'keras', 'tf2onnx') if m in sys.modules)\n"
        "print('LOADED', loaded)\n"
        "sys.exit(rc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout
    assert len(data_lines(out)) == 252


def test_the_default_backend_is_openvino_the_fastest_exact_one(tmp_path):
    """No --backend: openvino (measured fastest among the exact fp32 backends, RESULTS.md), with
    its DFT convolutions, fp32 and the same scores as tensorflow within 0.001."""
    from conftest import SMOKE_BAM, SMOKE_REF, SMOKE_VCF

    out, metrics = tmp_path / "o.vcf", tmp_path / "m.json"
    run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--weights", SMALL_2D_HD5,
            "-L", "chr20:10000000-10020000", "--metrics-json", metrics, "-O", out,
            check=True)  # fmt: skip
    data = json.loads(metrics.read_text())
    assert (data["backend"], data["convolution"], data["effective_precision"]) == (
        "openvino", "dft", "fp32")  # fmt: skip
    reference = tmp_path / "tf.vcf"
    run_cli(*smoke_2d_args(reference, "-L", "chr20:10000000-10020000"), check=True)
    deltas = [abs(a - b) for a, b in zip(info_scores(out), info_scores(reference), strict=True)]
    assert deltas and max(deltas) <= 0.001 + 1e-9
