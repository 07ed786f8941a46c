"""The on-disk form of labelled training tensors (``cnnscore write-tensors`` -> ``cnnscore train``).

A store is a folder, or one ``.zip`` file holding the same members (one object to copy to a
bucket), with:

- ``manifest.json`` (schema ``cnnscore.tensors/1``): tensor type, shapes and dtypes, annotation
  keys, the label names with their model output channel, counts per label, the shards, and how the
  store was made (source files, seed, downsampling, cnnscore version);
- ``shard-NNNNN.npz``: ``np.savez_compressed`` arrays ``tensors`` (n, *shape) float32,
  ``annotations`` (n, k) float32, ``labels`` (n,) uint8 output channels and ``variants`` (n,)
  text ``chrom:pos REF>ALT``. 2D read tensors are mostly zeros and compress about 40-fold.

Tensors are written a shard at a time, so memory stays bounded whatever the input; a store appears
at its name only when complete (written under a temporary name, renamed at the end), so an
interrupted or failed run leaves no half store that training could mistake for a whole one.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..io.files import complete_or_nothing
from ..io.output_paths import check_output_folder

SCHEMA = "cnnscore.tensors/1"
MANIFEST = "manifest.json"
ARRAYS = ("tensors", "annotations", "labels", "variants")


def _shard_name(index: int) -> str:
    return f"shard-{index:05d}.npz"


def _is_store_folder(path: str) -> bool:
    return os.path.isfile(os.path.join(path, MANIFEST))


def _is_store_zip(path: str) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return MANIFEST in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def check_destination(path: str) -> None:
    """Refuse an output that would overwrite something other than a previous tensor store."""
    check_output_folder(path)
    if not os.path.exists(path):
        return
    if path.endswith(".zip"):
        replaceable = os.path.isfile(path) and _is_store_zip(path)
    else:
        replaceable = os.path.isdir(path) and (not os.listdir(path) or _is_store_folder(path))
    if not replaceable:
        raise InputError(
            "output exists and is not a cnnscore tensor store: remove it or choose another -O",
            path=path,
        )


class _FolderSink:
    """Members as files of a hidden sibling folder, which replaces ``path`` at the end (a previous
    store, or an empty folder such as a gs:// staging one)."""

    def __init__(self, path: str):
        self.output = complete_or_nothing(path, folder=True)

    def put(self, name: str, data: bytes) -> None:
        with open(os.path.join(self.output.temp, name), "wb") as handle:
            handle.write(data)

    def commit(self) -> None:
        self.output.commit()

    def abort(self) -> None:
        self.output.abort()


class _ZipSink:
    """Members stored (not recompressed: npz members are compressed) in one temporary zip."""

    def __init__(self, path: str):
        self.output = complete_or_nothing(path)
        try:
            self.archive = zipfile.ZipFile(self.output.temp, "w", compression=zipfile.ZIP_STORED)
        except BaseException:
            self.output.abort()
            raise

    def put(self, name: str, data: bytes) -> None:
        self.archive.writestr(name, data)

    def commit(self) -> None:
        self.archive.close()
        self.output.commit()

    def abort(self) -> None:
        try:
            with contextlib.suppress(OSError):
                self.archive.close()
        finally:
            self.output.abort()


class TensorStoreWriter:
    """Collects labelled tensors and writes them shard by shard; ``commit`` publishes the store.

    ``header`` holds the manifest fields known before writing (it must include ``labels``, the
    label name -> output channel map); counts and the shard list are added by the writer.
    """

    def __init__(self, path: str, header: dict[str, Any], shard_size: int):
        check_destination(path)
        self.path = path
        self.header = header
        self.shard_size = shard_size
        self.label_names = {index: name for name, index in header["labels"].items()}
        self.counts = dict.fromkeys(header["labels"], 0)
        self.shards: list[dict[str, Any]] = []
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._pending_count = 0
        try:
            self._sink = _ZipSink(path) if path.endswith(".zip") else _FolderSink(path)
        except OSError as err:
            raise InputError(f"cannot write the output ({err.strerror})", path=path) from None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(
        self, tensors: np.ndarray, annotations: np.ndarray, labels: np.ndarray, variants: list[str]
    ) -> None:
        """Queue a batch (labels are output channels); full shards are written at once."""
        labels = np.asarray(labels, dtype=np.uint8)
        for index in labels.tolist():
            self.counts[self.label_names[index]] += 1
        self._pending.append(
            (
                np.asarray(tensors, dtype=np.float32),
                np.asarray(annotations, dtype=np.float32),
                labels,
                np.asarray(variants, dtype=np.str_),
            )
        )
        self._pending_count += len(labels)
        while self._pending_count >= self.shard_size:
            self._write_shard(self.shard_size)

    def _write_shard(self, size: int) -> None:
        joined = [np.concatenate(parts) for parts in zip(*self._pending)]
        shard, rest = [a[:size] for a in joined], [a[size:] for a in joined]
        self._pending = [tuple(rest)] if len(rest[2]) else []
        self._pending_count = len(rest[2])
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **dict(zip(ARRAYS, shard)))
        name = _shard_name(len(self.shards))
        self._put(name, buffer.getvalue())
        self.shards.append({"file": name, "count": int(len(shard[2]))})

    def _put(self, name: str, data: bytes) -> None:
        try:
            self._sink.put(name, data)
        except OSError as err:
            raise InputError(f"cannot write the output ({err.strerror})", path=self.path) from None

    def commit(self, extra: dict[str, Any]) -> dict[str, Any]:
        """Write the last shard and the manifest, then move the store into place."""
        if self._pending_count:
            self._write_shard(self._pending_count)
        manifest = {
            "schema": SCHEMA,
            **self.header,
            "counts": self.counts,
            "total": self.total,
            "shards": self.shards,
            **extra,
        }
        self._put(MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
        try:
            self._sink.commit()
        except OSError as err:
            raise InputError(f"cannot write the output ({err.strerror})", path=self.path) from None
        return manifest

    def abort(self) -> None:
        self._sink.abort()


@dataclass(frozen=True)
class Shard:
    """One shard's arrays (those asked for; the others are None)."""

    tensors: np.ndarray | None
    annotations: np.ndarray | None
    labels: np.ndarray | None
    variants: np.ndarray | None


class TensorStore:
    """A store written by :class:`TensorStoreWriter`, read shard by shard."""

    def __init__(self, path: str):
        self.path = path
        self._archive: zipfile.ZipFile | None = None
        if os.path.isdir(path):
            if not _is_store_folder(path):
                raise InputError(f"folder has no {MANIFEST}: not a tensor store", path=path)
        elif os.path.isfile(path):
            try:
                self._archive = zipfile.ZipFile(path)
            except (OSError, zipfile.BadZipFile) as err:
                raise InputError(f"not a tensor store folder or .zip ({err})", path=path) from None
        else:
            raise InputError("tensor store does not exist", path=path)
        manifest = self._manifest()
        self.manifest = manifest
        self.tensor_type: str = manifest["tensor_type"]
        self.tensor_shape = tuple(manifest["tensor_shape"])
        self.annotation_keys = tuple(manifest["annotation_keys"])
        self.labels: dict[str, int] = manifest["labels"]
        self.shard_counts = [int(shard["count"]) for shard in manifest["shards"]]
        self._shard_files = [str(shard["file"]) for shard in manifest["shards"]]

    def _read_member(self, name: str) -> bytes:
        try:
            if self._archive is not None:
                return self._archive.read(name)
            with open(os.path.join(self.path, name), "rb") as handle:
                return handle.read()
        except (OSError, KeyError, zipfile.BadZipFile) as err:
            raise InputError(f"cannot read {name} ({err})", path=self.path) from None

    def _manifest(self) -> dict[str, Any]:
        try:
            manifest = json.loads(self._read_member(MANIFEST))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputError(f"{MANIFEST} is not JSON ({err})", path=self.path) from None
        if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
            raise InputError(f"{MANIFEST} is not a {SCHEMA} manifest", path=self.path)
        missing = [
            key
            for key in ("tensor_type", "tensor_shape", "annotation_keys", "labels", "shards")
            if key not in manifest
        ]
        if missing:
            raise InputError(f"{MANIFEST} lacks {', '.join(missing)}", path=self.path)
        return manifest

    def __len__(self) -> int:
        return sum(self.shard_counts)

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()

    def load(self, index: int, arrays: tuple[str, ...] = ARRAYS) -> Shard:
        """Shard ``index``, decompressing only ``arrays``; shapes are checked against the
        manifest so a damaged or foreign shard fails here, naming itself."""
        name = self._shard_files[index]
        data = self._read_member(name)
        where = f"{self.path}/{name}"
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                loaded = {key: npz[key] for key in arrays}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
            raise InputError(f"shard is unreadable ({err})", path=where) from None
        count = self.shard_counts[index]
        expected = {
            "tensors": (count, *self.tensor_shape),
            "annotations": (count, len(self.annotation_keys)),
            "labels": (count,),
            "variants": (count,),
        }
        for key, array in loaded.items():
            if array.shape != expected[key]:
                raise InputError(
                    f"{key} has shape {array.shape}, the manifest says {expected[key]}", path=where
                )
        labels = loaded.get("labels")
        channels = len(self.labels)
        outside = [] if labels is None else labels[(labels < 0) | (labels >= channels)]
        if len(outside):  # a damaged or hand-made shard: an IndexError deep in training otherwise
            raise InputError(
                f"a label is {int(outside[0])}, not one of the {channels} output channels",
                path=where,
            )
        return Shard(**{key: loaded.get(key) for key in ARRAYS})


def same_tensors(one: TensorStore, other: TensorStore) -> bool:
    """Whether two stores hold the same tensors: a copy under another name, or write-tensors run
    again on the same inputs (its encoding is seeded, so the same manifest and the same variants
    in each shard are the same tensors). Given together to train, each tensor would count twice,
    copies on both sides of the validation split. Distinct stores differ in their manifests
    (sources, counts, shards) almost always, so the shards are read only where those agree."""
    if json.dumps(one.manifest, sort_keys=True) != json.dumps(other.manifest, sort_keys=True):
        return False
    return all(
        np.array_equal(one.load(index, ("variants",)).variants,
                       other.load(index, ("variants",)).variants)
        for index in range(len(one.shard_counts))
    )  # fmt: skip
