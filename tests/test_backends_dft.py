"""Long one-axis convolutions as DFT matrix products (backends/axis_dft.py, the OpenVINO graph):
the same outputs as direct evaluation up to float summation order, for every depth bucket and
every GATK 2D architecture; the same scores end to end; and the multiply-adds it reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnscore.backends import backend_class
from cnnscore.backends.axis_dft import (
    axis_dft,
    branch_macs,
    correlate,
    correlate_blocks,
    dft_blocks,
    dft_macs,
    direct_macs,
    window_plan,
)
from cnnscore.models.architectures import load_network, network_for
from cnnscore.models.depth_adaptive import bucket_networks
from cnnscore.models.keras2_weights import read_keras2_weights
from cnnscore.models.network import bind_weights
from cnnscore.models.spec import load_model_spec
from conftest import (
    MODELS,
    SMALL_2D_HD5,
    SMALL_2D_JSON,
    info_scores,
    random_layers,
    run_cli,
    small_2d_network,
    smoke_2d_args,
)


def _direct(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    taps = kernel.shape[0]
    return np.stack(
        [
            np.einsum("nct,tcd->nd", x[..., j : j + taps].astype(np.float64), kernel)
            for j in range(x.shape[-1] - taps + 1)
        ],
        axis=-1,
    )


@pytest.mark.parametrize("length, taps, channels, filters", [(128, 25, 64, 48), (104, 25, 48, 32),
                                                              (49, 25, 15, 64), (25, 25, 3, 2),
                                                              (37, 16, 5, 7)])  # fmt: skip
def test_dft_correlation_equals_direct(length, taps, channels, filters):
    """Odd lengths and even ones, whose bins 0 and length / 2 share one packed bin."""
    rng = np.random.default_rng(length)
    kernel = rng.normal(size=(taps, channels, filters)).astype(np.float32)
    x = rng.normal(size=(3, channels, length)).astype(np.float32)
    direct = _direct(x, kernel)
    got = correlate(x, axis_dft(kernel, length))
    assert got.shape == direct.shape
    assert np.abs(got - direct).max() <= 2e-6 * np.abs(direct).max()


@pytest.mark.parametrize("length, kept", [(72, 48), (88, 64), (49, 1), (30, 29)])
def test_copied_positions_fold_into_the_transform(length, kept):
    """Depth buckets append copies of the last row before a (25, 1) layer; the transform of the
    kept rows, copies folded in, equals the correlation of the rows with the copies."""
    rng = np.random.default_rng(kept)
    kernel = rng.normal(size=(25, 15, 8)).astype(np.float32)
    x = rng.normal(size=(2, 15, kept)).astype(np.float32)
    extended = np.concatenate([x, np.repeat(x[..., -1:], length - kept, axis=-1)], axis=-1)
    full = correlate(extended, axis_dft(kernel, length))
    folded = correlate(x, axis_dft(kernel, length, kept))
    assert np.abs(folded - full).max() <= 2e-6 * np.abs(full).max()
    assert dft_macs(length, 25, 15, 8, kept) < dft_macs(length, 25, 15, 8)


@pytest.mark.parametrize("length, kept, blocks", [(128, 128, 2), (128, 128, 4), (104, 104, 2),
                                                  (72, 48, 2), (72, 48, 3), (72, 20, 4),
                                                  (40, 16, 2), (88, 64, 2)])  # fmt: skip
def test_overlap_save_blocks_equal_direct(length, kept, blocks):
    """Blocks of an axis, each transformed alone and re-reading the 24 positions before it, give
    the direct correlation's outputs one after another; where the input holds fewer positions
    (copied rows), each block folds the copies it covers, and blocks of copies only (72, 20, 4:
    the blocks starting at 24 and 36) read the last kept row."""
    rng = np.random.default_rng(length + kept + blocks)
    kernel = rng.normal(size=(25, 6, 5)).astype(np.float32)
    x = rng.normal(size=(2, 6, kept)).astype(np.float32)
    extended = np.concatenate([x, np.repeat(x[..., -1:], length - kept, axis=-1)], axis=-1)
    direct = _direct(extended, kernel)
    got = correlate_blocks(x, kernel, length, blocks, kept)
    assert got.shape == direct.shape
    assert np.abs(got - direct).max() <= 2e-6 * np.abs(direct).max()
    plan = window_plan(length, 25, blocks, kept)
    assert [start for start, _, _ in plan] == sorted(start for start, _, _ in plan)
    assert all(start + read <= kept for start, _, read in plan)


def test_blocks_are_chosen_where_they_need_fewer_multiply_adds():
    """small_2d's window-axis layers (128 and 104 positions) run in two blocks (1.2x fewer); a
    48-row bucket's first layer (72 rows, 48 kept) stays one transform (two blocks: 1.07x, under
    BLOCK_GAIN); the dense model's first layer (128 rows, 15 -> 64 channels) runs in four."""
    assert dft_blocks(128, 25, 64, 48) == 2
    assert dft_blocks(104, 25, 32, 24) == 2
    assert dft_blocks(72, 25, 15, 64, 48) == 1
    assert dft_blocks(128, 25, 15, 64) == 4
    assert dft_macs(128, 25, 64, 48, blocks=2) * 1.2 < dft_macs(128, 25, 64, 48)
    with pytest.raises(ValueError, match="104 outputs in 3 blocks"):
        window_plan(128, 25, 3)


