"""``cnnscore score``: the data flow from input files to the annotated VCF.

records (vcf_text) -> tensors (encode_reference / reads + encode_reads) -> probabilities (backend)
-> score text (scores) -> annotated lines (vcf_output). Records are streamed in transfer batches,
encoded and inferred in inference batches, and written in input order.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np

from . import __version__
from .encode_reads import read_tensor
from .encode_reference import annotation_vector, reference_tensor
from .errors import InputError
from .intervals import IntervalFilter, parse_intervals
from .javarandom import JavaRandom
from .models.spec import READ_TENSOR, REFERENCE, ModelSpec, companion_path, load_model_spec
from .progress import ProgressMeter
from .reads import ReadSource
from .reference import Reference
from .scores import format_score, site_scores
from .variant_type import is_symbolic_or_sv, site_type, tensor_type_label
from .vcf_output import AtomicVcfWriter, annotate_line, annotated_header
from .vcf_text import VcfReader, VcfRecord

DEFAULT_ANNOTATION_KEYS = ("MQ", "DP", "SOR", "FS", "QD", "MQRankSum", "ReadPosRankSum")
#: GATK's effective defaults (its batch-size floors applied to its flag defaults).
DEFAULT_BATCH_SIZES = {REFERENCE: (1024, 1024), READ_TENSOR: (256, 512)}
MAX_INFERENCE_BATCH, MAX_TRANSFER_BATCH = 4096, 8192


@dataclass
class ScoreOptions:
    variants: str
    reference: str
    output: str
    reads: list[str] = field(default_factory=list)
    tensor_type: str | None = None
    architecture: str | None = None
    weights: str | None = None
    intervals: list[str] = field(default_factory=list)
    inference_batch_size: int | None = None
    transfer_batch_size: int | None = None
    read_limit: int = 128
    window_size: int = 128
    annotation_keys: tuple[str, ...] = DEFAULT_ANNOTATION_KEYS
    filter_symbolic_and_sv: bool = False
    backend: str = "tensorflow"
    threads: int = 0
    metrics_json: str | None = None
    progress_seconds: float = 10.0
    reservoir_scope: str = "run"


@dataclass
class ScoreMetrics:
    variants_scored: int
    records_written: int
    wall_seconds: float
    variants_per_minute: float
    encode_seconds: float
    inference_seconds: float
    model_load_seconds: float
    backend: str
    tensor_type: str
    info_key: str
    inference_batch_size: int
    transfer_batch_size: int
    threads: int
    cnnscore_version: str = __version__


def _model_paths(options: ScoreOptions) -> tuple[str, str]:
    architecture, weights = options.architecture, options.weights
    if not architecture and not weights:
        raise InputError(
            "no model given: pass --architecture and/or --weights (GATK's .json/.hd5; see README)",
            path="--architecture",
        )
    return (
        architecture or companion_path(weights, ".json"),
        weights or companion_path(architecture, ".hd5"),
    )


def _batch_sizes(options: ScoreOptions, tensor_type: str) -> tuple[int, int]:
    default_inference, default_transfer = DEFAULT_BATCH_SIZES[tensor_type]
    inference = options.inference_batch_size or default_inference
    transfer = options.transfer_batch_size or max(default_transfer, inference)
    if not 1 <= inference <= MAX_INFERENCE_BATCH:
        raise InputError(f"must be 1..{MAX_INFERENCE_BATCH}", path="--inference-batch-size")
    if not 1 <= transfer <= MAX_TRANSFER_BATCH:
        raise InputError(f"must be 1..{MAX_TRANSFER_BATCH}", path="--transfer-batch-size")
    if inference > transfer:
        raise InputError(
            f"inference batch {inference} exceeds transfer batch {transfer}",
            path="--inference-batch-size",
        )
    return inference, transfer


def _check_options(options: ScoreOptions, spec: ModelSpec) -> str:
    tensor_type = options.tensor_type or spec.tensor_type
    if tensor_type != spec.tensor_type:
        raise InputError(
            f"--tensor-type {tensor_type} but the model takes {spec.tensor_type}", path=spec.path
        )
    if tensor_type == READ_TENSOR and not options.reads:
        raise InputError("--tensor-type read_tensor needs reads: pass -I BAM/CRAM", path="-I")
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
    if tuple(options.annotation_keys) != DEFAULT_ANNOTATION_KEYS:
        print("cnnscore: warning: annotation keys differ from GATK's default", file=sys.stderr)
    if os.path.abspath(options.output) == os.path.abspath(options.variants):
        raise InputError("output would overwrite the input VCF", path=options.output)
    return tensor_type


def _check_contigs(vcf: VcfReader, reference: Reference) -> None:
    for contig, length in vcf.contig_lengths.items():
        if contig in reference.lengths and reference.lengths[contig] != length:
            raise InputError(
                f"contig {contig} has length {length} in the VCF header but "
                f"{reference.lengths[contig]} in the reference {reference.path}",
                path=vcf.path,
            )


def _check_record_reference(record: VcfRecord, reference: Reference, vcf_path: str) -> bytes:
    """The record's 128-base window, after checking its contig and REF against the reference."""
    length = reference.lengths.get(record.chrom)
    if length is None:
        raise InputError(
            f"contig {record.chrom} is not in the reference {reference.path}",
            path=vcf_path,
            record=record.label,
        )
    ref_end = record.pos + len(record.ref) - 1
    if record.pos < 1 or ref_end > length:
        raise InputError(
            f"REF lies outside {record.chrom} (length {length})", path=vcf_path, record=record.label
        )
    expected = reference.bases(record.chrom, record.pos, ref_end)
    given = record.ref.encode("ascii", "replace")
    for ours, theirs in zip(given, expected, strict=True):
        if ours != theirs and ours != ord("N") and theirs != ord("N"):
            raise InputError(
                f"REF {record.ref} does not match the reference ({expected.decode()})",
                path=vcf_path,
                record=record.label,
            )
    return reference.window(record.chrom, record.pos, record.end)


