"""The command line's grammar: every subcommand's flags, GATK's names where GATK had them.

Kept apart from :mod:`cnnscore.cli`, which runs the commands, so that everything a user can type
reads in one place.
"""

from __future__ import annotations

import argparse

from . import __version__
from .score import DEFAULT_ANNOTATION_KEYS


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _add_reference_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-R", "--reference", required=True, help="indexed FASTA (.fai; bgzip needs .gzi)"
    )


def _add_reads_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-I",
        "--input",
        action="append",
        default=[],
        dest="reads",
        help="indexed BAM or CRAM; repeatable; required for read_tensor",
    )


def _add_score_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "score",
        help="annotate a VCF with CNN_1D or CNN_2D scores (GATK CNNScoreVariants)",
        description="Score every record of a VCF with a GATK CNN model and write it with "
        "INFO CNN_1D (reference model) or CNN_2D (read-tensor model).",
    )
    p.add_argument("-V", "--variant", required=True, help="input VCF (.vcf, .vcf.gz, .bcf)")
    _add_reference_argument(p)
    p.add_argument(
        "-O", "--output", required=True, help="output .vcf, .vcf.gz (+.tbi) or .bcf (+.csi)"
    )
    _add_reads_argument(p)
    p.add_argument(
        "--tensor-type",
        choices=["reference", "read_tensor"],
        help="reference (1D) or read_tensor (2D); default: the model's",
    )
    p.add_argument("--architecture", help="GATK model JSON; default: --weights with .json")
    p.add_argument("--weights", help="GATK Keras .hd5 weights; default: --architecture with .hd5")
    p.add_argument(
        "-L",
        "--intervals",
        action="append",
        default=[],
        help="chr:start-end, BED or .interval_list; repeatable (union)",
    )
    p.add_argument(
        "--inference-batch-size",
        type=_positive_int,
        help="variants per model call (default 1024 for 1D, 256 for 2D)",
    )
    p.add_argument(
        "--transfer-batch-size",
        type=_positive_int,
        help="variants buffered per write (default 1024 for 1D, 512 for 2D)",
    )
    p.add_argument(
        "--read-limit",
        type=_positive_int,
        default=128,
        help="reads per tensor; must equal the model's (default 128)",
    )
    p.add_argument(
        "--window-size",
        type=_positive_int,
        default=128,
        help="reference window; must equal the model's (default 128)",
    )
    p.add_argument(
        "--info-annotation-keys",
        nargs="+",
        default=list(DEFAULT_ANNOTATION_KEYS),
        metavar="KEY",
        help="INFO keys fed to the model, in order",
    )
    p.add_argument(
        "--filter-symbolic-and-sv",
        action="store_true",
        help="drop symbolic and structural records from the output, as GATK does",
    )
    p.add_argument("--backend", default="tensorflow", help="inference backend (default tensorflow)")
    p.add_argument("--threads", type=int, default=0, help="threads for inference (0 = all cores)")
    p.add_argument("--metrics-json", help="write run metrics (counts, timings, rates) as JSON")
    p.add_argument(
        "--progress-seconds",
        type=float,
        default=10.0,
        help="seconds between progress lines on stderr (default 10)",
    )
    p.add_argument(
        "--precision",
        choices=["fp32", "bf16", "int8"],
        default="fp32",
        help="inference precision (default fp32, the only GATK-identical one); bf16 "
        "and int8 need --backend openvino",
    )
    p.add_argument(
        "--calibration-size",
        type=_positive_int,
        default=256,
        help="records used to calibrate int8 (default 256)",
    )
    p.add_argument(
        "--calibration-vcf",
        help="calibrate int8 on this VCF's first records (same -R/-I) instead of the input's",
    )
    p.add_argument(
        "--no-depth-adaptive",
        action="store_true",
        help="run the dense 2D network on all 128 read rows instead of skipping empty rows "
        "(same scores up to float summation order; for checking)",
    )
    p.add_argument(
        "--encode-workers",
        type=int,
        default=1,
        help="encoder processes beside inference (default 1; 0 = encode in-process)",
    )
    p.add_argument(
        "--reservoir-scope",
        choices=["run", "site"],
        default="run",
        help="2D read downsampling random stream: one per run as in GATK (default), "
        "or one per site so that results do not depend on sharding",
    )


def _add_split_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "split-intervals",
        help="cut a VCF into interval-list shards of about equal record counts (for scatter)",
    )
    p.add_argument("-V", "--variant", required=True, help="input VCF")
    p.add_argument("-R", "--reference", required=True, help="indexed FASTA (for contig lengths)")
    p.add_argument(
        "-L",
        "--intervals",
        action="append",
        default=[],
        help="restrict to these intervals first (as score's -L)",
    )
    p.add_argument(
        "--scatter-count",
        type=_positive_int,
        required=True,
        help="shards wanted; fewer are written when the records allow fewer clean cuts",
    )
    p.add_argument("-O", "--output", required=True, help="folder for shard-NNNN.interval_list")


