"""``cnnscore write-tensors`` and ``train``: GATK CNNVariantWriteTensors' and trainer's flags."""

from __future__ import annotations

from ..models.spec import DEFAULT_ANNOTATION_KEYS
from .arguments import (
    add_reads_argument,
    add_reference_argument,
    fraction,
    positive_int,
    tensor_store_path,
)


def add_write_tensors_parser(subparsers) -> None:
    from ..training.write_tensors import DEFAULT_DOWNSAMPLING, DEFAULT_MAX_TENSORS

    p = subparsers.add_parser(
        "write-tensors",
        help="labelled training tensors from candidates, a truth VCF and its BED "
        "(GATK CNNVariantWriteTensors)",
        description="Label each candidate in the truth BED as SNP/INDEL (matches the truth) or "
        "NOT_SNP/NOT_INDEL, encode it as cnnscore score does, and write a tensor store "
        "(a folder, or one .zip) for cnnscore train.",
    )
    p.add_argument("-V", "--variant", required=True, help="candidate VCF (.vcf, .vcf.gz, .bcf)")
    add_reference_argument(p)
    add_reads_argument(p)
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
            type=fraction,
            default=DEFAULT_DOWNSAMPLING[label],
            help=f"fraction of {what} kept (default {DEFAULT_DOWNSAMPLING[label]})",
        )
    p.add_argument(
        "--max-tensors",
        type=positive_int,
        default=DEFAULT_MAX_TENSORS,
        help=f"stop after this many tensors (default {DEFAULT_MAX_TENSORS:,})",
    )
    p.add_argument("--seed", type=int, default=0, help="downsampling seed (default 0)")
    p.add_argument(
        "--shard-size",
        type=positive_int,
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
        type=tensor_store_path,
        help="tensor store: a folder, or a single file when it ends in .zip",
    )


def add_train_parser(subparsers) -> None:
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
        type=tensor_store_path,
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
    p.add_argument("--epochs", type=positive_int, default=10, help="most epochs (default 10)")
    p.add_argument("--batch-size", type=positive_int, default=32, help="(default 32)")
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
    p.add_argument(
        "--cosine-decay",
        action="store_true",
        help="lower the learning rate from --learning-rate to 0 along a cosine over --epochs",
    )
    p.add_argument(
        "--no-dropout",
        dest="dropout",
        action="store_false",
        help="train without the architecture's dropout layers (for distillation: the teacher's "
        "soft targets need no such noise, and a small student needs all of its width)",
    )
    p.add_argument("--seed", type=int, default=0, help="split, shuffle and weights seed")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0 = all cores)")
    p.add_argument(
        "--teacher-architecture",
        help="distil: train on this GATK model's outputs (its softmax per tensor, computed once "
        "with the scoring backends) instead of the stores' labels",
    )
    p.add_argument(
        "--teacher-weights", help="the teacher's .hd5 (default: --teacher-architecture with .hd5)"
    )
    p.add_argument(
        "--log-odds-weight",
        type=float,
        default=0.1,
        help="distillation loss: cross-entropy against the teacher plus this times the squared "
        "difference of the SNP and INDEL log-odds, the scores written (default 0.1)",
    )
    p.add_argument(
        "--other-type-weight",
        type=float,
        default=1.0,
        help="distillation loss: the log-odds term's weight on the other type's pair (an SNP "
        "tensor's INDEL log-odds, which score never writes) against 1 on its own (default 1.0)",
    )
    p.add_argument(
        "--annotation-draws",
        type=int,
        default=0,
        help="distillation: also feed each training tensor this many times with annotations "
        "drawn from HaplotypeCaller's ranges, the teacher's outputs as targets (default 0)",
    )
    p.add_argument(
        "--initial-weights",
        metavar="HD5",
        help="start from these weights (an earlier run's .hd5 of the same architecture) instead "
        "of random ones, e.g. to continue a run that was still improving",
    )
    p.add_argument(
        "-O",
        "--output",
        required=True,
        help="prefix: writes PREFIX.hd5, PREFIX.json, PREFIX.report.json and PREFIX.report.html",
    )
