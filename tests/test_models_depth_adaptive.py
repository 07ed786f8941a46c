"""Depth-adaptive 2D inference gives the dense network's softmax (within float summation order)
while computing only the rows that hold reads (plus the block arithmetic of the conv/pool chain)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnscore.backends import backend_class
from cnnscore.models.architectures import network_for
from cnnscore.models.depth_adaptive import NotAdaptable, bucket_networks, row_kernels, row_plan
from cnnscore.models.keras_builder import build_keras
from cnnscore.models.network import Conv, Dense, Network
from cnnscore.models.spec import load_model_spec
from cnnscore.scoring.inference import ChunkInference
from conftest import MODELS, data_lines, run_cli, small_2d_network, smoke_2d_args


@pytest.fixture(scope="module")
def small_2d():
    return small_2d_network()


def synthetic_tensors(read_counts, seed=3):
    """Tensors whose first n rows hold read-like values and whose other rows are identical
    (reference channels only), as the encoder makes them."""
    rng = np.random.default_rng(seed)
    tensors = np.zeros((len(read_counts), 128, 128, 15), np.float32)
    for index, n in enumerate(read_counts):
        reference = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 128)]
        tensors[index, :, :, 5:10] = reference
        tensors[index, :n, :, :5] = rng.random((n, 128, 5))
        tensors[index, :n, :, 10:14] = rng.integers(0, 2, (n, 1, 4))
        tensors[index, :n, :, 14] = rng.uniform(0, 1, (n, 1))
    annotations = rng.normal(
        [60, 35, 1, 5, 14, 0, 0], [5, 10, 0.5, 5, 8, 1, 1], (len(read_counts), 7)
    )
    return tensors, annotations.astype(np.float32)


def test_row_arithmetic_of_small_2d(small_2d):
    network, _ = small_2d
    kernels = row_kernels(network)
    assert kernels == [
        (25, False),
        (1, False),
        (25, False),
        (3, True),
        (1, False),
        (3, True),
    ]
    # bucket 15 (16 rows): conv1 +24 rows, conv3 +24, pool1 18 rows for 6, pool2 9 for 3, then
    # 5 copies of the last pooled row to make the dense model's 8.
    assert row_plan(kernels, 15, 128) == [24, 0, 24, 2, 0, 3, 5]
    assert row_plan(kernels, 63, 128) is not None and row_plan(kernels, 64, 128) is None
    buckets = bucket_networks(network)
    assert sorted(buckets) == [15, 31, 39, 47, 55, 63]
    # the bucket's branch ends with the dense network's pre-Flatten shape: the head is unchanged
    keras_bucket = build_keras(buckets[15])
    assert keras_bucket.get_layer("flatten").output.shape[1:] == (8 * 80 * 24,)


def test_legacy_2d_model_gets_only_the_buckets_its_arithmetic_allows():
    spec = load_model_spec(str(MODELS / "2d_cnn_mix_train.json"))
    assert sorted(bucket_networks(network_for(spec))) == [15]


@pytest.mark.parametrize("backend", ["tensorflow", "openvino"])
def test_adaptive_equals_dense_for_every_depth(small_2d, backend):
    counts = [0, 1, 24, 25, 60, 103, 104, 128, 15, 16, 31, 32, 47, 48, 63, 64]
    tensors, annotations = synthetic_tensors(counts)
    kind = backend_class(backend)
    network, weights = small_2d
    adaptive = ChunkInference(kind, network, weights, 8, 2, "fp32", depth_adaptive=True)
    dense = kind(network, weights, 8, 2)
    got = adaptive.predict(tensors, annotations, np.array(counts))
    expected = dense.predict([tensors, annotations])
    assert np.abs(got - expected).max() <= 1e-5
    assert adaptive.counts == {
        "rows_16": 3, "rows_32": 4, "rows_40": 1, "rows_48": 1, "rows_56": 1, "rows_64": 2,
        "dense": 4,
    }  # fmt: skip


@pytest.mark.parametrize("backend", ["tensorflow", "onnxruntime"])
def test_compact_2d_adaptive_equals_dense(backend):
    """cnnscore's own 2D network pools earlier (by 4), so its row plan differs from small_2d's;
    its buckets must still give the dense softmax."""
    from cnnscore.models.network import bind_weights
    from conftest import model_kind_spec, random_layers

    network = network_for(model_kind_spec("compact-2d"))
    # bucket 15 (16 rows): conv_2 +6 rows; pool_1 makes 5 rows of 20 (+4); conv_4 +4; pool_2
    # makes 2 of 8 (+3); 4 copies make the dense model's 6 rows before Flatten
    assert row_plan(row_kernels(network), 15, 128) == [0, 6, 4, 0, 4, 3, 4]
    assert sorted(bucket_networks(network)) == [15, 31, 39, 47, 55, 63, 79]
    weights = bind_weights(network, random_layers(network, seed=4), "compact", "random")
    counts = [0, 1, 7, 15, 16, 31, 40, 63, 64, 79, 80, 128]
    tensors, annotations = synthetic_tensors(counts)
    kind = backend_class(backend)
    adaptive = ChunkInference(kind, network, weights, 8, 2, "fp32", depth_adaptive=True)
    got = adaptive.predict(tensors, annotations, np.array(counts))
    expected = kind(network, weights, 8, 2).predict([tensors, annotations])
    assert np.abs(got - expected).max() <= 1e-5
    assert adaptive.counts == {
        "rows_16": 4, "rows_32": 2, "rows_48": 1, "rows_64": 1, "rows_80": 2, "dense": 2
    }  # fmt: skip


def test_chains_the_argument_does_not_cover_run_dense(capsys):
    network = Network(
        name="square_conv", tensor_input="read_tensor", tensor_shape=(128, 128, 15),
        annotation_input="best_practices", annotation_count=7,
        branch=(Conv("square", 4, (3, 3)),), annotation_units=4,
        head=(Dense("softmax_predictions", 4, "softmax"),),
    )  # fmt: skip
    with pytest.raises(NotAdaptable, match="square"):
        row_kernels(network)
    rng = np.random.default_rng(1)
    weights = {
        "square": {"kernel": rng.normal(0, 0.1, (3, 3, 15, 4)), "bias": np.zeros(4)},
        "annotation_bn": {"gamma": np.ones(7), "beta": np.zeros(7), "moving_mean": np.zeros(7),
                          "moving_variance": np.ones(7)},
        "dense_annotations": {"kernel": rng.normal(0, 0.1, (7, 4)), "bias": np.zeros(4)},
        "softmax_predictions": {"kernel": rng.normal(0, 0.01, (126 * 126 * 4 + 4, 4)),
                                "bias": np.zeros(4)},
    }  # fmt: skip
    weights = {k: {n: a.astype(np.float32) for n, a in v.items()} for k, v in weights.items()}
    inference = ChunkInference(backend_class("tensorflow"), network, weights, 4, 2, "fp32", True)
    assert inference.buckets == {}
    assert "depth-adaptive inference off for square_conv" in capsys.readouterr().err
    tensors, annotations = synthetic_tensors([5, 40])
    assert inference.predict(tensors, annotations, np.array([5, 40])).shape == (2, 4)
    assert inference.counts == {"dense": 2}


def test_smoke_scores_identical_with_and_without(tmp_path, smoke_2d_output):
    out = tmp_path / "dense.vcf.gz"
    run_cli(
        *smoke_2d_args(out, "--no-depth-adaptive", "--metrics-json", tmp_path / "d.json"),
        check=True,
    )
    adaptive, dense = data_lines(smoke_2d_output), data_lines(out)
    identical = sum(a == b for a, b in zip(adaptive, dense, strict=True))
    assert identical / len(dense) >= 0.999
    metrics = json.loads(smoke_2d_output.with_suffix(".json").read_text())
    assert metrics["depth_adaptive"] is True and sum(metrics["rows_computed"].values()) == 252
    assert json.loads((tmp_path / "d.json").read_text())["rows_computed"] == {"dense": 252}


def test_chunks_in_flight_together_score_as_each_alone(small_2d):
    """scoring.score keeps one chunk's requests running while it submits the next: chunks
    submitted before any is collected, and collected in either order, give each chunk's own
    scores (the OpenVINO requests are reused across chunks and buckets)."""
    network, weights = small_2d
    kind = backend_class("openvino")
    inference = ChunkInference(kind, network, weights, 8, 2, "fp32", depth_adaptive=True)
    chunks = [[0, 15, 16, 64, 128, 3, 40], [31, 32, 2, 100], [63, 47, 48, 1, 5, 16, 17, 90]]
    made = [(synthetic_tensors(c, seed=i), np.array(c)) for i, c in enumerate(chunks)]
    alone = [inference.predict(t, a, counts) for (t, a), counts in made]
    pending = [inference.submit(t, a, counts) for (t, a), counts in made]
    together = [inference.collect(pending[i]) for i in (1, 0, 2)]
    for got, expected in zip(together, [alone[1], alone[0], alone[2]], strict=True):
        assert np.array_equal(got, expected)
