"""Feeding tensor stores to Keras: the seeded validation split and shard-streaming batches.

A store can be far larger than memory (2D tensors are ~1 MB each), so batches are cut from a few
decompressed shards at a time: every epoch visits the shards in a new seeded order, a few shards at
a time, and shuffles the tensors within each such group. Everything random derives from the seed,
so the same seed gives the same batches, and with TensorFlow's deterministic ops the same weights.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import keras
import numpy as np

from ..errors import InputError
from .tensor_store import TensorStore

#: shards mixed together when shuffling (more mixes better, costs memory: 2D shards are ~128 MB)
SHUFFLE_SHARDS = 4


@dataclass(frozen=True)
class TensorIndex:
    """Every tensor of the stores as (store, shard, row), with its label (output channel) and
    annotation vector (small: kept in memory, and what the batches feed; distillation may list a
    tensor again with other annotations)."""

    store: np.ndarray
    shard: np.ndarray
    row: np.ndarray
    labels: np.ndarray
    annotations: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, positions: np.ndarray) -> TensorIndex:
        return TensorIndex(
            self.store[positions], self.shard[positions], self.row[positions],
            self.labels[positions], self.annotations[positions],
        )  # fmt: skip


def index_stores(stores: list[TensorStore]) -> TensorIndex:
    """Read the labels and annotations of every shard (small; the tensors stay compressed)."""
    parts = []
    for store_number, store in enumerate(stores):
        for shard_number, count in enumerate(store.shard_counts):
            shard = store.load(shard_number, ("labels", "annotations"))
            parts.append(
                (
                    np.full(count, store_number),
                    np.full(count, shard_number),
                    np.arange(count),
                    shard.labels.astype(np.int64),
                    shard.annotations,
                )
            )
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        keys = len(stores[0].annotation_keys) if stores else 0
        return TensorIndex(empty, empty, empty, empty, np.zeros((0, keys), dtype=np.float32))
    return TensorIndex(*(np.concatenate(columns) for columns in zip(*parts)))


def split_validation(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(training, validation) positions: a seeded shuffle within each label, the first
    ``fraction`` of it (at least one tensor of any label that has two) held out, so the validation
    set has every class the data has, which per-class accuracy and ROC need."""
    rng = np.random.default_rng(seed)
    training, validation = [], []
    for label in np.unique(labels):
        positions = rng.permutation(np.flatnonzero(labels == label))
        held = int(round(len(positions) * fraction))
        if len(positions) >= 2:
            held = min(max(held, 1), len(positions) - 1)
        validation.append(positions[:held])
        training.append(positions[held:])
    return np.sort(np.concatenate(training)), np.sort(np.concatenate(validation))


def missing_label_error(
    training: dict[str, int], stored: dict[str, int], fraction: float, first_store: str
) -> InputError:
    """Why the training tensors lack a label (label name -> count, in training and in all the
    stores): the stores lack it, which only more labelled candidates cure; or they hold it but
    :func:`split_validation` held all of it out (a label's only tensor goes to validation once
    ``fraction`` rounds it up, above 0.5), which a smaller fraction cures. The second is no one
    store's fault, so no store is named: the flag is."""
    missing = [name for name, count in training.items() if not count]
    if all(stored[name] for name in missing):
        held = ", ".join(f"{name} {stored[name]:,}" for name in missing)
        return InputError(
            f"{fraction} left training no {', '.join(missing)}: the stores hold {held}, all held "
            "out for validation; a model that never saw a label cannot score it: give a smaller "
            "--validation-fraction (a label's only tensor stays in training at 0.5 or less), or "
            "label more candidates",
            setting="validation_fraction",
        )
    counts = ", ".join(f"{name} {count:,}" for name, count in training.items())
    return InputError(
        f"the training tensors hold no {', '.join(missing)} ({counts}): a model that never saw a "
        "label cannot score it; label more candidates (a wider truth BED, more calls, or more "
        "stores)",
        path=first_store,
    )


class TensorBatches(keras.utils.PyDataset):
    """A Keras PyDataset of ([tensors, annotations], one-hot labels) batches.

    With ``seed`` the order is reshuffled every epoch (seed + epoch); without it, the order is the
    stores' (validation, prediction). The epoch loop (:mod:`.epochs`) reads batches in order, so at
    most ``SHUFFLE_SHARDS`` + 1 shards are held decompressed.
    """

    def __init__(
        self,
        stores: list[TensorStore],
        index: TensorIndex,
        batch_size: int,
        classes: int,
        seed: int | None = None,
        targets: np.ndarray | None = None,
    ):
        """``targets``: (len(index), classes) soft targets (a teacher's probabilities) to
        return instead of the one-hot labels."""
        super().__init__()
        self.stores = stores
        self.index = index
        self.targets = targets
        self.batch_size = batch_size
        self.classes = classes
        self.seed = seed
        self.epoch = 0
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        shards = np.stack([index.store, index.shard], axis=1)
        _, self._shard_of = np.unique(shards, axis=0, return_inverse=True)
        self._shards = int(self._shard_of.max()) + 1 if len(index) else 0
        self.order = self._plan()

    def _plan(self) -> np.ndarray:
        """Positions into ``index`` in this epoch's order: shards in a random order, taken
        ``SHUFFLE_SHARDS`` at a time, tensors in a random order within each such group."""
        if self.seed is None:
            return np.lexsort((self.index.row, self.index.shard, self.index.store))
        rng = np.random.default_rng([self.seed, self.epoch])
        group = rng.permutation(self._shards)[self._shard_of] // SHUFFLE_SHARDS
        return np.lexsort((rng.random(len(self.index)), group))

    @property
    def num_batches(self) -> int:
        return -(-len(self.index) // self.batch_size)

    def __len__(self) -> int:
        return self.num_batches

    def on_epoch_end(self) -> None:
        if self.seed is not None:
            self.epoch += 1
            self.order = self._plan()

    def _shard(self, store: int, shard: int) -> np.ndarray:
        key = (store, shard)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        self._cache[key] = self.stores[store].load(shard, ("tensors",)).tensors
        while len(self._cache) > SHUFFLE_SHARDS + 1:
            self._cache.popitem(last=False)
        return self._cache[key]

    def __getitem__(self, batch: int):
        positions = self.order[batch * self.batch_size : (batch + 1) * self.batch_size]
        tensors, annotations = [], []
        for position in positions.tolist():
            shard_tensors = self._shard(
                int(self.index.store[position]), int(self.index.shard[position])
            )
            tensors.append(shard_tensors[int(self.index.row[position])])
            annotations.append(self.index.annotations[position])
        if self.targets is not None:
            return (np.stack(tensors), np.stack(annotations)), self.targets[positions]
        targets = np.zeros((len(positions), self.classes), dtype=np.float32)
        targets[np.arange(len(positions)), self.index.labels[positions]] = 1.0
        return (np.stack(tensors), np.stack(annotations)), targets
