"""``cnnscore score``'s flags: GATK CNNScoreVariants' names, plus backend and precision."""

from __future__ import annotations

from ..models.spec import DEFAULT_ANNOTATION_KEYS
from .arguments import (
    add_encoder_argument,
    add_reads_argument,
    add_reference_argument,
    positive_int,
)


def add_score_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "score",
        help="annotate a VCF with CNN_1D or CNN_2D scores (GATK CNNScoreVariants)",
        description="Score every record of a VCF with a GATK CNN model and write it with "
        "INFO CNN_1D (reference model) or CNN_2D (read-tensor model).",
    )
    p.add_argument("-V", "--variant", required=True, help="input VCF (.vcf, .vcf.gz, .bcf)")
    add_reference_argument(p)
    p.add_argument(
        "-O", "--output", required=True, help="output .vcf, .vcf.gz (+.tbi) or .bcf (+.csi)"
    )
    add_reads_argument(p)
    p.add_argument(
        "--tensor-type",
        choices=["reference", "read_tensor"],
        help="reference (1D) or read_tensor (2D); default: the model's",
    )
    p.add_argument(
        "--model",
        metavar="NAME",
        help="a model by name (cnnscore models list): small_2d, 2d_cnn_mix_train, "
        "1d_cnn_mix_train_full_bn, cnnscore_compact_2d, cnnscore_compact_1d; default: GATK's "
        "for the tensor type where its files are in the model cache, else cnnscore's own",
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
        type=positive_int,
        help="variants per model call (default 1024 for 1D, 256 for 2D)",
    )
    p.add_argument(
        "--transfer-batch-size",
        type=positive_int,
        help="variants buffered per write (default 1024 for 1D, 512 for 2D)",
    )
    p.add_argument(
        "--read-limit",
        type=positive_int,
        default=128,
        help="reads per tensor; must equal the model's (default 128)",
    )
    p.add_argument(
        "--window-size",
        type=positive_int,
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
    p.add_argument(
        "--backend",
        default="openvino",
        help="inference backend: openvino (default: the fastest exact fp32 backend measured, "
        "bench/RESULTS.md), onnxruntime, or tensorflow (the reference the others are checked "
        "against)",
    )
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
        help="inference precision (default fp32, the only GATK-identical one); bf16 needs "
        "--backend openvino and a CPU with avx512_bf16 or AMX; int8 is refused, with the "
        "measurements that rule it out",
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
        default=None,
        help="encoder processes beside inference (0 = encode in-process); default: 0 with the "
        "compiled 2D encoder (it costs less than sending tensors between processes), else 1",
    )
    add_encoder_argument(p)
    p.add_argument(
        "--convolution",
        choices=["auto", "direct", "dft"],
        default="auto",
        help="long one-axis convolutions evaluated directly or as DFT matrix products (~3x fewer "
        "multiply-adds, the same scores up to float summation order); auto: the backend's "
        "measured faster way (dft on openvino, direct elsewhere)",
    )
    p.add_argument(
        "--reservoir-scope",
        choices=["run", "site"],
        default="run",
        help="2D read downsampling random stream: one per run as in GATK (default), "
        "or one per site so that results do not depend on sharding",
    )
