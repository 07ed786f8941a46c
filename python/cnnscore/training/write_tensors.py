"""``cnnscore write-tensors``: labelled training tensors from candidates, reads and a truth set.

GATK's CNNVariantWriteTensors, with its label scheme (:mod:`cnnscore.training.labels`) and
downsampling flags. The tensors come from the scorer's own
:class:`~cnnscore.scoring.pipeline.Encoder`, so a model learns from exactly what it will later be
shown. Two choices differ from scoring, both so that a record's tensor does not depend on which
other records were written:

- 2D read downsampling draws from one random stream per site (``--reservoir-scope site`` in
  ``cnnscore score``); at sites with at most ``read_limit`` reads nothing is drawn and the tensor
  equals the default scorer's too;
- whether a record survives ``--downsample-*`` is decided by a hash of the seed and the record, not
  by a stream, so the same records are kept whatever ``-L``, sharding or record order.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .. import __version__
from ..encode.compiled import resolve_encoder
from ..encode.reads import ReadSource
from ..errors import InputError
from ..io.intervals import IntervalFilter, parse_intervals
from ..io.locations import user_facing
from ..io.reference import REFERENCE_WINDOW, reference_lengths
from ..io.sequence_dictionary import check_header_on_reference
from ..io.vcf_text import VcfReader, VcfRecord
from ..models.spec import READ_TENSOR, REFERENCE
from ..scoring.pipeline import (
    EncodedChunk,
    EncoderConfig,
    encoded_chunks,
    encoder_processes,
    warn_of_undeclared_keys,
)
from .labels import LABELS, Skip, TruthLabeler
from .options import WriteTensorsOptions
from .tensor_store import TensorStoreWriter, check_destination

#: tensors per shard: ~1 MB of 1D tensors, ~128 MB (before compression) of 2D ones
DEFAULT_SHARD_SIZE = {REFERENCE: 512, READ_TENSOR: 128}
_ENCODE_CHUNK = 64
READ_LIMIT = 128
_READ_CHANNELS, _REFERENCE_CHANNELS = 15, 4


@dataclass
class WriteTensorsResult:
    output: str
    counts: dict[str, int]
    skipped: dict[str, int]
    shards: int
    stopped_at: str | None  # the record at which --max-tensors stopped the run
    seconds: float

    @property
    def total(self) -> int:
        return sum(self.counts.values())


#: GATK's writer skips these too (after labelling and downsampling): the manifest's keys
NO_ANNOTATIONS = "no_annotations"
NO_READS = "no_reads"


def _has_an_annotation(record: VcfRecord, keys: tuple[str, ...]) -> bool:
    """GATK's writer needs one of the annotation keys in the record's INFO or FORMAT (or QUAL
    named as one): a record with none is skipped ("Missing ALL annotations"), its annotation
    input all zeros."""
    if "QUAL" in keys:
        return True
    info = record.info_values()
    columns = record.line.split("\t", 9)
    form = set(columns[8].split(":")) if len(columns) > 8 else set()
    return any(key in info or key in form for key in keys)


def kept_by_downsampling(record: VcfRecord, fraction: float, seed: int) -> bool:
    """Keep the record with probability ``fraction``, decided by a hash of (seed, record)."""
    if fraction >= 1.0:
        return True
    key = f"{seed}\t{record.chrom}\t{record.pos}\t{record.ref}\t{','.join(record.alts)}"
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64 < fraction


def _check(options: WriteTensorsOptions) -> None:
    for label, fraction in options.downsampling.items():
        if not 0.0 <= fraction <= 1.0:
            name = "downsample_" + label.lower() + "s"
            raise InputError(f"fraction {fraction} is not within 0..1", setting=name)
    if options.max_tensors < 1:
        raise InputError("must be at least 1", setting="max_tensors")
    if options.tensor_type not in (REFERENCE, READ_TENSOR):
        raise InputError(f"unknown tensor type {options.tensor_type}", setting="tensor_type")
    if options.tensor_type == READ_TENSOR and not options.reads:
        raise InputError("read_tensor needs reads: give their BAM/CRAM files", setting="reads")


class _Selection:
    """Labels records, applies downsampling and --max-tensors, and counts what it skips."""

    def __init__(self, labeler: TruthLabeler, options: WriteTensorsOptions):
        self.labeler = labeler
        self.options = options
        self.skipped = {skip.value: 0 for skip in Skip}
        self.skipped["downsampled"] = 0
        self.skipped[NO_ANNOTATIONS] = 0
        self.skipped[NO_READS] = 0
        self.in_bed = 0
        self.true = 0
        self.selected = 0
        self.stopped_at: str | None = None

    def chunks(
        self, records: Iterator[VcfRecord], labels: deque[list[int]]
    ) -> Iterator[list[VcfRecord]]:
        """Chunks of selected records; each chunk's output channels are appended to ``labels``."""
        chunk: list[VcfRecord] = []
        chunk_labels: list[int] = []
        for record in records:
            if self.selected >= self.options.max_tensors:
                self.stopped_at = record.label
                break
            label = self.labeler.label(record)
            if isinstance(label, Skip):
                self.skipped[label.value] += 1
                continue
            self.in_bed += 1
            self.true += int(label in ("SNP", "INDEL"))
            if not kept_by_downsampling(
                record, self.options.downsampling[label], self.options.seed
            ):
                self.skipped["downsampled"] += 1
                continue
            if not _has_an_annotation(record, self.options.annotation_keys):
                self.skipped[NO_ANNOTATIONS] += 1
                continue
            self.selected += 1
            chunk.append(record)
            chunk_labels.append(LABELS[label])
            if len(chunk) == _ENCODE_CHUNK:
                labels.append(chunk_labels)
                yield chunk
                chunk, chunk_labels = [], []
        if chunk:
            labels.append(chunk_labels)
            yield chunk


