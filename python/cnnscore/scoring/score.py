"""``cnnscore score``: the data flow from input files to the annotated VCF.

records (io.vcf_text) -> tensors (pipeline: encode.reference_tensor / encode.reads +
encode.read_tensor, or encode.compiled for 2D: inline, in a thread beside inference, or in encoder
processes) -> probabilities (backends) -> score text (scores) ->
annotated lines (io.vcf_output); docs/ARCHITECTURE.md draws it.
Records are streamed in inference-batch chunks, encoded between or beside model calls
(pipeline), and written in input order, every transfer batch.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import __version__
from ..backends import backend_class, cpu
from ..backends.base import InferenceBackend
from ..encode.compiled import resolve_encoder
from ..encode.reads import ReadSource
from ..encode.variant_type import is_symbolic_or_sv
from ..errors import InputError
from ..io.files import write_atomically
from ..io.htslib import inflates_with_libdeflate
from ..io.intervals import IntervalFilter, resolve_intervals
from ..io.locations import is_url, split_indexes
from ..io.output_paths import check_output_folder
from ..io.reference import reference_lengths
from ..io.sequence_dictionary import check_header_on_reference
from ..io.vcf_output import AtomicVcfWriter, annotate_line, annotated_header, provenance_line
from ..io.vcf_text import VcfReader, VcfRecord
from ..models.registry import choose_model
from ..models.spec import (
    READ_TENSOR,
    REFERENCE,
    ModelSpec,
    check_trained_pair,
    load_model_spec,
)
from .inference import ChunkInference, in_place_heights
from .options import DEFAULT_BATCH_SIZES, ScoreOptions
from .pipeline import (
    EncoderConfig,
    encoded_chunks,
    encoder_processes,
    one_stream_allows,
    start_encoding,
    warn_of_undeclared_keys,
)
from .progress import ProgressMeter
from .scores import format_score, refuse_non_finite, site_scores
from .stall import StallGuard

MAX_INFERENCE_BATCH, MAX_TRANSFER_BATCH = 4096, 8192
#: GATK raises both batch sizes to this floor (per tensor type) before it compares them
GATK_BATCH_FLOORS = {REFERENCE: 1024, READ_TENSOR: 64}
#: int8 measured against the gates a user's calls need (score signs and FILTERs as fp32's) on
#: held-out benchmark sites, with five NNCF settings: bench/precision_gate.py, bench/RESULTS.md.
INT8_REFUSED = (
    "int8 is not offered: on 3,000 held-out benchmark sites, small_2d quantized by NNCF (5 "
    "settings) flipped at best 0.37% of score signs against fp32 (gate 0.1%; max |delta| 1.94), "
    "accuracy control met the gate only by keeping every layer fp32, and cnnscore_compact_2d, "
    "which passes with its first and last layers fp32 (0.03%), is encoder-bound, so int8 gains "
    "it nothing end to end (bench/precision_gate.py, bench/RESULTS.md)"
)


@dataclass
class ScoreMetrics:
    variants_scored: int
    records_written: int
    wall_seconds: float
    variants_per_minute: float
    encode_seconds: float
    encode_wait_seconds: float
    inference_seconds: float
    model_load_seconds: float
    #: CPU time of the threads that set how far one process scales (bench/scaling.py divides
    #: them by the wall time after model load): the scoring thread (submitting requests, reading
    #: them back, writing; encoding too when inline), and encoding, wherever it ran. Both are
    #: Python threads sharing one GIL, so a share near 1 of either caps the process.
    scoring_thread_cpu_seconds: float
    encode_cpu_seconds: float
    backend: str
    precision: str
    effective_precision: str  # read back from the runtime (backends.base.effective_precision)
    cpu_instruction_sets: list[str]  # the sets that decide which precisions run natively
    cpu_model: str | None  # /proc/cpuinfo's model name (None where none is given)
    encode_workers: int
    #: where encoding ran: "beside" (a thread ahead of inference), "inline" (the scoring thread,
    #: between model calls) or "processes" (encode_workers of them)
    encoding: str
    reader_threads: int
    #: htslib inflates BAM/CRAM blocks with libdeflate (else zlib): io/htslib.py
    htslib_libdeflate: bool
    encoder: str  # the 2D read-tensor encoder that ran: compiled or python
    convolution: str  # how the backend evaluated long convolutions: direct or dft
    gflop_per_variant: float  # as computed: the depth buckets and the DFT included
    depth_adaptive: bool
    rows_computed: dict[str, int]
    #: per compiled model, the batch a chunk is cut into and the variants per runtime request:
    #: what --inference-batch-size (the chunk) became on this backend
    model_batches: dict[str, dict[str, int]]
    #: the compiled-model cache's part in model_load_seconds: off, hit, stored, unwritable
    compiled_cache: str
    #: variants the runtime read where the encoder stored them (at their row bucket's height),
    #: not copied by the scoring thread (scoring.inference.in_place_heights)
    variants_read_in_place: int
    read_rows_quantiles: dict[str, int]
    tensor_type: str
    info_key: str
    inference_batch_size: int
    transfer_batch_size: int
    threads: int
    cnnscore_version: str = __version__


#: Threads from which the compiled encoder runs in a thread beside inference by default. Between
#: model calls (inline) the streams drain their queued requests in ~10 ms and then idle for the
#: rest of each chunk's encoding (counted per chunk); on 16 cores inference waited for all of
#: encoding's 2.6-2.9 s of a 6-8 s run (issue #32). On 2 cores the thread was 2-4% slower while
#: the scoring thread copied every tensor twice per request; with one copy (compact.Gathered) it
#: is as fast as inline (327 against 328 variants/s, five rounds) and inference no longer waits
#: for encoding (bench/RESULTS.md, 2026-12-05, session 16). One thread has no core to spare.
BESIDE_FROM_THREADS = 2


def _batch_sizes(options: ScoreOptions, tensor_type: str) -> tuple[int, int]:
    default_inference, default_transfer = DEFAULT_BATCH_SIZES[tensor_type]
    inference = options.inference_batch_size or default_inference
    transfer = options.transfer_batch_size or default_transfer  # GATK's, floors applied
    if not 1 <= inference <= MAX_INFERENCE_BATCH:
        raise InputError(f"must be 1..{MAX_INFERENCE_BATCH}", setting="inference_batch_size")
    if not 1 <= transfer <= MAX_TRANSFER_BATCH:
        raise InputError(f"must be 1..{MAX_TRANSFER_BATCH}", setting="transfer_batch_size")
    floor = GATK_BATCH_FLOORS[tensor_type]  # GATK raises both to it first,
    if max(inference, floor) > max(transfer, floor):  # then refuses; a larger chunk is fine here
        given = "" if options.transfer_batch_size else ", its default: give --transfer-batch-size"
        raise InputError(
            f"inference batch {inference} exceeds transfer batch {transfer}{given} (GATK refuses "
            "it too)",
            setting="inference_batch_size",
        )
    return inference, transfer


def _check_options(options: ScoreOptions, spec: ModelSpec) -> str:
    tensor_type = options.tensor_type or spec.tensor_type
    if tensor_type != spec.tensor_type:
        raise InputError(
            f"--tensor-type {tensor_type} but the model takes {spec.tensor_type}", path=spec.path
        )
    if tensor_type == READ_TENSOR and not options.reads:
        raise InputError("read_tensor needs reads: give their BAM/CRAM files", setting="reads")
    if options.reads and tensor_type == REFERENCE:
        print("cnnscore: warning: -I is ignored by the 1D reference model", file=sys.stderr)
    if options.window_size != spec.window_size:
        raise InputError(
            f"--window-size {options.window_size} differs from the model's {spec.window_size}",
            path=spec.path,
        )
    if tensor_type == READ_TENSOR and options.read_limit != spec.read_limit:
        raise InputError(
            f"--read-limit {options.read_limit} differs from the model's {spec.read_limit}",
            path=spec.path,
        )
    if len(options.annotation_keys) != len(spec.annotations):
        raise InputError(
            f"{len(options.annotation_keys)} --info-annotation-keys given, "
            f"the model takes {len(spec.annotations)}",
            path=spec.path,
        )
    if tuple(options.annotation_keys) != spec.annotations:
        # GATK takes the keys given (its default unless --info-annotation-keys) whatever the
        # model learnt from; a model trained on others scores every record from other inputs
        print(
            f"cnnscore: warning: --info-annotation-keys {' '.join(options.annotation_keys)} "
            f"differ from the model's own ({' '.join(spec.annotations)}, its JSON's "
            "input_annotations): scores come from the keys given, in their order; give the "
            "model's to score as it was trained",
            file=sys.stderr,
        )
    if os.path.abspath(options.output) == os.path.abspath(split_indexes(options.variants)[0]):
        raise InputError("output would overwrite the input VCF", path=options.output)
    return tensor_type


def _batches(records: Iterator[VcfRecord], size: int) -> Iterator[list[VcfRecord]]:
    batch: list[VcfRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _provenance(spec: ModelSpec, weights: str, precision: str) -> str:
    # The backend is left out on purpose: fp32 backends give the same scores, so a scatter's
    # shards and a direct run carry the same line whatever fp32 backend ran them. The precision
    # is the one the runtime reported, and the CPU's sets say where it ran.
    return provenance_line(
        "cnnscoreCommandLine",
        "score",
        {
            "Version": __version__,
            "Precision": precision,
            "CPU": cpu.describe(),
            "Architecture": os.path.basename(spec.path),
            "Weights": os.path.basename(weights),
        },
    )


def _backend_for(options: ScoreOptions) -> tuple[type[InferenceBackend], str]:
    """The backend class asked for and the convolution it will use, each checked against what
    the backend can do before anything is read."""
    backend_type = backend_class(options.backend)
    if options.precision not in backend_type.precisions:
        raise InputError(
            f"backend {options.backend} runs {', '.join(backend_type.precisions)}, "
            f"not {options.precision}",
            setting="precision",
        )
    convolution = options.convolution
    if convolution == "auto":
        convolution = backend_type.auto_convolution(options.precision)
    if convolution not in backend_type.convolutions:
        known = ", ".join(backend_type.convolutions)
        raise InputError(
            f"backend {options.backend} evaluates convolutions {known}, not {convolution}",
            setting="convolution",
        )
    return backend_type, convolution


def _interval_filter(
    options: ScoreOptions, contig_lengths: dict[str, int]
) -> IntervalFilter | None:
    """GATK's -L/-XL/-ip/-ixp/-isr as one filter over the records, or None to walk them all."""
    if not (options.intervals or options.exclude_intervals):
        return None
    return IntervalFilter(
        resolve_intervals(
            options.intervals, contig_lengths, padding=options.interval_padding,
            exclude=options.exclude_intervals, rule=options.interval_set_rule,
            exclusion_padding=options.interval_exclusion_padding,
        ),
        dictionary=contig_lengths,
    )  # fmt: skip