def test_every_transform_is_computed_once_per_run(monkeypatch):
    """The graph builder computes each transform once (openvino_graph._transform): the depth
    buckets' models reuse the window axis's, a layer's blocks reuse their first one's, and what
    they reuse equals a fresh computation. Without the sharing the window-axis transforms alone
    would be computed once per model and block."""
    from cnnscore.backends import openvino_graph
    from cnnscore.backends.openvino_graph import _transform, build_openvino_model

    computed: list[tuple] = []

    def counting_axis_dft(kernel, length, kept=None):
        computed.append((kernel.tobytes(), length, kept))
        return axis_dft(kernel, length, kept)

    monkeypatch.setattr(openvino_graph, "axis_dft", counting_axis_dft)
    network, weights = small_2d_network()
    openvino_graph._transform_of.cache_clear()
    for each in [network, *bucket_networks(network).values()]:
        build_openvino_model(each, weights, 1, dft=True)
    assert len(computed) == len(set(computed))
    windows = [entry for entry in computed if entry[0] == weights["conv_2"]["kernel"].tobytes()]
    assert len(windows) == 1  # 2 blocks in each of 7 models without the sharing
    kernel = weights["conv_2"]["kernel"]
    taps, channels, filters = kernel.shape[1:]
    kernel = kernel.reshape(taps, channels, filters)
    _, size, read = window_plan(128, taps, dft_blocks(128, taps, channels, filters))[0]
    shared, fresh = _transform(kernel, size, read), axis_dft(kernel, size, read)
    for name in ("forward", "mix", "inverse"):
        assert np.array_equal(getattr(shared, name), getattr(fresh, name))


def _graph_macs(model) -> int:
    """Multiply-adds of a built graph's matrix products and convolutions."""
    total = 0
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        outputs = int(np.prod(list(op.output(0).get_shape())))
        if kind == "MatMul":
            left = list(op.input(0).get_shape())
            inner = left[-2] if op.get_attributes()["transpose_a"] else left[-1]
            total += outputs * inner
        elif kind == "Convolution":
            total += outputs * int(np.prod(list(op.input(1).get_shape())[1:]))
    return total


@pytest.mark.parametrize("name", ["small_2d.json", "2d_cnn_mix_train.json"])
def test_reported_multiply_adds_are_what_the_graph_computes(name):
    """gflop_per_variant comes from branch_macs: it must count what build_openvino_model builds
    (blocks, packed bins, folded copies, direct layers and the dense head), per variant."""
    from cnnscore.backends.openvino_graph import build_openvino_model
    from cnnscore.models.network import DENSE_ANNOTATIONS

    networks, weights = _networks(name)
    annotation_macs = int(np.prod(weights[DENSE_ANNOTATIONS]["kernel"].shape))
    for label, network in networks.items():
        for dft in (False, True):
            model = build_openvino_model(network, weights, 2, dft=dft)
            counted = _graph_macs(model) // 2 - annotation_macs
            assert counted == branch_macs(network, dft), (label, dft)