def _header(options: WriteTensorsOptions, shard_size: int) -> dict:
    shape = (
        [READ_LIMIT, REFERENCE_WINDOW, _READ_CHANNELS]
        if options.tensor_type == READ_TENSOR
        else [REFERENCE_WINDOW, _REFERENCE_CHANNELS]
    )
    return {
        "cnnscore_version": __version__,
        "tensor_type": options.tensor_type,
        "tensor_shape": shape,
        "tensor_dtype": "float32",
        "annotation_keys": list(options.annotation_keys),
        "annotation_dtype": "float32",
        "window_size": REFERENCE_WINDOW,
        "read_limit": READ_LIMIT,
        "labels": LABELS,
        "shard_size": shard_size,
        "seed": options.seed,
        "downsampling": dict(options.downsampling),
        "max_tensors": options.max_tensors,
        "reservoir_scope": "site",
        "sources": user_facing(
            {
                "variants": options.variants,
                "reference": options.reference,
                "reads": list(options.reads) if options.tensor_type == READ_TENSOR else [],
                "truth_vcf": options.truth_vcf,
                "truth_bed": options.truth_bed,
                "intervals": list(options.intervals),
            }
        ),
    }


def run_write_tensors(options: WriteTensorsOptions) -> WriteTensorsResult:
    """Label, select and encode the candidates, and write the store (complete or not at all)."""
    started = time.monotonic()
    _check(options)
    lengths = reference_lengths(options.reference)
    vcf = VcfReader(options.variants)
    check_header_on_reference(vcf.contig_lengths, vcf.path, lengths, options.reference)
    warn_of_undeclared_keys(options.annotation_keys, vcf)
    intervals = None
    if options.intervals:
        intervals = IntervalFilter(parse_intervals(list(options.intervals), lengths), lengths)
    if options.tensor_type == READ_TENSOR:  # a bad BAM fails before any work
        ReadSource(list(options.reads), options.reference, lengths).close()
    check_destination(options.output)
    labeler = TruthLabeler(options.truth_vcf, options.truth_bed, lengths)
    try:
        labeler.check_reference(vcf, (lengths, options.reference))
    except BaseException:
        labeler.close()
        raise
    shard_size = options.shard_size or DEFAULT_SHARD_SIZE[options.tensor_type]
    config = EncoderConfig(
        vcf_path=vcf.path, reference_path=options.reference, reads_paths=tuple(options.reads),
        tensor_type=options.tensor_type, annotation_keys=tuple(options.annotation_keys),
        window_size=REFERENCE_WINDOW, read_limit=READ_LIMIT, reservoir_scope="site",
        encoder=resolve_encoder("auto") if options.tensor_type == READ_TENSOR else "python",
    )  # fmt: skip
    selection = _Selection(labeler, options)
    try:
        writer = TensorStoreWriter(options.output, _header(options, shard_size), shard_size)
        try:
            labels: deque[list[int]] = deque()
            chunks = selection.chunks(vcf.records(intervals), labels)
            workers = encoder_processes(options.encode_workers)
            with contextlib.closing(encoded_chunks(chunks, config, workers)) as encoded_in_order:
                for records, encoded in encoded_in_order:
                    _store(writer, selection, records, encoded, labels.popleft(), options)
            _check_selection(selection, options)
            if not writer.total:  # every candidate chosen was dropped for want of a read
                raise InputError(
                    f"none of the {selection.skipped[NO_READS]:,} candidates chosen has a read "
                    "in the BAM/CRAM: are these the reads of these calls?",
                    path=options.reads[0],
                )
            writer.commit({"skipped": selection.skipped, "stopped_at": selection.stopped_at})
            _warn_of_missing_labels(writer.counts)
        except BaseException:
            writer.abort()
            raise
    finally:
        labeler.close()
    return WriteTensorsResult(
        output=options.output,
        counts=writer.counts,
        skipped=selection.skipped,
        shards=len(writer.shards),
        stopped_at=selection.stopped_at,
        seconds=time.monotonic() - started,
    )


