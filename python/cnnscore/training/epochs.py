"""The epoch loop of ``cnnscore train``: Keras' ``fit`` without its data pipeline.

``model.fit`` hands a ``PyDataset`` to ``tf.data`` through a generator, which every batch (32 read
tensors are 32 MB) passes through on its way in: on a 2-core CPU that cost ~0.9 ms per tensor, about
half of what the compact network's own forward and backward pass took (1.7 ms). This loop runs the
same compiled train and test steps on the same batches in the same order, with the same callbacks
(history, early stopping, the epoch log) and the same logs (running means over the epoch, ``val_``
for the held-out pass), so it trains to the same weights as ``fit`` did, bit for bit (a test
compares them); and it reads the next batches (decompressing shards, which releases the GIL) in a
thread while TensorFlow works on the current one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Sequence
from typing import Any

from ..read_ahead import ReadAhead

#: batches read ahead of the one being trained on (each 2D batch of 32 holds 32 MB)
READ_AHEAD = 2


def read_ahead(
    batches: Any, depth: int = READ_AHEAD
) -> Generator[tuple[Any, Any, None], None, None]:
    """``(inputs, targets, None)`` for every batch of ``batches`` in order, read by one thread
    ``depth`` batches ahead (read_ahead.ReadAhead). One reader keeps the shard cache
    single-threaded and the order the dataset's; an error in the reader is raised here, at the
    batch it failed on."""
    with ReadAhead(
        (batches[number] for number in range(len(batches))), depth, name="cnnscore-batches"
    ) as ahead:
        for inputs, targets in ahead:
            yield inputs, targets, None


def _metrics(model) -> dict[str, float]:
    return {name: float(value) for name, value in model.get_metrics_result().items()}


def run_epochs(model, training: Any, validation: Any, epochs: int,
               callbacks: Sequence[Any]) -> dict[str, list[float]]:  # fmt: skip
    """Train ``model`` (compiled) for up to ``epochs`` epochs as ``model.fit(training,
    validation_data=validation, epochs=epochs, shuffle=False, callbacks=callbacks)`` would, and
    return the history. ``training`` is reshuffled by its ``on_epoch_end`` after each epoch."""
    import keras

    calls = keras.callbacks.CallbackList(list(callbacks), add_history=True, model=model)
    model.stop_training = False
    model.make_train_function()
    model.make_test_function()
    calls.on_train_begin()
    # fit's data adapter ended an epoch of the dataset once before the first (its reset), so the
    # first epoch's order was the seed's second; kept, so every earlier run's weights still follow
    training.on_epoch_end()
    logs: dict[str, float] = {}
    for epoch in range(epochs):
        model.reset_metrics()
        calls.on_epoch_begin(epoch)
        with contextlib.closing(read_ahead(training)) as fed:
            for _ in range(len(training)):
                model.train_function(fed)
        logs = _metrics(model)
        training.on_epoch_end()
        model.reset_metrics()
        with contextlib.closing(read_ahead(validation)) as checked:
            for _ in range(len(validation)):
                model.test_function(checked)
        logs.update({f"val_{name}": value for name, value in _metrics(model).items()})
        calls.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    model.optimizer.finalize_variable_values(model.trainable_weights)
    calls.on_train_end(logs=logs)
    return model.history.history