def run_score(options: ScoreOptions) -> ScoreMetrics:
    """Score every record of the input (restricted by -L) and write the annotated VCF."""
    from ..backends.compiled_cache import default_folder as default_compiled_cache
    from ..models.architectures import architecture_for, load_network, network_for
    from ..models.keras2_weights import read_keras2_weights

    if options.precision == "int8":
        raise InputError(INT8_REFUSED, setting="precision")
    started = time.monotonic()
    chosen = choose_model(options.model, options.architecture, options.weights,
                          options.tensor_type)  # fmt: skip
    if chosen.note:
        print(chosen.note, file=sys.stderr)
    architecture_path, weights_path = chosen.architecture, chosen.weights
    spec = load_model_spec(architecture_path)
    tensor_type = _check_options(options, spec)
    if options.metrics_json:  # before the work, not after it, with the output already there
        check_output_folder(options.metrics_json, file=True)
    architecture_for(spec)
    inference_batch, transfer_batch = _batch_sizes(options, tensor_type)
    file_layers = read_keras2_weights(weights_path)
    check_trained_pair(spec, weights_path)
    backend_type, convolution = _backend_for(options)
    threads = cpu.threads_for(options.threads)

    contig_lengths = reference_lengths(options.reference)
    vcf = VcfReader(options.variants)
    check_header_on_reference(vcf.contig_lengths, vcf.path, contig_lengths, options.reference)
    warn_of_undeclared_keys(options.annotation_keys, vcf)
    if len(vcf.samples) > 1:
        print(
            "cnnscore: warning: the VCF has several samples; GATK's CNN expects one",
            file=sys.stderr,
        )
    intervals = _interval_filter(options, contig_lengths)
    encoder = "python"
    if tensor_type == READ_TENSOR:  # open once here so a bad BAM fails before any work
        ReadSource(options.reads, options.reference, contig_lengths).close()
        encoder = resolve_encoder(options.encoder)
    workers = options.encode_workers
    if workers is None:  # measured: in-process beats a worker once encoding costs ~0.4 ms/variant
        workers = 0 if encoder == "compiled" else 1
    workers = one_stream_allows(encoder_processes(workers), tensor_type, options.reservoir_scope)
    streamed = any(is_url(path) for path in options.reads)
    depth_adaptive = options.depth_adaptive and tensor_type == READ_TENSOR
    config = EncoderConfig(
        vcf_path=vcf.path, reference_path=options.reference, reads_paths=tuple(options.reads),
        tensor_type=tensor_type, annotation_keys=tuple(options.annotation_keys),
        window_size=spec.window_size, read_limit=options.read_limit,
        reservoir_scope=options.reservoir_scope, encoder=encoder,
        # one thread decompresses ahead of in-process encoding (bench records, encoding inline:
        # 0.20 -> 0.15 ms per variant for the compiled encoder; beside inference at 2 threads it
        # neither helps nor costs: 7.51 against 7.52 s, RESULTS session 16); not for reads
        # streamed by URL, where reading ahead past the last record fetches bytes for nothing
        reader_threads=2 if workers == 0 and threads > 1 and not streamed else 1,
        heights=in_place_heights(backend_type, network_for(spec), depth_adaptive),
    )  # fmt: skip
    writer = AtomicVcfWriter(
        options.output, index=options.create_index, source=vcf.path, header=vcf.header_lines
    )
    records = vcf.records(intervals)
    if options.filter_symbolic_and_sv:
        records = (r for r in records if not is_symbolic_or_sv(r.ref, r.alts))
    # encoding in a thread beside inference (and beside the model's compilation once that
    # leaves a core free) from BESIDE_FROM_THREADS threads: bench/RESULTS.md measures why
    beside = options.encode_workers is None and workers == 0 and threads >= BESIDE_FROM_THREADS
    chunks = encoded_chunks(_batches(records, inference_batch), config, workers, beside)
    inference = None
    try:
        # a hung run ends instead of holding its machine (scoring.stall)
        with StallGuard(options.stall_seconds, on_stall=writer.abort) as guard:
            load_started = time.monotonic()
            backend_type.configure_runtime(threads)
            network, weights = load_network(spec, file_layers, weights_path)
            inference = ChunkInference(
                backend_type,
                network,
                weights,
                inference_batch,
                threads,
                options.precision,
                depth_adaptive=depth_adaptive,
                convolution=convolution,
                compiled_cache=options.compiled_cache or default_compiled_cache(),
                on_core_free=functools.partial(start_encoding, chunks),
            )
            model_load_seconds = time.monotonic() - load_started
            effective = inference.effective_precision()
            if options.compiled_cache and "unwritable" in inference.compiled_cache():
                print(  # asked for by name: say it is not used (start-up pays the compiling)
                    f"cnnscore: warning: --compiled-cache {options.compiled_cache} is not a "
                    "folder this process can create or write: compiling without it",
                    file=sys.stderr,
                )
            if effective != options.precision:
                raise InputError(
                    f"backend {options.backend} runs {effective} on this CPU "
                    f"({cpu.describe()}), not the {options.precision} asked for",
                    setting="precision",
                )

            meter = ProgressMeter(options.progress_seconds)
            provenance = None
            if options.command_line_header:
                provenance = _provenance(spec, weights_path, effective)
            writer.write_lines(
                annotated_header(vcf.header_lines, spec.info_key, provenance, chosen.own_model)
            )
            scored, times = _score_chunks(
                chunks, inference, writer, spec.info_key, transfer_batch, meter, guard,
                weights_path,
            )  # fmt: skip
        chunks.close()
        writer.commit()
    except BaseException:
        chunks.close()
        if inference is not None:
            inference.close()
        writer.abort()
        raise

    wall = time.monotonic() - started
    metrics = ScoreMetrics(
        variants_scored=scored,
        records_written=scored,
        wall_seconds=round(wall, 3),
        variants_per_minute=round(scored / wall * 60.0, 1) if wall > 0 else 0.0,
        encode_seconds=round(times.encode, 3),
        encode_wait_seconds=round(times.encode_wait, 3),
        inference_seconds=round(times.inference, 3),
        model_load_seconds=round(model_load_seconds, 3),
        scoring_thread_cpu_seconds=round(times.scoring_cpu, 3),
        encode_cpu_seconds=round(times.encode_cpu, 3),
        backend=options.backend,
        precision=options.precision,
        effective_precision=effective,
        cpu_instruction_sets=list(cpu.instruction_sets()),
        cpu_model=cpu.model_name(),
        encode_workers=workers,
        encoding="beside" if beside else ("inline" if workers == 0 else "processes"),
        reader_threads=config.reader_threads,
        htslib_libdeflate=inflates_with_libdeflate(),
        encoder=encoder,
        convolution=convolution,
        gflop_per_variant=round(inference.gflop_per_variant(), 4),
        depth_adaptive=bool(inference.buckets),
        rows_computed=dict(sorted(inference.counts.items())),
        model_batches=inference.request_sizes(),
        compiled_cache=inference.compiled_cache(),
        variants_read_in_place=inference.read_in_place(),
        read_rows_quantiles=_quantiles(times.read_rows) if tensor_type == READ_TENSOR else {},
        tensor_type=tensor_type,
        info_key=spec.info_key,
        inference_batch_size=inference_batch,
        transfer_batch_size=transfer_batch,
        threads=threads,
    )
    if options.metrics_json:
        _write_json_atomically(options.metrics_json, asdict(metrics))
    return metrics