def test_multiply_add_counts():
    assert direct_macs(128, 25, 64, 48) == 104 * 25 * 64 * 48
    # 64 bins: bin 64's real part packed into bin 0's imaginary slot
    assert dft_macs(128, 25, 64, 48) == 2 * 64 * 128 * 64 + 4 * 64 * 64 * 48 + 104 * 128 * 48
    assert dft_macs(49, 25, 5, 3) == 2 * 25 * 49 * 5 + 4 * 25 * 5 * 3 + 25 * 50 * 3
    two_blocks = 2 * (2 * 38 * 76 * 64 + 4 * 38 * 64 * 48 + 52 * 76 * 48)
    assert dft_macs(128, 25, 64, 48, blocks=2) == two_blocks
    network = network_for(load_model_spec(str(SMALL_2D_JSON)))
    dense_direct = branch_macs(network, dft=False)
    assert round(2 * dense_direct / 1e9, 2) == 3.02  # small_2d's 3.02 GFLOP per variant
    assert branch_macs(network, dft=True) < dense_direct / 2


def _networks(name: str):
    spec = load_model_spec(str(MODELS / name))
    if name == "small_2d.json":
        network, weights = load_network(
            spec, read_keras2_weights(str(SMALL_2D_HD5)), str(SMALL_2D_HD5)
        )
    else:
        network = network_for(spec)
        weights = bind_weights(network, random_layers(network, 3), name, "random")
    return {"dense": network, **bucket_networks(network)}, weights


@pytest.mark.parametrize("name", ["small_2d.json", "2d_cnn_mix_train.json"])
def test_openvino_dft_equals_direct_for_every_bucket(name):
    networks, weights = _networks(name)
    openvino = backend_class("openvino")
    rng = np.random.default_rng(7)
    for label, network in networks.items():
        reads = rng.random((3, *network.tensor_shape), dtype=np.float32)
        annotations = rng.normal(30, 10, (3, network.annotation_count)).astype(np.float32)
        direct = openvino(network, weights, 2, 2, convolution="direct")
        dft = openvino(network, weights, 2, 2, convolution="dft")
        assert dft.macs_per_variant < direct.macs_per_variant, label
        got, expected = dft.predict([reads, annotations]), direct.predict([reads, annotations])
        assert np.abs(got - expected).max() <= 1e-5, label


def test_openvino_dft_keeps_the_spec_sanity_vectors():
    networks, weights = _networks("small_2d.json")
    backend = backend_class("openvino")(networks["dense"], weights, 2, 2, convolution="dft")
    reads = np.zeros((2, 128, 128, 15), np.float32)
    annotations = np.array([[0] * 7, [60, 30, 1, 2, 20, 0, 0]], np.float32)
    np.testing.assert_allclose(
        backend.predict([reads, annotations]),
        [[0.962887, 0.037062, 0.000025, 0.000026], [0.491139, 0.028536, 0.399105, 0.081220]],
        atol=1e-5,
    )


def test_smoke_scores_with_dft_match_tensorflow(tmp_path, smoke_2d_output):
    out, metrics = tmp_path / "dft.vcf", tmp_path / "m.json"
    run_cli(
        *smoke_2d_args(out, "--backend", "openvino", "--convolution", "dft",
                       "--metrics-json", metrics),
        check=True,
    )  # fmt: skip
    baseline, candidate = info_scores(smoke_2d_output), info_scores(out)
    assert max(abs(a - b) for a, b in zip(baseline, candidate, strict=True)) <= 0.001 + 1e-9
    # two of the 252 lie within 1.5e-6 of a rounding boundary (tensorflow 0.1904997, 7.7374988;
    # float64 0.1905005, 7.7375011): tensorflow's text is the one off, see the next test
    same_text = sum(f"{a:.3f}" == f"{b:.3f}" for a, b in zip(baseline, candidate, strict=True))
    assert same_text >= len(baseline) - 2
    data = json.loads(metrics.read_text())
    assert data["convolution"] == "dft" and 0 < data["gflop_per_variant"] < 1.67


