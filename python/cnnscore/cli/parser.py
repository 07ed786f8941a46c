"""The command line's grammar: every subcommand's flags, GATK's names where GATK had them.

One ``flags_<stage>`` module per stage holds its subcommands' flags, so that everything a user can
type for a stage reads in one place; :mod:`cnnscore.cli.main` runs what this parses.
"""

from __future__ import annotations

import argparse

from .. import __version__
from .arguments import add_gcs_arguments, add_verbose_argument
from .flags_models import add_models_parser
from .flags_scoring import add_score_parser
from .flags_shards import add_gather_parser, add_split_parser
from .flags_training import add_train_parser, add_write_tensors_parser
from .flags_tranches import add_filter_parser
from .flags_validate import add_compare_parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnscore", description="GATK-compatible CNN variant scoring."
    )
    parser.add_argument("--version", action="version", version=f"cnnscore {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_score_parser(subparsers)
    add_split_parser(subparsers)
    add_gather_parser(subparsers)
    add_filter_parser(subparsers)
    add_compare_parser(subparsers)
    add_write_tensors_parser(subparsers)
    add_train_parser(subparsers)
    add_gcs_arguments(subparsers)  # every subcommand so far takes gs:// paths; `models` does not
    add_models_parser(subparsers)
    add_verbose_argument(subparsers)
    return parser