@dataclass
class _ChunkTimes:
    encode: float = 0.0  # encoding, wherever it ran
    encode_cpu: float = 0.0  # the CPU time of that encoding
    scoring_cpu: float = 0.0  # the scoring thread's CPU time over the whole loop
    encode_wait: float = 0.0  # the scoring thread waiting for the next chunk's encoding
    inference: float = 0.0  # the scoring thread submitting requests and waiting for results
    read_rows: list[np.ndarray] = field(default_factory=list)


def _score_chunks(
    chunks: Iterator, inference: ChunkInference, writer: AtomicVcfWriter, info_key: str,
    transfer_batch: int, meter: ProgressMeter, guard: StallGuard, weights_path: str,
) -> tuple[int, _ChunkTimes]:  # fmt: skip
    """Score every encoded chunk and write its annotated lines, in input order. One chunk stays
    in flight while the next is fetched: its requests run while the next chunk is encoded (in
    this thread, inline) and submitted, and it is collected and written after that, so the
    streams are not left idle between chunks."""
    times = _ChunkTimes()
    cpu_started = time.thread_time()
    scored = 0
    lines: list[str] = []
    in_flight = None
    while True:
        waited = time.monotonic()
        item = next(chunks, None)
        times.encode_wait += time.monotonic() - waited
        submitted = None
        if item is not None:
            records, encoded = item
            times.encode += encoded.seconds
            times.encode_cpu += encoded.cpu_seconds
            times.read_rows.append(encoded.read_rows)
            inferred = time.monotonic()
            pending = inference.submit(encoded.tensors, encoded.annotations, encoded.read_rows)
            times.inference += time.monotonic() - inferred
            submitted = (records, encoded.type_labels, pending)
        if in_flight is not None:
            records, type_labels, pending = in_flight
            inferred = time.monotonic()
            probabilities = inference.collect(pending)
            times.inference += time.monotonic() - inferred
            scores = site_scores(probabilities, type_labels)
            refuse_non_finite(scores, records, weights_path)
            lines.extend(
                annotate_line(r.line, info_key, format_score(s)) for r, s in zip(records, scores)
            )
            scored += len(records)
            if len(lines) >= transfer_batch:
                writer.write_lines(lines)
                lines = []
            meter.update(scored, f"{records[-1].chrom}:{records[-1].pos}")
            guard.progress()
        if submitted is None:
            break
        in_flight = submitted
    writer.write_lines(lines)
    times.scoring_cpu = time.thread_time() - cpu_started
    return scored, times


def _quantiles(parts: list[np.ndarray]) -> dict[str, int]:
    """Reads per 2D tensor: min, 10th, 50th, 90th percentile, max."""
    values = np.concatenate(parts) if parts else np.zeros(1, dtype=np.int64)
    points = {"min": 0, "p10": 10, "p50": 50, "p90": 90, "max": 100}
    return {name: int(np.percentile(values, q, method="lower")) for name, q in points.items()}


def _write_json_atomically(path: str, data: dict) -> None:
    try:
        write_atomically(path, (json.dumps(data, indent=2) + "\n").encode())
    except OSError as err:
        raise InputError(f"cannot write metrics ({err.strerror})", path=path) from None
