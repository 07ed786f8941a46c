"""``cnnscore write-tensors`` and ``train``: their settings, each declared once
(``settings.py``), with GATK CNNVariantWriteTensors' and CNNVariantTrain's names where they
had the same option."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from ..models.spec import DEFAULT_ANNOTATION_KEYS, REFERENCE
from ..settings import (
    FASTA,
    FILE,
    OUTPUT,
    READS,
    VCF,
    fraction,
    intervals_setting,
    non_negative_int,
    positive_int,
    seed_int,
    setting,
)

#: GATK's CNNVariantWriteTensors defaults: keep 5% of true SNPs, 50% of true indels, every false
DEFAULT_DOWNSAMPLING = {"SNP": 0.05, "INDEL": 0.5, "NOT_SNP": 1.0, "NOT_INDEL": 1.0}
DEFAULT_MAX_TENSORS = 1_000_000


def tensor_store_path(text: str) -> str:
    """A tensor store is a folder or a .zip; in a bucket only the one-object .zip form works."""
    if text.startswith("gs://") and not text.endswith(".zip"):
        raise argparse.ArgumentTypeError("a gs:// tensor store must be a single .zip file")
    return text


def _downsample(label: str, flag: str, what: str):
    return setting(
        flag,
        default=DEFAULT_DOWNSAMPLING[label],
        parse=fraction,
        help=f"fraction of {what} kept (default {DEFAULT_DOWNSAMPLING[label]})",
    )


@dataclass(frozen=True)
class WriteTensorsOptions:
    """Label each candidate in the truth BED and write its tensor to a store for training."""

    variants: str = setting(
        "-V", "--variant", required=True, path=VCF, help="candidate VCF (.vcf, .vcf.gz, .bcf)"
    )
    reference: str = setting(
        "-R",
        "--reference",
        required=True,
        path=FASTA,
        help="indexed FASTA (.fai; bgzip needs .gzi)",
    )
    reads: tuple[str, ...] = setting(
        "-I",
        "--input",
        repeated=True,
        path=READS,
        help="indexed BAM or CRAM; repeatable; for read_tensor",
    )
    truth_vcf: str = setting(
        "--truth-vcf", required=True, path=VCF, help="truth calls, bgzip VCF with .tbi/.csi"
    )
    truth_bed: str = setting(
        "--truth-bed", required=True, path=FILE, help="the truth's confident regions (.bed)"
    )
    output: str = setting(
        "-O",
        "--output",
        required=True,
        parse=tensor_store_path,
        path=OUTPUT,
        help="tensor store: a folder, or a single file when it ends in .zip",
    )
    tensor_type: str = setting(
        "--tensor-type",
        default=REFERENCE,
        choices=("reference", "read_tensor"),
        help="reference (1D, default as in GATK) or read_tensor (2D)",
    )
    intervals: tuple[str, ...] = intervals_setting(
        "chr:start-end, BED or .interval_list; repeatable (union)"
    )
    annotation_keys: tuple[str, ...] = setting(
        "--info-annotation-keys",
        repeated=True,
        default=DEFAULT_ANNOTATION_KEYS,
        metavar="KEY",
        help="INFO keys stored as the annotation input, in order",
    )
    downsample_snps: float = _downsample("SNP", "--downsample-snps", "true SNPs")
    downsample_indels: float = _downsample("INDEL", "--downsample-indels", "true indels")
    downsample_not_snps: float = _downsample("NOT_SNP", "--downsample-not-snps", "false SNPs")
    downsample_not_indels: float = _downsample(
        "NOT_INDEL", "--downsample-not-indels", "false indels"
    )
    max_tensors: int = setting(
        "--max-tensors",
        default=DEFAULT_MAX_TENSORS,
        parse=positive_int,
        help=f"stop after this many tensors (default {DEFAULT_MAX_TENSORS:,})",
    )
    seed: int = setting("--seed", default=0, parse=int, help="downsampling seed (default 0)")
    shard_size: int | None = setting(
        "--shard-size",
        parse=positive_int,
        help="tensors per shard (default 512 for 1D, 128 for 2D)",
    )
    encode_workers: int = setting(
        "--encode-workers",
        default=1,
        parse=non_negative_int,
        help="encoder processes (default 1; 0 = encode in-process; at most the cores usable)",
    )

    @property
    def downsampling(self) -> dict[str, float]:
        """The fraction kept per label, as the labelling code takes it."""
        return {
            "SNP": self.downsample_snps,
            "INDEL": self.downsample_indels,
            "NOT_SNP": self.downsample_not_snps,
            "NOT_INDEL": self.downsample_not_indels,
        }


@dataclass(frozen=True)
class TrainOptions:
    """Fit a GATK architecture (or cnnscore's compact ones) to tensor stores."""

    tensors: tuple[str, ...] = setting(
        "--tensors",
        repeated=True,
        required=True,
        parse=tensor_store_path,
        path=FILE,
        metavar="STORE",
        help="tensor store (folder or .zip) from write-tensors; repeatable",
    )
    output: str = setting(
        "-O",
        "--output",
        required=True,
        path=OUTPUT,
        writes=(".hd5", ".json", ".report.json", ".report.html"),
        help="prefix: writes PREFIX.hd5, PREFIX.json, PREFIX.report.json and PREFIX.report.html",
    )
    architecture: str | None = setting(
        "--architecture",
        path=FILE,
        exclusive="model",
        required=True,
        help="GATK model JSON whose network is trained",
    )
    model_kind: str | None = setting(
        "--model-kind",
        choices=("1d", "2d", "compact-1d", "compact-2d"),
        exclusive="model",
        help="GATK's default network: 1d_cnn_mix_train_full_bn (1d) or small_2d (2d); or "
        "cnnscore's own smaller ones (compact-1d, compact-2d)",
    )
    epochs: int = setting(
        "--epochs", default=10, parse=positive_int, help="most epochs (default 10)"
    )
    batch_size: int = setting("--batch-size", default=32, parse=positive_int, help="(default 32)")
    validation_fraction: float = setting(
        "--validation-fraction",
        default=0.1,
        parse=float,
        help="fraction of each label held out for validation (default 0.1)",
    )
    patience: int = setting(
        "--patience",
        default=3,
        parse=int,
        help="epochs without a lower validation loss before stopping (default 3)",
    )
    learning_rate: float = setting(
        "--learning-rate", default=1e-4, parse=float, help="Adam learning rate (default 1e-4)"
    )
    cosine_decay: bool = setting(
        "--cosine-decay",
        switch=True,
        default=False,
        help="lower the learning rate from --learning-rate to 0 along a cosine over --epochs",
    )
    dropout: bool = setting(
        "--no-dropout",
        switch=True,
        inverted=True,
        default=True,
        help="train without the architecture's dropout layers (for distillation: the teacher's "
        "soft targets need no such noise, and a small student needs all of its width)",
    )
    seed: int = setting(
        "--seed", default=0, parse=seed_int, help="split, shuffle and weights seed (0 to 2**32-1)"
    )
    threads: int = setting(
        "--threads",
        default=0,
        parse=non_negative_int,
        help="TensorFlow threads (0 = every core this process may use: affinity and cgroup quota)",
    )
    teacher_architecture: str | None = setting(
        "--teacher-architecture",
        path=FILE,
        help="distil: train on this GATK model's outputs (its softmax per tensor, computed once "
        "with the scoring backends) instead of the stores' labels",
    )
    teacher_weights: str | None = setting(
        "--teacher-weights",
        path=FILE,
        help="the teacher's .hd5 (default: --teacher-architecture with .hd5)",
    )
    log_odds_weight: float = setting(
        "--log-odds-weight",
        default=0.1,
        parse=float,
        help="distillation loss: cross-entropy against the teacher plus this times the squared "
        "difference of the SNP and INDEL log-odds, the scores written (default 0.1)",
    )
    other_type_weight: float = setting(
        "--other-type-weight",
        default=1.0,
        parse=float,
        help="distillation loss: the log-odds term's weight on the other type's pair (an SNP "
        "tensor's INDEL log-odds, which score never writes) against 1 on its own (default 1.0)",
    )
    annotation_draws: int = setting(
        "--annotation-draws",
        default=0,
        parse=non_negative_int,
        help="distillation: also feed each training tensor this many times with annotations "
        "drawn from HaplotypeCaller's ranges, the teacher's outputs as targets (default 0)",
    )
    initial_weights: str | None = setting(
        "--initial-weights",
        path=FILE,
        metavar="HD5",
        help="start from these weights (an earlier run's .hd5 of the same architecture) instead "
        "of random ones, e.g. to continue a run that was still improving",
    )
