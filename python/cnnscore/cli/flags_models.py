"""``cnnscore models``: fetching GATK's model files and listing the models by name."""

from __future__ import annotations

CACHE_HELP = "where models are kept (default $CNNSCORE_MODEL_CACHE or ~/.cache/cnnscore/models)"


def add_models_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "models", help="get model files (GATK's, checked by sha256) and list the models by name"
    )
    actions = p.add_subparsers(dest="models_command", required=True)
    listing = actions.add_parser(
        "list",
        help="the models score --model knows, whether each is here, its sha256, the defaults",
        description="List GATK's and cnnscore's models by name: tensor type, whether it is the "
        "default when no model is given (GATK's small_2d, shipped with cnnscore, for read_tensor; "
        "GATK's 1D model for reference where it is in the cache, as in GATK), whether it is "
        "shipped with cnnscore, cached or missing, the weights' path here and their sha256.",
    )
    listing.add_argument("--cache-dir", help=CACHE_HELP)
    fetch = actions.add_parser(
        "fetch",
        help="download GATK's CNN model files, verify their sha256 and cache them",
        description="Fetch GATK's .json/.hd5 model pairs from GitHub's LFS media at a GATK tag "
        "(or a mirror), verify size and sha256 against GATK's LFS pointers, and cache them.",
    )
    fetch.add_argument("source", choices=["gatk"], help="whose models (gatk)")
    fetch.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="NAME",
        help="1d_cnn_mix_train_full_bn (default), 2d_cnn_mix_train, small_2d (shipped with "
        "cnnscore already; fetching it checks the download), or all; repeatable",
    )
    fetch.add_argument(
        "--mirror", help="a folder or http(s) base URL holding the files, instead of GitHub"
    )
    fetch.add_argument("--gatk-tag", default="4.6.0.0", help="GATK release tag (default 4.6.0.0)")
    fetch.add_argument("--cache-dir", help=CACHE_HELP)
    fetch.add_argument(
        "--skip-missing",
        action="store_true",
        help="skip (and report) a model whose files the source does not have, e.g. a mirror "
        "holding only some; files that do not match GATK's sha256 still fail",
    )