def _store(
    writer: TensorStoreWriter, selection: _Selection, records: list[VcfRecord],
    encoded: EncodedChunk, labels: list[int], options: WriteTensorsOptions,
) -> None:  # fmt: skip
    """Add one encoded chunk's candidates to the store. GATK's writer skips a site without a read
    ("No reads aligned"): its tensor is the reference alone, a label with nothing to learn from."""
    tensors, annotations = encoded.tensors, encoded.annotations
    chunk_labels = np.array(labels, dtype=np.uint8)
    names = [record.label for record in records]
    if options.tensor_type == READ_TENSOR:
        tensors = tensors.at_height(READ_LIMIT)
        read = encoded.read_rows > 0
        selection.skipped[NO_READS] += int(np.sum(~read))
        if not read.all():
            tensors, annotations = tensors[read], annotations[read]
            chunk_labels = chunk_labels[read]
            names = [name for name, kept in zip(names, read, strict=True) if kept]
    if len(names):
        writer.add(tensors, annotations, chunk_labels, names)


def _check_selection(selection: _Selection, options: WriteTensorsOptions) -> None:
    """A store without candidates, or without a single true one, cannot train anything; most
    often the truth BED or VCF does not belong to the candidates (build, contig names)."""
    if selection.in_bed == 0:
        raise InputError(
            "no SNP or indel candidate lies in the truth BED: nothing to label "
            f"({selection.skipped[Skip.OUTSIDE_BED.value]} outside it)",
            path=options.truth_bed,
        )
    if selection.true == 0:
        raise InputError(
            f"none of the {selection.in_bed} candidates in the truth BED matches a truth record, "
            "so every label would be false: is the truth set for these calls (positions, "
            "normalisation)? A small -L region or --max-tensors may hold only false calls: "
            "widen it",
            path=options.truth_vcf,
        )
    if selection.selected == 0 and selection.skipped[NO_ANNOTATIONS]:
        raise InputError(
            f"none of the candidates kept has any of the annotation keys "
            f"({' '.join(options.annotation_keys)}) in its INFO or FORMAT: check "
            "--info-annotation-keys",
            path=options.variants,
        )
    if selection.selected == 0:
        raise InputError(
            "downsampling kept no candidate: raise the --downsample-* fractions",
            path=options.variants,
        )


def _warn_of_missing_labels(counts: dict[str, int]) -> None:
    """A store without some label (no false call in a well-called region) trains nothing on its
    own: ``train`` refuses tensors that lack a label, so say it now, not after the encoding of
    more stores."""
    missing = [name for name in LABELS if not counts.get(name)]
    if missing:
        print(
            f"cnnscore: warning: the store holds no {', '.join(missing)} tensor: train needs "
            "every label, from this store or others given with it (distillation aside)",
            file=sys.stderr,
        )


_SKIP_WORDING = {
    Skip.OUTSIDE_BED.value: "outside the truth BED",
    Skip.OTHER_TYPE.value: "neither SNP nor indel (MNP, mixed, symbolic, no ALT)",
    "downsampled": "downsampled",
    NO_ANNOTATIONS: "with none of the annotation keys",
    NO_READS: "without a read",
}


def summary(result: WriteTensorsResult) -> str:
    counts = ", ".join(f"{name} {result.counts[name]:,}" for name in LABELS)
    skipped = ", ".join(f"{count:,} {_SKIP_WORDING[why]}" for why, count in result.skipped.items())
    line = (
        f"cnnscore: wrote {result.total:,} tensors ({counts}) in {result.shards} shard(s) to "
        f"{result.output} in {result.seconds:.1f} s; skipped: {skipped}"
    )
    if result.stopped_at:
        line += f"; stopped by --max-tensors at {result.stopped_at}"
    return line
