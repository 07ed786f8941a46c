"""``cnnscore models list`` and ``models fetch``: their settings, each declared once
(``settings.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import setting
from .fetch import DEFAULT_FETCHED, DEFAULT_GATK_TAG

CACHE_HELP = "where models are kept (default $CNNSCORE_MODEL_CACHE or ~/.cache/cnnscore/models)"


@dataclass(frozen=True)
class ModelsListOptions:
    """The models ``score --model`` knows, whether each is here, its sha256, the defaults."""

    cache_dir: str | None = setting("--cache-dir", help=CACHE_HELP)


@dataclass(frozen=True)
class ModelsFetchOptions:
    """GATK's model files from its release (or a mirror), checked by sha256, into the cache."""

    source: str = setting("source", choices=("gatk",), required=True, help="whose models (gatk)")
    models: tuple[str, ...] = setting(
        "--model",
        repeated=True,
        metavar="NAME",
        help=f"{DEFAULT_FETCHED} (default), 2d_cnn_mix_train, small_2d (shipped with "
        "cnnscore already; fetching it checks the download), or all; repeatable",
    )
    mirror: str | None = setting(
        "--mirror", help="a folder or http(s) base URL holding the files, instead of GitHub"
    )
    gatk_tag: str = setting(
        "--gatk-tag",
        default=DEFAULT_GATK_TAG,
        help=f"GATK release tag (default {DEFAULT_GATK_TAG})",
    )
    cache_dir: str | None = setting("--cache-dir", help=CACHE_HELP)
    skip_missing: bool = setting(
        "--skip-missing",
        switch=True,
        default=False,
        help="skip (and report) a model whose files the source does not have, e.g. a mirror "
        "holding only some; files that do not match GATK's sha256 still fail",
    )
