"""``cnnscore score``'s settings, each declared once (``settings.py``): GATK CNNScoreVariants'
arguments under their names (and GATK's single-dash spellings), the engine arguments GATK's own
WDLs and tests pass with them, and cnnscore's backend and precision choices."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import InputError
from ..io.locations import INDEX_DELIMITER
from ..models.spec import DEFAULT_ANNOTATION_KEYS, READ_TENSOR, REFERENCE
from ..settings import (
    FASTA,
    FILE,
    OUTPUT,
    READS,
    VCF,
    command_line_header_setting,
    exclude_intervals_setting,
    folder_or_off,
    interval_exclusion_padding_setting,
    interval_merging_rule_setting,
    interval_padding_setting,
    interval_set_rule_setting,
    intervals_setting,
    non_negative_float,
    non_negative_int,
    output_index_setting,
    positive_int,
    setting,
    thread_count,
    tmp_dir_setting,
    verbosity_settings,
)

_VERBOSITY, _QUIET = verbosity_settings()
_NO_PYTHON = "cnnscore runs no Python subprocess beside a JVM, so there is nothing to"


#: GATK's effective batch sizes (inference, transfer) per tensor type: its flag defaults with its
#: floors applied, which cnnscore uses as given (it never raises a batch size the user gave).
DEFAULT_BATCH_SIZES = {REFERENCE: (1024, 1024), READ_TENSOR: (256, 512)}


@dataclass(frozen=True)
class ScoreOptions:
    """What ``run_score`` needs; the command line fills it from these declarations."""

    variants: str = setting(
        "-V",
        "--variant",
        required=True,
        path=VCF,
        help="input VCF (.vcf, .vcf.gz, .bcf)",
    )
    reference: str = setting(
        "-R",
        "--reference",
        required=True,
        path=FASTA,
        help="indexed FASTA (.fai; bgzip needs .gzi)",
    )
    output: str = setting(
        "-O",
        "--output",
        required=True,
        path=OUTPUT,
        help="output .vcf (+.idx), .vcf.gz (+.tbi) or .bcf (+.csi)",
    )
    reads: tuple[str, ...] = setting(
        "-I",
        "--input",
        repeated=True,
        path=READS,
        help="indexed BAM or CRAM; repeatable; required for read_tensor (FILE##idx##INDEX "
        "gives its index, whatever its name)",
    )
    read_indexes: tuple[str, ...] = setting(
        "--read-index",
        repeated=True,
        path=FILE,
        tags=True,  # GATK's List<GATKPath>
        help="the index of each -I, in the same order (GATK's --read-index); default: beside it",
    )
    tensor_type: str | None = setting(
        "--tensor-type",
        choices=("reference", "read_tensor"),
        help="reference (1D) or read_tensor (2D); default: the model's, else reference (GATK's)",
    )
    model: str | None = setting(
        "--model",
        metavar="NAME",
        help="a model by name (cnnscore models list): small_2d, 2d_cnn_mix_train, "
        "1d_cnn_mix_train_full_bn, cnnscore_compact_2d, cnnscore_compact_1d; default: GATK's for "
        "the tensor type (small_2d is shipped; the 1D model where cached, else compact_1d)",
    )
    architecture: str | None = setting(
        "--architecture",
        path=FILE,
        help="GATK model JSON; default: --weights with .json",
    )
    weights: str | None = setting(
        "--weights",
        path=FILE,
        help="GATK Keras .hd5 weights; default: --architecture with .hd5",
    )
    intervals: tuple[str, ...] = intervals_setting()
    exclude_intervals: tuple[str, ...] = exclude_intervals_setting()
    interval_padding: int = interval_padding_setting()
    interval_set_rule: str = interval_set_rule_setting()
    interval_exclusion_padding: int = interval_exclusion_padding_setting()
    interval_merging_rule: str | None = interval_merging_rule_setting()
    inference_batch_size: int | None = setting(
        "--inference-batch-size",
        parse=positive_int,
        help="records encoded together and sent to the backend as one chunk (default "
        f"{DEFAULT_BATCH_SIZES[REFERENCE][0]} for 1D, {DEFAULT_BATCH_SIZES[READ_TENSOR][0]} for "
        "2D; docs/SCORING.md says how a backend splits a chunk)",
    )
    transfer_batch_size: int | None = setting(
        "--transfer-batch-size",
        parse=positive_int,
        help=f"records buffered per write (default {DEFAULT_BATCH_SIZES[REFERENCE][1]} for 1D, "
        f"{DEFAULT_BATCH_SIZES[READ_TENSOR][1]} for 2D, GATK's; an inference batch above it is "
        "refused, as by GATK)",
    )
    read_limit: int = setting(
        "--read-limit",
        default=128,
        parse=positive_int,
        help="reads per tensor; must equal the model's (default 128)",
    )
    window_size: int = setting(
        "--window-size",
        default=128,
        parse=positive_int,
        help="reference window; must equal the model's (default 128)",
    )
    annotation_keys: tuple[str, ...] = setting(
        "--info-annotation-keys",
        repeated=True,
        default=DEFAULT_ANNOTATION_KEYS,
        metavar="KEY",
        help="INFO keys fed to the model, in order",
    )
    filter_symbolic_and_sv: bool = setting(
        "--filter-symbolic-and-sv",
        switch=True,
        default=False,
        help="drop symbolic and structural records from the output, as GATK does",
    )
    backend: str = setting(
        "--backend",
        default="openvino",
        help="inference backend: openvino (default: the fastest exact fp32 backend measured, "
        "bench/RESULTS.md), onnxruntime, or tensorflow (the reference the others are checked "
        "against)",
    )
    threads: int = setting(
        "--threads",
        default=0,
        parse=thread_count,
        gatk=("--intra-op-threads",),
        help="threads for inference (0 = every core this process may use: its CPU affinity, "
        "capped by its cgroup CPU quota as in a container; more is capped to that, with a note; "
        "GATK's --intra-op-threads)",
    )
    inter_op_threads: int | None = setting(
        "--inter-op-threads",
        parse=thread_count,
        ignored="TensorFlow's inter-op pool has no counterpart here: --threads sizes inference",
        help="GATK's TensorFlow inter-op threads: accepted, no effect",
    )
    metrics_json: str | None = setting(
        "--metrics-json", path=OUTPUT, help="write run metrics (counts, timings, rates) as JSON"
    )
    progress_seconds: float = setting(
        "--progress-seconds",
        default=10.0,
        parse=non_negative_float,
        gatk=("--seconds-between-progress-updates",),
        help="seconds between progress lines on stderr (default 10)",
    )
    stall_seconds: float = setting(
        "--stall-seconds",
        default=1800.0,
        parse=non_negative_float,
        help="end the run (exit status 1, every thread's stack on stderr, no output) when no "
        "variant has been scored for this long, model loading included, so that a hung run "
        "frees its machine (default 1800; 0: never)",
    )
    reservoir_scope: str = setting(
        "--reservoir-scope",
        default="run",
        choices=("run", "site"),
        help="2D read downsampling random stream: one per run as in GATK (default), "
        "or one per site so that results do not depend on sharding",
    )
    precision: str = setting(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16", "int8"),
        help="inference precision (default fp32, the only GATK-identical one); bf16 needs "
        "--backend openvino and a CPU with avx512_bf16 or AMX; int8 is refused, with the "
        "measurements that rule it out",
    )
    depth_adaptive: bool = setting(
        "--no-depth-adaptive",
        default=True,
        switch=True,
        inverted=True,
        help="run the dense 2D network on all 128 read rows instead of skipping empty rows "
        "(same scores up to float summation order; for checking)",
    )
    encode_workers: int | None = setting(
        "--encode-workers",
        parse=non_negative_int,
        help="encoder processes beside inference (0 = encode in the scoring thread, between "
        "model calls); default: with the compiled 2D encoder, a thread of this process encoding "
        "ahead while the model runs from 2 threads (it costs less than sending tensors between "
        "processes), else 1; at most the cores usable",
    )
    encoder: str = setting(
        "--encoder",
        default="auto",
        choices=("auto", "compiled", "python"),
        help="2D read-tensor encoder: compiled (the same tensors byte for byte, 6-17x faster), "
        "python (the reference), or auto: compiled where it is built for this pysam",
    )
    convolution: str = setting(
        "--convolution",
        default="auto",
        choices=("auto", "direct", "dft"),
        help="long one-axis convolutions evaluated directly or as DFT matrix products (~3x fewer "
        "multiply-adds, the same scores up to float summation order); auto: the backend's "
        "measured faster way (dft on openvino, but direct for bf16; direct elsewhere)",
    )
    compiled_cache: str | None = setting(
        "--compiled-cache",
        metavar="FOLDER|off",
        parse=folder_or_off,
        help="where compiled models are kept between runs, so that a later run on this machine "
        "skips building and compiling them (openvino; keyed by model, settings, runtime and CPU); "
        "default $CNNSCORE_COMPILED_CACHE, else ~/.cache/cnnscore/compiled; off (any case): none",
    )
    command_line_header: bool = command_line_header_setting()
    create_index: bool = output_index_setting()
    tmp_dir: str | None = tmp_dir_setting()
    output_tensor_dir: str | None = setting(
        "--output-tensor-dir",
        ignored="GATK writes tensors only into a folder that exists, and this one does not: "
        "nothing is written",  # an existing folder is refused (__post_init__)
        help="GATK's debugging tensor folder: refused if it exists (see cnnscore write-tensors),"
        " else noted (GATK writes nothing either)",
    )
    disable_avx_check: bool = setting(
        "--disable-avx-check",
        switch=True,
        default=False,
        ignored="no AVX check to disable: every backend runs on any x86-64 CPU",
        help="GATK's AVX check switch: accepted, no effect",
    )
    enable_journal: bool = setting(
        "--enable-journal",
        switch=True,
        default=False,
        ignored=f"{_NO_PYTHON} journal",
        help="GATK's streaming journal: accepted, no effect",
    )
    keep_temp_file: bool = setting(
        "--keep-temp-file",
        switch=True,
        default=False,
        ignored=f"{_NO_PYTHON} keep (scores go straight into the output)",
        help="GATK's score temp file: accepted, no effect",
    )
    python_profile: str | None = setting(
        "--python-profile",
        ignored=f"{_NO_PYTHON} profile",
        help="GATK's Python profile file: accepted, no effect",
    )
    verbosity: str | None = _VERBOSITY
    quiet: bool = _QUIET

    def __post_init__(self) -> None:
        """Refuses an existing --output-tensor-dir (score writes no tensors; GATK would fill it).
        GATK's --read-index gives each -I its index, in order: attached here as htslib's
        ``FILE##idx##INDEX``, the form every later stage (and the gs:// layer) reads."""
        if self.output_tensor_dir and os.path.isdir(self.output_tensor_dir):
            raise InputError(
                "score saves no tensors: cnnscore write-tensors writes them, labelled, for "
                "training",
                setting="output_tensor_dir",
            )
        if not self.read_indexes:
            return
        if len(self.read_indexes) != len(self.reads):
            raise InputError(
                f"{len(self.read_indexes)} indexes for {len(self.reads)} reads files: give one "
                "per reads file, in the same order",
                setting="read_indexes",
            )
        paired = tuple(f"{r}{INDEX_DELIMITER}{i}" for r, i in zip(self.reads, self.read_indexes))
        object.__setattr__(self, "reads", paired)
        object.__setattr__(self, "read_indexes", ())