def _batches(records: Iterator[VcfRecord], size: int) -> Iterator[list[VcfRecord]]:
    batch: list[VcfRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Scorer:
    """Encodes and infers one inference batch at a time; holds the per-run state (RNG, reads)."""

    def __init__(self, options, spec, tensor_type, reference, reads, backend, vcf_path):
        self.options, self.spec, self.tensor_type = options, spec, tensor_type
        self.reference, self.reads, self.backend = reference, reads, backend
        self.vcf_path = vcf_path
        # GATK draws from one process-wide generator for the whole run ("run"); "site" starts a
        # fresh one per site, so a site's reads do not depend on the other records in the run.
        self.rng = JavaRandom()
        self.encode_seconds = 0.0
        self.inference_seconds = 0.0

    def _encode(self, record: VcfRecord) -> tuple[np.ndarray, np.ndarray, str]:
        window = _check_record_reference(record, self.reference, self.vcf_path)
        annotations = annotation_vector(
            record.info_values(),
            self.options.annotation_keys,
            path=self.vcf_path,
            record=record.label,
        )
        type_label = tensor_type_label(site_type(record.ref, record.alts))
        try:
            if self.tensor_type == REFERENCE:
                return reference_tensor(window), annotations, type_label
            rng = self.rng if self.options.reservoir_scope == "run" else JavaRandom()
            reads = self.reads.reads_for_variant(
                record.chrom,
                record.pos,
                record.end,
                self.options.read_limit,
                rng,
                record=record.label,
            )
            tensor = read_tensor(
                reads, record.pos, type_label, window, self.spec.window_size, self.spec.read_limit
            )
        except ValueError as err:
            raise InputError(str(err), path=self.vcf_path, record=record.label) from None
        return tensor, annotations, type_label

    def score(self, records: list[VcfRecord]) -> list[str]:
        started = time.monotonic()
        encoded = [self._encode(record) for record in records]
        tensors = np.stack([e[0] for e in encoded])
        annotations = np.stack([e[1] for e in encoded])
        labels = [e[2] for e in encoded]
        encoded_at = time.monotonic()
        probabilities = self.backend.predict([tensors, annotations])
        self.inference_seconds += time.monotonic() - encoded_at
        self.encode_seconds += encoded_at - started
        return [format_score(s) for s in site_scores(probabilities, labels)]


def _provenance(spec: ModelSpec, weights: str, backend: str) -> str:
    return (
        f'##cnnscoreCommandLine=<ID=score,Version="{__version__}",Backend="{backend}",'
        f'Architecture="{os.path.basename(spec.path)}",Weights="{os.path.basename(weights)}">'
    )


def run_score(options: ScoreOptions) -> ScoreMetrics:
    """Score every record of the input (restricted by -L) and write the annotated VCF."""
    from .backends import backend_class
    from .models.architectures import architecture_for, build_model
    from .models.keras2_weights import read_keras2_weights

    started = time.monotonic()
    architecture_path, weights_path = _model_paths(options)
    spec = load_model_spec(architecture_path)
    tensor_type = _check_options(options, spec)
    architecture_for(spec)
    inference_batch, transfer_batch = _batch_sizes(options, tensor_type)
    file_layers = read_keras2_weights(weights_path)
    backend_type = backend_class(options.backend)
    threads = options.threads or os.cpu_count() or 1

    reference = Reference(options.reference)
    vcf = VcfReader(options.variants)
    _check_contigs(vcf, reference)
    if len(vcf.samples) > 1:
        print(
            "cnnscore: warning: the VCF has several samples; GATK's CNN expects one",
            file=sys.stderr,
        )
    intervals = None
    if options.intervals:
        intervals = IntervalFilter(parse_intervals(options.intervals, reference.lengths))
    reads = (
        ReadSource(options.reads, options.reference, reference.lengths)
        if (tensor_type == READ_TENSOR)
        else None
    )
    writer = AtomicVcfWriter(options.output)
    try:
        load_started = time.monotonic()
        backend_type.configure_runtime(threads)
        model = build_model(spec, file_layers, weights_path)
        backend = backend_type(model, inference_batch, threads)
        model_load_seconds = time.monotonic() - load_started

        scorer = _Scorer(options, spec, tensor_type, reference, reads, backend, vcf.path)
        meter = ProgressMeter(options.progress_seconds)
        writer.write_lines(
            annotated_header(
                vcf.header_lines, spec.info_key, _provenance(spec, weights_path, options.backend)
            )
        )
        records = vcf.records(intervals)
        if options.filter_symbolic_and_sv:
            records = (r for r in records if not is_symbolic_or_sv(r.ref, r.alts))
        scored = 0
        for transfer in _batches(records, transfer_batch):
            lines = []
            for chunk in _batches(iter(transfer), inference_batch):
                scores = scorer.score(chunk)
                lines.extend(
                    annotate_line(r.line, spec.info_key, s)
                    for r, s in zip(chunk, scores, strict=True)
                )
                scored += len(chunk)
                meter.update(scored, f"{chunk[-1].chrom}:{chunk[-1].pos}")
            writer.write_lines(lines)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    finally:
        reference.close()
        if reads:
            reads.close()

    wall = time.monotonic() - started
    metrics = ScoreMetrics(
        variants_scored=scored,
        records_written=scored,
        wall_seconds=round(wall, 3),
        variants_per_minute=round(scored / wall * 60.0, 1) if wall > 0 else 0.0,
        encode_seconds=round(scorer.encode_seconds, 3),
        inference_seconds=round(scorer.inference_seconds, 3),
        model_load_seconds=round(model_load_seconds, 3),
        backend=options.backend,
        tensor_type=tensor_type,
        info_key=spec.info_key,
        inference_batch_size=inference_batch,
        transfer_batch_size=transfer_batch,
        threads=threads,
    )
    if options.metrics_json:
        _write_json_atomically(options.metrics_json, asdict(metrics))
    return metrics


def _write_json_atomically(path: str, data: dict) -> None:
    temp = f"{path}.partial-{os.getpid()}"
    try:
        with open(temp, "w") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
        os.replace(temp, path)
    except OSError as err:
        if os.path.exists(temp):
            os.remove(temp)
        raise InputError(f"cannot write metrics ({err.strerror})", path=path) from None
