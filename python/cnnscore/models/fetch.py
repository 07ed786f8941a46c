"""``cnnscore models fetch gatk``: GATK's official CNN model files, checked by sha256, cached.

GATK shipped its models as Git LFS files; GATK 4.6.1 deleted the tool, so users need a
dependable way to get exactly those bytes. The files come from GitHub's LFS media endpoint at a
GATK release tag, or from a mirror (a local folder or an http(s) base URL: air-gapped sites, CI),
and land in a cache only after their size and sha256 match the LFS pointers. For the two weight
files whose full sha256 is not on record here, the known prefix/suffix of the hash and the exact
size are checked, and the command says so.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import InputError
from ..io.files import PartialOutput, complete_or_nothing, sha256_file, write_all_or_none

DEFAULT_GATK_TAG = "4.6.0.0"
LFS_MEDIA_URL = (
    "https://media.githubusercontent.com/media/broadinstitute/gatk/{tag}/"
    "src/main/resources/large/cnn_score_variants/{name}"
)


@dataclass(frozen=True)
class ModelFile:
    name: str
    size: int
    sha256_prefix: str
    sha256_suffix: str = ""

    @property
    def fully_pinned(self) -> bool:
        return len(self.sha256_prefix) == 64

    def check(self, size: int, digest: str) -> str | None:
        """Why the bytes are not this file, or None when they are."""
        if size != self.size:
            return f"size {size:,} bytes, expected {self.size:,}"
        if not (digest.startswith(self.sha256_prefix) and digest.endswith(self.sha256_suffix)):
            expected = self.sha256_prefix + (
                "…" + self.sha256_suffix if not self.fully_pinned else ""
            )
            return f"sha256 {digest}, expected {expected}"
        return None


# The LFS pointers of GATK 4.0.12.0-4.6.0.0 (small_2d.* and the JSONs byte-verified).
GATK_FILES = {
    f.name: f
    for f in (
        ModelFile(
            "small_2d.json", 758, "e38e09cfe7b7ffbc80dce4972bc9c382148520147d46738a3f6f3235b2d876c6"
        ),
        ModelFile(
            "small_2d.hd5",
            2_163_096,
            "6f663a2fdbcde0addc5cb755f7af5d4c19bed92dccfd20e25b2acf2bc8c2ca7c",
        ),  # fmt: skip
        ModelFile(
            "1d_cnn_mix_train_full_bn.json",
            519,
            "eda2517817b23238c2b28f69a1fa39e9b85b45985854f0a5d5508280e76da39e",
        ),  # fmt: skip
        ModelFile("1d_cnn_mix_train_full_bn.hd5", 20_227_144, "bd17c3a98f7651b4", "6b44d"),
        ModelFile(
            "2d_cnn_mix_train.json",
            732,
            "4ed7feb0343e9ac03135b1456b2c8d2edab1b359c4950908c4d44152c0634a89",
        ),  # fmt: skip
        ModelFile("2d_cnn_mix_train.hd5", 24_459_852, "1d70940b"),
    )
}
GATK_MODELS = ("small_2d", "1d_cnn_mix_train_full_bn", "2d_cnn_mix_train")
#: What ``models fetch gatk`` fetches with no --model: the one GATK default not shipped here
DEFAULT_FETCHED = "1d_cnn_mix_train_full_bn"


def default_cache_dir() -> str:
    return os.environ.get(
        "CNNSCORE_MODEL_CACHE",
        os.path.join(os.path.expanduser("~"), ".cache", "cnnscore", "models"),
    )


def _source_of(name: str, mirror: str | None, tag: str) -> str:
    if mirror is None:
        return LFS_MEDIA_URL.format(tag=tag, name=name)
    if mirror.startswith(("http://", "https://")):
        return mirror.rstrip("/") + "/" + name
    return os.path.join(mirror, name)


class MissingModelFile(InputError):
    """The source has no such file (a mirror folder without it, HTTP 404): unlike a failed or
    wrong download, ``--skip-missing`` may pass over it."""


def _copy_from(source: str, destination: str) -> None:
    """Local file or URL to ``destination`` (a temporary name the caller renames)."""
    if not source.startswith(("http://", "https://")):
        if not os.path.isfile(source):
            raise MissingModelFile("not in the mirror folder", path=source)
        shutil.copyfile(source, destination)
        return
    try:
        with urllib.request.urlopen(source, timeout=60) as response, open(destination, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except urllib.error.HTTPError as err:
        kind = MissingModelFile if err.code == 404 else InputError
        raise kind(f"download failed: HTTP {err.code} {err.reason}", path=source) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise InputError(f"download failed ({reason})", path=source) from None


@dataclass(frozen=True)
class Fetched:
    """One file fetched or found cached (``skipped`` is None), or a model passed over because
    its source lacks a file (``skipped`` says which)."""

    model: str
    path: str | None
    fetched: bool = False
    pinned: bool = False
    skipped: str | None = None


def _is_cached(spec: ModelFile, target: str) -> bool:
    """A cached copy is re-verified, never trusted."""
    return (
        os.path.isfile(target) and spec.check(os.path.getsize(target), sha256_file(target)) is None
    )


def _download(spec: ModelFile, cache: str, mirror: str | None, tag: str) -> PartialOutput:
    """``spec``'s bytes from the source, verified, at a temporary beside their name in the cache,
    not yet published: a model's files are published together (:func:`_fetch_model`). Removed
    again if the download or the check fails."""
    target = os.path.join(cache, spec.name)
    source = _source_of(spec.name, mirror, tag)
    try:
        os.makedirs(cache, exist_ok=True)
        output = complete_or_nothing(target)
    except OSError as err:
        raise InputError(f"cannot write to the model cache ({err.strerror})", path=cache) from None
    try:
        _copy_from(source, output.temp)
        problem = spec.check(os.path.getsize(output.temp), sha256_file(output.temp))
        if problem:
            raise InputError(f"not GATK's {spec.name}: {problem}", path=source)
    except BaseException:
        output.abort()
        raise
    return output


def _fetch_model(model: str, cache: str, mirror: str | None, tag: str) -> list[Fetched]:
    """Each of ``model``'s files, in the cache, and whether it was downloaded now. All of them
    are downloaded and verified before any is published, then published together: one file
    without the other is no model, and a lone .json left in the cache would pass for part of one
    (docs/MODELS.md: a file that does not match is refused and nothing is cached)."""
    files: list[Fetched] = []
    pending: list[PartialOutput] = []
    try:
        for suffix in (".json", ".hd5"):
            spec = GATK_FILES[model + suffix]
            target = os.path.join(cache, spec.name)
            if _is_cached(spec, target):
                files.append(Fetched(model, target, False, spec.fully_pinned))
                continue
            pending.append(_download(spec, cache, mirror, tag))
            files.append(Fetched(model, target, True, spec.fully_pinned))
    except BaseException:
        for output in pending:
            output.abort()
        raise
    write_all_or_none(pending)
    return files


def fetch_gatk(
    models: list[str], cache_dir: str | None = None, mirror: str | None = None,
    tag: str = DEFAULT_GATK_TAG, skip_missing: bool = False,
) -> Iterator[Fetched]:  # fmt: skip
    """Fetch each model's .json and .hd5, yielding a model's files once both are in the cache,
    so a failure later in the list does not hide the models already fetched. With
    ``skip_missing`` a model whose files the source does not have is skipped (and reported), none
    of its files cached; bytes that fail the check never are."""
    cache = os.path.join(cache_dir or default_cache_dir(), "gatk")
    unknown = [model for model in models if model not in GATK_MODELS]
    if unknown:
        raise InputError(f"unknown GATK model; known: {', '.join(GATK_MODELS)}", path=unknown[0])
    for model in models:
        try:
            files = _fetch_model(model, cache, mirror, tag)
        except MissingModelFile as missing:
            if not skip_missing:
                raise
            yield Fetched(model, None, skipped=str(missing))
            continue
        yield from files