def _smoke_chunk():
    from cnnscore.io.vcf_text import VcfReader
    from cnnscore.models.spec import DEFAULT_ANNOTATION_KEYS
    from cnnscore.scoring.pipeline import Encoder, EncoderConfig
    from conftest import SMOKE_BAM, SMOKE_REF, SMOKE_VCF

    config = EncoderConfig(
        str(SMOKE_VCF), str(SMOKE_REF), (str(SMOKE_BAM),), "read_tensor", DEFAULT_ANNOTATION_KEYS,
        128, 128, "run", "compiled",
    )  # fmt: skip
    return Encoder(config).encode_chunk(list(VcfReader(str(SMOKE_VCF)).records()))


#: float32 results of one network differ with the kernels' summation order, which differs by CPU:
#: OpenVINO's DFT against TensorFlow's dense model, unrounded smoke scores, max |delta| under 1e-5
#: with AVX-512 kernels, 1.07e-5 with AVX2's (an AVX-512 EPYC forced to AVX2 by ONEDNN_MAX_CPU_ISA,
#: and the same bits under qemu's Haswell, an AVX2-only CPU); 3e-5 holds either with room.
FLOAT32_ORDER = 3e-5


def test_raw_smoke_scores_with_dft_match_tensorflow_to_float_rounding():
    """Unrounded scores, every depth bucket: DFT against tensorflow's dense model within
    FLOAT32_ORDER, on any CPU; where the %.3f texts differ, both scores lie that close to a
    rounding boundary, and the network evaluated in float64 gives one of the two texts: a flip
    of the last digit's rounding, whose side depends on the CPU, never a wrong digit."""
    from network_float64 import probabilities

    from cnnscore.models.spec import OUTPUT_LABELS
    from cnnscore.scoring.inference import ChunkInference
    from cnnscore.scoring.scores import EPSILON, site_scores

    chunk = _smoke_chunk()
    networks, weights = _networks("small_2d.json")

    def scores(name, adaptive, convolution):
        inference = ChunkInference(backend_class(name), networks["dense"], weights, 8, 2, "fp32",
                                   adaptive, convolution)  # fmt: skip
        probabilities = inference.predict(chunk.tensors, chunk.annotations, chunk.read_rows)
        return np.array(site_scores(probabilities, chunk.type_labels), np.float64), inference

    expected, _ = scores("tensorflow", False, None)
    got, inference = scores("openvino", True, "dft")
    assert len(inference.counts) >= 3  # several buckets and the dense model took part
    assert np.abs(got - expected).max() <= FLOAT32_ORDER
    flipped = [i for i, (want, have) in enumerate(zip(expected, got, strict=True))
               if f"{want:.3f}" != f"{have:.3f}"]  # fmt: skip
    assert len(flipped) <= 3  # 250 of the 252 identical with AVX-512 kernels
    dense = chunk.tensors.at_height(networks["dense"].tensor_shape[0])
    for i in flipped:
        boundary = (np.round(min(expected[i], got[i]) * 1000 - 0.5) + 0.5) / 1000
        assert abs(expected[i] - boundary) <= FLOAT32_ORDER, (expected[i], got[i])
        assert abs(got[i] - boundary) <= FLOAT32_ORDER, (expected[i], got[i])
        p = probabilities(networks["dense"], weights, dense[i], chunk.annotations[i])
        positive, negative = (("SNP", "NOT_SNP") if chunk.type_labels[i] == "SNP"
                              else ("INDEL", "NOT_INDEL"))  # fmt: skip
        exact = np.log(EPSILON + p[OUTPUT_LABELS[positive]]
                       / (p[OUTPUT_LABELS[negative]] + EPSILON))  # fmt: skip
        assert f"{exact:.3f}" in (f"{got[i]:.3f}", f"{expected[i]:.3f}"), (exact, got[i])
        assert abs(exact - got[i]) <= FLOAT32_ORDER, (exact, got[i])


def test_dft_is_refused_where_the_backend_has_no_such_graph(tmp_path):
    result = run_cli(*smoke_2d_args(tmp_path / "x.vcf", "--convolution", "dft"))
    assert result.returncode == 1
    assert "backend tensorflow evaluates convolutions direct, not dft" in result.stderr
