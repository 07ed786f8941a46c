"""The epoch loop of ``cnnscore train`` (training/epochs.py): what Keras' ``fit`` did, without its
data pipeline, and the read-ahead thread that feeds it.

The comparison trains the same network twice in this process on real tensors (the smoke set's
candidates, 1D and 2D), once through ``keras.Model.fit`` as ``train`` used to and once through the
loop, and requires the same history and the same weights, bit for bit.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from test_training_train import KEEP_ALL, WHOLE_REGION, write_bed, write_tensors

from conftest import SMALL_2D_JSON, SMOKE_BAM


def keras_fit(model, training, validation, epochs, callbacks):
    """What ``train`` ran before the loop."""
    return model.fit(training, validation_data=validation, epochs=epochs, shuffle=False,
                     callbacks=list(callbacks), verbose=0).history  # fmt: skip


def _train(store, prefix, **options):
    from cnnscore.training.train import TrainOptions, run_train

    return run_train(TrainOptions(tensors=(str(store),), output=str(prefix), seed=3,
                                  learning_rate=1e-3, **options))  # fmt: skip


def _weights(path) -> dict[str, np.ndarray]:
    from cnnscore.models.keras2_weights import read_keras2_weights

    return {f"{layer.name}/{key}": array for layer in read_keras2_weights(str(path))
            for key, array in layer.arrays.items()}  # fmt: skip


def _same_run(store, tmp_path, monkeypatch, **options) -> None:
    from cnnscore.training import epochs

    ours = _train(store, tmp_path / "loop", **options)
    with monkeypatch.context() as patched:
        patched.setattr(epochs, "run_epochs", keras_fit)
        theirs = _train(store, tmp_path / "fit", **options)
    assert ours.report["history"] == theirs.report["history"]
    assert ours.report["training"]["best_epoch"] == theirs.report["training"]["best_epoch"]
    mine, fitted = _weights(ours.weights), _weights(theirs.weights)
    assert list(mine) == list(fitted) and mine
    for name, array in mine.items():
        np.testing.assert_array_equal(array, fitted[name], err_msg=name)


@pytest.fixture(scope="module")
def whole_bed(tmp_path_factory):
    return write_bed(tmp_path_factory.mktemp("bed") / "whole.bed", WHOLE_REGION)


@pytest.fixture(scope="module")
def store_1d_all(tmp_path_factory, whole_bed):
    store = tmp_path_factory.mktemp("epochs1d") / "tensors"
    write_tensors(store, *KEEP_ALL, bed=whole_bed)
    return store


def test_the_loop_trains_as_keras_fit_did_1d(store_1d_all, tmp_path, monkeypatch):
    """Labels, dropout, a cosine learning rate and early stopping (patience 0 with a rate that
    overshoots), over several epochs: the seeded reshuffle, the running means and the restored
    best weights all have to line up."""
    _same_run(store_1d_all, tmp_path, monkeypatch, model_kind="1d", epochs=4, batch_size=8,
              patience=0, cosine_decay=True)  # fmt: skip


def test_the_loop_trains_as_keras_fit_did_2d_distilled(tmp_path, monkeypatch, whole_bed):
    """Read tensors (decompressed shards, read ahead) and distillation's soft targets and
    annotation draws."""
    store = tmp_path / "tensors"
    write_tensors(store, "-I", SMOKE_BAM, "--tensor-type", "read_tensor",
                  "--downsample-snps", "0.3", "--downsample-indels", "1",
                  bed=whole_bed)  # fmt: skip
    _same_run(store, tmp_path, monkeypatch, model_kind="compact-2d", epochs=2, batch_size=16,
              teacher_architecture=str(SMALL_2D_JSON), annotation_draws=1)  # fmt: skip


class Batches:
    """A dataset of numbered batches; ``failing`` raises at that batch."""

    def __init__(self, count: int, failing: int | None = None):
        self.count, self.failing, self.read = count, failing, []

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, number: int):
        if number == self.failing:
            raise OSError(f"shard of batch {number} unreadable")
        self.read.append(threading.current_thread().name)
        return (np.full(2, number), number), number


def test_read_ahead_gives_every_batch_in_order_from_one_reader():
    from cnnscore.training.epochs import read_ahead

    batches = Batches(7)
    got = [targets for _, targets, weights in read_ahead(batches, depth=2)]
    assert got == list(range(7))
    assert set(batches.read) == {"cnnscore-batches"}


def test_read_ahead_raises_a_readers_error_at_its_batch():
    from cnnscore.training.epochs import read_ahead

    got = []
    with pytest.raises(OSError, match="shard of batch 3 unreadable"):
        for _, targets, _ in read_ahead(Batches(6, failing=3)):
            got.append(targets)
    assert got == [0, 1, 2]


def test_read_ahead_stops_its_reader_when_left_early():
    from cnnscore.training.epochs import read_ahead

    batches = Batches(1000)
    fed = read_ahead(batches, depth=1)
    assert next(fed)[1] == 0
    fed.close()
    assert not any(t.name == "cnnscore-batches" for t in threading.enumerate())
    assert len(batches.read) < 10
