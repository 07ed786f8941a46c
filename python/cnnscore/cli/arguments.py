"""Argument types and flags shared by several subcommands."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be a fraction between 0 and 1")
    return value


def tensor_store_path(text: str) -> str:
    """A tensor store is a folder or a .zip; in a bucket only the one-object .zip form works."""
    if text.startswith("gs://") and not text.endswith(".zip"):
        raise argparse.ArgumentTypeError("a gs:// tensor store must be a single .zip file")
    return text


def add_reference_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-R", "--reference", required=True, help="indexed FASTA (.fai; bgzip needs .gzi)"
    )


def add_reads_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-I",
        "--input",
        action="append",
        default=[],
        dest="reads",
        help="indexed BAM or CRAM; repeatable; required for read_tensor",
    )


def add_encoder_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--encoder",
        choices=["auto", "compiled", "python"],
        default="auto",
        help="2D read-tensor encoder: compiled (the same tensors byte for byte, 6-17x faster), "
        "python (the reference), or auto: compiled where it is built for this pysam "
        "(default auto)",
    )


def add_gcs_arguments(subparsers) -> None:
    """Every subcommand takes gs://bucket/object for any path argument."""
    for parser in subparsers.choices.values():
        parser.add_argument(
            "--requester-pays-project",
            help="Google Cloud project billed for gs:// reads and writes of requester-pays "
            "buckets (credentials: Application Default Credentials)",
        )


def add_verbose_argument(subparsers) -> None:
    """Every subcommand can show the inference libraries' own logs (held back by default)."""
    for parser in subparsers.choices.values():
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:  # `models fetch --verbose`, where the user types it
            add_verbose_argument(nested[0])
            continue
        parser.add_argument(
            "--verbose",
            action="store_true",
            help="also show the libraries' own log lines (TensorFlow, OpenVINO, NNCF, ONNX "
            "Runtime), normally held back; or set CNNSCORE_LIBRARY_LOGS=1",
        )