def _add_gather_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "gather-vcfs", help="concatenate scored shards, in the order given, into one indexed VCF"
    )
    p.add_argument(
        "-I",
        "--input",
        action="append",
        required=True,
        dest="inputs",
        help="shard VCF, repeatable, in shard order",
    )
    p.add_argument("-O", "--output", required=True, help="output .vcf, .vcf.gz or .bcf")


def _add_filter_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "filter",
        help="tranche-filter a scored VCF by truth sensitivity (GATK FilterVariantTranches)",
        description="Filter SNPs and indels whose score is at or below the score that keeps the "
        "given sensitivity to the resource-confirmed variants, as GATK FilterVariantTranches.",
    )
    p.add_argument("-V", "--variant", required=True, help="scored VCF (.vcf, .vcf.gz, .bcf)")
    p.add_argument(
        "--resource",
        action="append",
        required=True,
        dest="resources",
        metavar="VCF",
        help="truth VCF (bgzip + .tbi/.csi), e.g. HapMap or Mills; repeatable",
    )
    p.add_argument(
        "--info-key", default="CNN_2D", help="INFO key holding the score (default CNN_2D)"
    )
    p.add_argument(
        "--snp-tranche",
        type=float,
        action="append",
        dest="snp_tranches",
        metavar="T",
        help="SNP truth sensitivity in percent, 0 <= t < 100; repeatable (default 99.95)",
    )
    p.add_argument(
        "--indel-tranche",
        type=float,
        action="append",
        dest="indel_tranches",
        metavar="T",
        help="indel truth sensitivity in percent; repeatable (default 99.4)",
    )
    p.add_argument(
        "--invalidate-previous-filters",
        action="store_true",
        help="drop the input's FILTER values and ##FILTER lines first",
    )
    p.add_argument(
        "-O", "--output", required=True, help="output .vcf, .vcf.gz (+.tbi) or .bcf (+.csi)"
    )


def _add_compare_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "compare",
        help="score differences, classification concordance and speed between two runs",
        description="Match two scored VCFs by CHROM/POS/REF/ALT and report how their scores "
        "differ; writes PREFIX.json and PREFIX.html and prints a short table.",
    )
    p.add_argument("--baseline", required=True, help="scored VCF of the reference run")
    p.add_argument("--candidate", required=True, help="scored VCF of the run being checked")
    p.add_argument(
        "--baseline-metrics",
        nargs="+",
        default=[],
        metavar="JSON",
        help="the baseline's --metrics-json file(s), one per shard, for throughput",
    )
    p.add_argument(
        "--candidate-metrics", nargs="+", default=[], metavar="JSON", help="the same for candidate"
    )
    p.add_argument("--baseline-label", help="name shown for the baseline (default: its backend)")
    p.add_argument("--candidate-label", help="name shown for the candidate")
    p.add_argument("--info-key", default="CNN_2D", help="INFO key compared (default CNN_2D)")
    p.add_argument(
        "--snp-cutoff",
        type=float,
        help="tranche cutoff for SNPs: a SNP is filtered iff its score <= this (both sides)",
    )
    p.add_argument("--indel-cutoff", type=float, help="the same for indels")
    p.add_argument(
        "--compare-filters",
        action="store_true",
        help="the inputs are tranche-filtered VCFs: compare their FILTER columns",
    )
    p.add_argument(
        "--fail-if",
        action="append",
        default=[],
        metavar="GATE",
        help="exit 3 when e.g. 'max_abs_delta>0.01' or 'concordance<0.999' holds; repeatable",
    )
    p.add_argument("-O", "--output", required=True, help="report prefix: writes PREFIX.json/.html")


def _add_models_parser(subparsers) -> None:
    p = subparsers.add_parser("models", help="get model files (GATK's, checked by sha256)")
    actions = p.add_subparsers(dest="models_command", required=True)
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
        help="small_2d (default), 1d_cnn_mix_train_full_bn, 2d_cnn_mix_train, or all; repeatable",
    )
    fetch.add_argument(
        "--mirror", help="a folder or http(s) base URL holding the files, instead of GitHub"
    )
    fetch.add_argument("--gatk-tag", default="4.6.0.0", help="GATK release tag (default 4.6.0.0)")
    fetch.add_argument(
        "--cache-dir",
        help="where models are kept (default $CNNSCORE_MODEL_CACHE or ~/.cache/cnnscore/models)",
    )


