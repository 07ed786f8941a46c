"""Architectures built in code, GATK's Keras-2 weights read with h5py, and their agreement."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from cnnscore.errors import InputError
from cnnscore.models.architectures import network_for
from cnnscore.models.keras2_weights import read_keras2_weights, write_keras2_weights
from cnnscore.models.keras_builder import build_keras, build_model, model_weights
from cnnscore.models.network import parameter_count
from cnnscore.models.spec import load_model_spec
from cnnscore.scoring.scores import format_score, log_odds
from conftest import MODELS, SMALL_2D_HD5, SMALL_2D_JSON, random_layers, small_2d_network


def test_the_shipped_small_2d_files_are_gatks_by_sha256():
    """GATK's LFS object ids for small_2d (the same in every release 4.0.12.0-4.6.0.0)."""
    for path, digest in [
        (SMALL_2D_HD5, "6f663a2fdbcde0addc5cb755f7af5d4c19bed92dccfd20e25b2acf2bc8c2ca7c"),
        (SMALL_2D_JSON, "e38e09cfe7b7ffbc80dce4972bc9c382148520147d46738a3f6f3235b2d876c6"),
    ]:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


@pytest.fixture(scope="module")
def small_2d():
    spec = load_model_spec(str(SMALL_2D_JSON))
    return build_model(spec, read_keras2_weights(str(SMALL_2D_HD5)), str(SMALL_2D_HD5))


def test_small_2d_reproduces_the_spec_sanity_vectors(small_2d):
    reads = np.zeros((2, 128, 128, 15), np.float32)
    annotations = np.array([[0] * 7, [60, 30, 1, 2, 20, 0, 0]], np.float32)
    probabilities = small_2d([reads, annotations], training=False).numpy()
    np.testing.assert_allclose(
        probabilities,
        [[0.962887, 0.037062, 0.000025, 0.000026], [0.491139, 0.028536, 0.399105, 0.081220]],
        atol=1e-5,
    )
    snp, indel = log_odds(probabilities)
    assert [format_score(s) for s in snp] == ["-10.554", "-0.208"]
    assert [format_score(s) for s in indel] == ["-7.251", "1.046"]


@pytest.mark.parametrize(
    ("json_name", "parameters"),
    [
        ("small_2d.json", 529_408),
        ("2d_cnn_mix_train.json", 2_031_732),
        ("1d_cnn_mix_train_full_bn.json", 1_681_156),
    ],
)
def test_architectures_have_gatks_parameter_counts(json_name, parameters):
    spec = load_model_spec(str(MODELS / json_name))
    network = network_for(spec)
    assert parameter_count(network) == parameters
    assert build_keras(network).count_params() == parameters
    assert build_keras(network, dropout=True).count_params() == parameters


def test_keras2_weights_round_trip_and_load(tmp_path):
    spec = load_model_spec(str(MODELS / "1d_cnn_mix_train_full_bn.json"))
    layers = random_layers(network_for(spec), seed=7)
    path = tmp_path / "random_1d.hd5"
    write_keras2_weights(str(path), layers, ["reference", *[layer.name for layer in layers]])
    loaded = read_keras2_weights(str(path))
    assert [x.name for x in loaded] == [x.name for x in layers]
    for ours, theirs in zip(layers, loaded, strict=True):
        for key in ours.arrays:
            np.testing.assert_array_equal(ours.arrays[key].astype(np.float32), theirs.arrays[key])
    model = build_model(spec, loaded, str(path))
    conv = next(x for x in model.layers if type(x).__name__ == "Conv1D")
    np.testing.assert_array_equal(
        conv.get_weights()[0], layers[0].arrays["kernel"].astype(np.float32)
    )


def test_weights_of_another_architecture_are_refused():
    spec = load_model_spec(str(MODELS / "1d_cnn_mix_train_full_bn.json"))
    with pytest.raises(InputError, match="weights do not match architecture"):
        build_model(spec, read_keras2_weights(str(SMALL_2D_HD5)), str(SMALL_2D_HD5))


def test_keras_model_carries_the_bound_weights_by_name():
    network, weights = small_2d_network()
    assert list(weights) == [
        "conv_1", "conv_2", "conv_3", "conv_4", "annotation_bn",
        "dense_annotations", "dense_fc", "softmax_predictions",
    ]  # fmt: skip
    back = model_weights(build_keras(network, weights))
    assert list(back) == list(weights)
    for name, arrays in weights.items():
        for key, array in arrays.items():
            np.testing.assert_array_equal(back[name][key], array)


def test_small_2d_topology_written_as_gatks_own_model_config():
    """The Keras 2.2 topology cnnscore writes into trained models equals the one inside GATK's
    small_2d.hd5: layer classes, order (Keras 2 assigns weights by it) and every config key; only
    layer names differ."""
    import json

    import h5py

    from cnnscore.models.keras2_config import keras2_model_config

    ours = keras2_model_config(network_for(load_model_spec(str(SMALL_2D_JSON))))["config"]
    with h5py.File(SMALL_2D_HD5, "r") as handle:
        gatk = json.loads(handle.attrs["model_config"])["config"]
    names = {}
    for mine, theirs in zip(ours["layers"], gatk["layers"], strict=True):
        assert mine["class_name"] == theirs["class_name"]
        names[theirs["name"]] = mine["name"]
        strip = lambda config: {k: v for k, v in config.items() if k != "name"}  # noqa: E731
        assert strip(mine["config"]) == strip(theirs["config"]), mine["name"]
    for mine, theirs in zip(ours["layers"], gatk["layers"], strict=True):
        inbound = [[[names[i[0]], *i[1:]] for i in node] for node in theirs["inbound_nodes"]]
        assert mine["inbound_nodes"] == inbound
    assert ours["input_layers"] == [[names[i[0]], 0, 0] for i in gatk["input_layers"]]
    assert ours["output_layers"] == [[names[o[0]], 0, 0] for o in gatk["output_layers"]]


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("window_size", "abc", 'window_size is "abc", not a positive whole number'),
        ("read_limit", None, "read_limit is null, not a positive whole number"),
        ("read_limit", 0, "read_limit is 0, not a positive whole number"),
        ("window_size", 128.5, "window_size is 128.5, not a positive whole number"),
        ("input_annotations", 5, "input_annotations is not a list of INFO keys"),
        ("input_annotations", ["MQ", 3], "input_annotations is not a list of INFO keys"),
    ],
)
def test_an_architecture_json_with_a_value_of_another_type_is_refused(tmp_path, key, value, says):
    """A wrongly typed size or key list is one line naming the file (it was a ValueError or
    TypeError traceback), not a size guessed from it."""
    data = json.loads(SMALL_2D_JSON.read_text())
    data[key] = value
    broken = tmp_path / "small_2d.json"
    broken.write_text(json.dumps(data))
    with pytest.raises(InputError) as caught:
        load_model_spec(str(broken))
    assert str(caught.value) == f"{broken}: {says}"
    assert load_model_spec(str(SMALL_2D_JSON)).window_size == 128