def _add_gcs_arguments(subparsers) -> None:
    """Every subcommand takes gs://bucket/object for any path argument."""
    for parser in subparsers.choices.values():
        parser.add_argument(
            "--requester-pays-project",
            help="Google Cloud project billed for gs:// reads and writes of requester-pays "
            "buckets (credentials: Application Default Credentials)",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnscore", description="GATK-compatible CNN variant scoring."
    )
    parser.add_argument("--version", action="version", version=f"cnnscore {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_score_parser(subparsers)
    _add_split_parser(subparsers)
    _add_gather_parser(subparsers)
    _add_filter_parser(subparsers)
    _add_compare_parser(subparsers)
    _add_write_tensors_parser(subparsers)
    _add_train_parser(subparsers)
    _add_gcs_arguments(subparsers)
    _add_models_parser(subparsers)
    return parser


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be a fraction between 0 and 1")
    return value


def _tensor_store_path(text: str) -> str:
    """A tensor store is a folder or a .zip; in a bucket only the one-object .zip form works."""
    if text.startswith("gs://") and not text.endswith(".zip"):
        raise argparse.ArgumentTypeError("a gs:// tensor store must be a single .zip file")
    return text


def _add_write_tensors_parser(subparsers) -> None:
    from .write_tensors import DEFAULT_DOWNSAMPLING, DEFAULT_MAX_TENSORS

    p = subparsers.add_parser(
        "write-tensors",
        help="labelled training tensors from candidates, a truth VCF and its BED "
        "(GATK CNNVariantWriteTensors)",
        description="Label each candidate in the truth BED as SNP/INDEL (matches the truth) or "
        "NOT_SNP/NOT_INDEL, encode it as cnnscore score does, and write a tensor store "
        "(a folder, or one .zip) for cnnscore train.",
    )
    p.add_argument("-V", "--variant", required=True, help="candidate VCF (.vcf, .vcf.gz, .bcf)")
    _add_reference_argument(p)
    _add_reads_argument(p)
    p.add_argument("--truth-vcf", required=True, help="truth calls, bgzip VCF with .tbi/.csi")
    p.add_argument("--truth-bed", required=True, help="the truth's confident regions (.bed)")
    p.add_argument(
        "--tensor-type",
        choices=["reference", "read_tensor"],
        default="reference",
        help="reference (1D, default as in GATK) or read_tensor (2D)",
    )
    p.add_argument(
        "-L",
        "--intervals",
        action="append",
        default=[],
        help="chr:start-end, BED or .interval_list; repeatable (union)",
    )
    p.add_argument(
        "--info-annotation-keys",
        nargs="+",
        default=list(DEFAULT_ANNOTATION_KEYS),
        metavar="KEY",
        help="INFO keys stored as the annotation input, in order",
    )
    for label, flag, what in (
        ("SNP", "--downsample-snps", "true SNPs"),
        ("INDEL", "--downsample-indels", "true indels"),
        ("NOT_SNP", "--downsample-not-snps", "false SNPs"),
        ("NOT_INDEL", "--downsample-not-indels", "false indels"),
    ):
        p.add_argument(
            flag,
            type=_fraction,
            default=DEFAULT_DOWNSAMPLING[label],
            help=f"fraction of {what} kept (default {DEFAULT_DOWNSAMPLING[label]})",
        )
    p.add_argument(
        "--max-tensors",
        type=_positive_int,
        default=DEFAULT_MAX_TENSORS,
        help=f"stop after this many tensors (default {DEFAULT_MAX_TENSORS:,})",
    )
    p.add_argument("--seed", type=int, default=0, help="downsampling seed (default 0)")
    p.add_argument(
        "--shard-size",
        type=_positive_int,
        help="tensors per shard (default 512 for 1D, 128 for 2D)",
    )
    p.add_argument(
        "--encode-workers",
        type=int,
        default=1,
        help="encoder processes (default 1; 0 = encode in-process)",
    )
    p.add_argument(
        "-O",
        "--output",
        required=True,
        type=_tensor_store_path,
        help="tensor store: a folder, or a single file when it ends in .zip",
    )


def _add_train_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a GATK CNN architecture on tensor stores (GATK CNNVariantTrain)",
        description="Fit a 1D or 2D GATK architecture to cnnscore write-tensors output, with a "
        "seeded validation split and early stopping; writes PREFIX.hd5 + PREFIX.json (loadable "
        "by cnnscore score) and PREFIX.report.html/.json.",
    )
    p.add_argument(
        "--tensors",
        action="append",
        required=True,
        type=_tensor_store_path,
        metavar="STORE",
        help="tensor store (folder or .zip) from write-tensors; repeatable",
    )
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--architecture", help="GATK model JSON whose network is trained")
    model.add_argument(
        "--model-kind",
        choices=["1d", "2d", "compact-1d", "compact-2d"],
        help="GATK's default network: 1d_cnn_mix_train_full_bn (1d) or small_2d (2d); or "
        "cnnscore's own smaller ones (compact-1d, compact-2d: the shipped default models)",
    )
    p.add_argument("--epochs", type=_positive_int, default=10, help="most epochs (default 10)")
    p.add_argument("--batch-size", type=_positive_int, default=32, help="(default 32)")
    p.add_argument(
        "--validation-fraction",
        type=float,
        default=0.1,
        help="fraction of each label held out for validation (default 0.1)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=3,
        help="epochs without a lower validation loss before stopping (default 3)",
    )
    p.add_argument(
        "--learning-rate", type=float, default=1e-4, help="Adam learning rate (default 1e-4)"
    )
    p.add_argument("--seed", type=int, default=0, help="split, shuffle and weights seed")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0 = all cores)")
    p.add_argument(
        "-O",
        "--output",
        required=True,
        help="prefix: writes PREFIX.hd5, PREFIX.json, PREFIX.report.json and PREFIX.report.html",
    )
