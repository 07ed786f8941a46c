"""Encoding, in order, beside inference: records -> (tensors, annotations, type labels) chunks.

Encoding (reference window, reads, tensors) runs in the scoring thread between model calls, or
beside inference so that the two overlap: in a thread of the scoring process (the compiled
encoder's default from scoring.score.BESIDE_FROM_THREADS threads: the backends release the GIL
while they infer, the compiled encoder while it builds each tensor, and the thread starts as
soon as compiling the model leaves a core free), or in worker processes.
Chunks come back in input order; at most a few are in flight, so memory stays bounded whatever
the VCF size. GATK's downsampling draws from one random stream in
record order, so for 2D with ``reservoir_scope == "run"`` a single worker encodes every chunk in
order; with ``"site"`` every site has its own stream, and 1D draws nothing, so several workers may
share the work.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..backends.cpu import usable_cores
from ..encode.compact import CompactTensors
from ..encode.compiled import CompiledReadTensors
from ..encode.javarandom import JavaRandom
from ..encode.read_tensor import ReadSymbolError, read_tensor
from ..encode.reads import ReadSource
from ..encode.reference_tensor import annotation_vector, reference_tensor
from ..encode.variant_type import allele_problem, site_type, tensor_type_label
from ..errors import InputError
from ..io.reference import Reference
from ..io.vcf_text import VcfReader, VcfRecord, header_info_ids
from ..models.spec import REFERENCE
from ..read_ahead import ReadAhead


@dataclass(frozen=True)
class EncoderConfig:
    vcf_path: str
    reference_path: str
    reads_paths: tuple[str, ...]
    tensor_type: str
    annotation_keys: tuple[str, ...]
    window_size: int
    read_limit: int
    reservoir_scope: str
    #: "compiled" or "python" (resolved from --encoder by encode.compiled.resolve_encoder)
    encoder: str = "python"
    #: htslib threads per reads file (decompression ahead of the encoder)
    reader_threads: int = 1
    #: heights the 2D tensors are stored at where they fit (encode.read_tensor.stored_height):
    #: those inference reads in place (scoring.inference.in_place_heights)
    heights: tuple[int, ...] = ()


@dataclass
class EncodedChunk:
    #: 1D: (n, window, 4). 2D: compact and ragged, each variant's read rows plus one standing for
    #: every row after them, or empty rows up to its row bucket's height where inference reads
    #: it in place (CompactTensors.at_height gives any height)
    tensors: np.ndarray | CompactTensors
    annotations: np.ndarray
    type_labels: list[str]
    read_rows: np.ndarray  # reads in each 2D tensor (0 for 1D): rows after them are empty
    seconds: float
    #: CPU time of the thread that encoded it: beside inference, what that thread needed of a core
    cpu_seconds: float


class Encoder:
    """Turns records into model inputs; owns the open reference, reads and random stream."""

    def __init__(self, config: EncoderConfig):
        self.config = config
        self.reference = Reference(config.reference_path)
        self.reads = None
        self.compiled = None
        if config.tensor_type != REFERENCE:
            self.reads = ReadSource(
                config.reads_paths, config.reference_path, self.reference.lengths,
                config.reader_threads,
            )  # fmt: skip
            if config.encoder == "compiled":
                self.compiled = CompiledReadTensors(self.reads)
        self.rng = JavaRandom()

    def close(self) -> None:
        self.reference.close()
        if self.reads:
            self.reads.close()

    def _window(self, record: VcfRecord) -> bytes:
        """The record's reference window, after checking its alleles and INFO as GATK's VCF
        reader does, and its contig and REF against the FASTA."""
        reference, path = self.reference, self.config.vcf_path
        problem = allele_problem(record.ref, record.alts)
        if problem is None and " " in record.info:
            problem = "INFO has a space, which the VCF specification does not allow"
        if problem:
            raise InputError(f"{problem} (GATK's VCF reader stops here too)", path=path,
                             record=record.label)  # fmt: skip
        length = reference.lengths.get(record.chrom)
        if length is None:
            raise InputError(
                f"contig {record.chrom} is not in the reference {reference.path}",
                path=path, record=record.label,
            )  # fmt: skip
        ref_end = record.pos + len(record.ref) - 1
        if record.pos < 1 or ref_end > length:
            raise InputError(
                f"REF lies outside {record.chrom} (length {length})", path=path, record=record.label
            )
        expected = reference.bases(record.chrom, record.pos, ref_end)
        given = record.ref.encode("ascii", "replace")
        for ours, theirs in zip(given, expected):
            if ours != theirs and ours != ord("N") and theirs != ord("N"):
                raise InputError(
                    f"REF {record.ref} does not match the reference ({expected.decode()})",
                    path=path, record=record.label,
                )  # fmt: skip
        return reference.window(record.chrom, record.pos, record.end)

    def encode(self, record: VcfRecord) -> tuple[np.ndarray, np.ndarray, str, int]:
        config = self.config
        window = self._window(record)
        annotations = annotation_vector(
            record.info_values(), config.annotation_keys, path=config.vcf_path, record=record.label
        )
        type_label = tensor_type_label(site_type(record.ref, record.alts))
        try:
            if config.tensor_type == REFERENCE:
                return reference_tensor(window), annotations, type_label, 0
            self.reads.check_contig(record.chrom, record.label)
            rng = self.rng if config.reservoir_scope == "run" else JavaRandom()
            if self.compiled is not None:
                tensor, kept = self.compiled.encode(
                    record.chrom, record.pos, record.end, type_label, window, config.window_size,
                    config.read_limit, rng, record=record.label, heights=config.heights,
                )  # fmt: skip
                return tensor, annotations, type_label, kept
            reads = self.reads.reads_for_variant(
                record.chrom, record.pos, record.end, config.read_limit, rng, record=record.label
            )
            tensor = read_tensor(
                reads, record.pos, type_label, window, config.window_size, config.read_limit,
                compact=True, heights=config.heights,
            )  # fmt: skip
        except ReadSymbolError as err:  # the reads' fault, not the VCF's
            reads = ",".join(config.reads_paths)
            raise InputError(str(err), path=reads, record=record.label) from None
        except ValueError as err:
            raise InputError(str(err), path=config.vcf_path, record=record.label) from None
        return tensor, annotations, type_label, min(len(reads), config.read_limit)

    def encode_chunk(self, records: list[VcfRecord]) -> EncodedChunk:
        started, cpu_started = time.monotonic(), time.thread_time()
        encoded = [self.encode(record) for record in records]
        tensors = [e[0] for e in encoded]
        return EncodedChunk(
            tensors=np.stack(tensors)
            if self.config.tensor_type == REFERENCE
            else CompactTensors(tensors),
            annotations=np.stack([e[1] for e in encoded]),
            type_labels=[e[2] for e in encoded],
            read_rows=np.array([e[3] for e in encoded], dtype=np.int64),
            seconds=time.monotonic() - started,
            cpu_seconds=time.thread_time() - cpu_started,
        )


_worker_encoder: Encoder | None = None


def _start_worker(config: EncoderConfig) -> None:
    global _worker_encoder
    import pysam

    pysam.set_verbosity(0)
    # The parent decides how a run ends: Ctrl-C reaches the whole process group, and the parent's
    # pool shutdown stops the workers with SIGTERM; neither should print a worker's traceback.
    # SIGTERM exits through SystemExit, not the default action: a worker killed outright while it
    # waited for work held the pool's queue lock, and the parent's shutdown, which takes that
    # lock, then waited for ever (a SIGTERM to the process group hung the run).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_quietly)
    _worker_encoder = Encoder(config)


def _exit_quietly(signum: int, _frame) -> None:
    """A worker's SIGTERM: unwind (locks released on the way) and exit, with no traceback. A
    second SIGTERM (the parent's shutdown, after the process group's) is ignored, so that it
    cannot cut the unwinding short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def _encode_in_worker(records: list[VcfRecord]) -> EncodedChunk:
    assert _worker_encoder is not None
    return _worker_encoder.encode_chunk(records)


class EncodedBeside(ReadAhead[tuple[list[VcfRecord], EncodedChunk]]):
    """(records, their encoding) per chunk, in input order, encoded by a thread of this process
    up to ``depth`` chunks ahead of the caller (read_ahead.ReadAhead). The thread starts when the
    caller calls :meth:`start` (the caller knows when compiling the model leaves a core free) or
    asks for the first chunk. Whatever it raises (a bad record, an unreadable BAM) is raised by
    ``next`` in the caller's thread, in its place in the order; :meth:`close` stops the thread
    and closes the files, however the run ends."""

    def __init__(self, chunks: Iterator[list[VcfRecord]], encoder: Encoder, depth: int = 1):
        self._encoder = encoder
        encoded = ((records, encoder.encode_chunk(records)) for records in chunks)
        super().__init__(encoded, depth, name="cnnscore-encoder", held=True)

    def close(self) -> bool:
        closed = super().close()
        if closed:
            self._encoder.close()  # after the thread has stopped using it
        return closed


def encoder_processes(asked: int) -> int:
    """``--encode-workers``, at most one process per core this process may use (with a note):
    each worker holds its own memory, and a thousand asked for filled 24 GB of a 2-core machine
    before anything was encoded."""
    cores = usable_cores()
    if asked <= cores:
        return asked
    print(
        f"cnnscore: note: --encode-workers {asked} is more than the {cores} cores this process "
        f"may use: using {cores}",
        file=sys.stderr,
    )
    return cores


def one_stream_allows(workers: int, tensor_type: str, reservoir_scope: str) -> int:
    """At most one encoder process where read tensors share GATK's one downsampling stream
    (``--reservoir-scope run``), with a warning: the stream's draws follow the record order."""
    if tensor_type != REFERENCE and reservoir_scope == "run" and workers > 1:
        print(
            "cnnscore: warning: GATK's single downsampling stream needs records encoded in order: "
            "using 1 encoder process (--reservoir-scope site allows more)",
            file=sys.stderr,
        )
        return 1
    return workers


class EncodedChunks(Protocol):
    """What :func:`encoded_chunks` returns: the chunks in input order, and ``close`` to stop the
    encoding (its thread or processes) when the caller ends early or fails. Typed so, not as a
    bare Iterator, so that a caller that forgets to close it is the one that stands out."""

    def __iter__(self) -> Iterator[tuple[list[VcfRecord], EncodedChunk]]: ...
    def __next__(self) -> tuple[list[VcfRecord], EncodedChunk]: ...
    def close(self) -> object: ...


def start_encoding(chunks: EncodedChunks) -> None:
    """Let encoding that waits for a core start now (EncodedBeside's thread); nothing for the
    other ways, which encode when asked for a chunk."""
    if isinstance(chunks, EncodedBeside):
        chunks.start()


def encoded_chunks(
    chunks: Iterator[list[VcfRecord]], config: EncoderConfig, workers: int, beside: bool = False
) -> EncodedChunks:
    """(records, their encoding) per chunk, in input order: in this thread as the caller asks
    (``workers`` 0), in a thread of this process ahead of it (``beside``), or in ``workers``
    processes. Close what this returns when done (a generator's or EncodedBeside's close)."""
    if workers <= 0 and beside:
        return EncodedBeside(chunks, Encoder(config))
    return _encoded_here_or_in_workers(chunks, config, workers)


def _encoded_here_or_in_workers(
    chunks: Iterator[list[VcfRecord]], config: EncoderConfig, workers: int
) -> Generator[tuple[list[VcfRecord], EncodedChunk], None, None]:
    if workers <= 0:
        encoder = Encoder(config)
        try:
            for records in chunks:
                yield records, encoder.encode_chunk(records)
        finally:
            encoder.close()
        return
    workers = one_stream_allows(workers, config.tensor_type, config.reservoir_scope)
    # spawn, not fork: the parent may already run TensorFlow or OpenVINO threads.
    context = multiprocessing.get_context("spawn")
    in_flight: deque = deque()
    pool = context.Pool(workers, initializer=_start_worker, initargs=(config,))
    started = list(pool._pool)  # its Process objects: a pool replaces a dead one, not its chunk
    try:
        for records in chunks:
            in_flight.append((records, pool.apply_async(_encode_in_worker, (records,))))
            if len(in_flight) > 2 * workers:
                done_records, result = in_flight.popleft()
                yield done_records, _result_of(result, started)
        while in_flight:
            done_records, result = in_flight.popleft()
            yield done_records, _result_of(result, started)
    finally:
        _stop_pool(pool)


def _result_of(result, workers: list) -> EncodedChunk:
    """A chunk's encoding from the pool, or an error once one of its ``workers`` has died: the
    pool starts another, but a chunk the dead one held never comes back, and the run waited for
    it until its stall guard ended it half an hour later (the kernel's out-of-memory killer may
    choose an encoder process; Terra's "retry with more memory" looks for OutOfMemory or Killed).
    A worker ended by SIGTERM is left to the parent, which the same signal stops."""
    while True:
        if result.ready():  # come back, whatever became of its worker since
            return result.get()
        dead = [w.exitcode for w in workers if w.exitcode not in (None, 0, 128 + signal.SIGTERM)]
        if dead:
            how, advice = f"exit status {dead[0]}", ""
            if dead[0] < 0:
                how = f"killed by signal {-dead[0]}"
            if dead[0] == -signal.SIGKILL:
                how += ": Killed, most likely by the kernel for want of memory (OutOfMemory)"
                advice = "give the run more memory, or "
            raise InputError(
                f"an encoder process ended ({how}), and with it the chunk it held: {advice}"
                "encode in this process (--encode-workers 0)",
                setting="encode_workers",
            )
        result.wait(1.0)


#: How long a pool's shutdown may take before the run goes on without it
POOL_STOP_SECONDS = 5.0


def _stop_pool(pool) -> None:
    """``pool.terminate()``, given up on after :data:`POOL_STOP_SECONDS`: a worker stopped by a
    signal to the whole process group (a scheduler's SIGTERM) in the middle of sending a result
    leaves part of a message in the pipe, and the pool's result thread, which the shutdown
    joins, then waits for the rest for ever (the run hung). The workers are sent SIGTERM before
    that join, and the pool's threads are daemons, which end with the process."""
    stopper = threading.Thread(target=pool.terminate, name="cnnscore-pool-stop", daemon=True)
    stopper.start()
    stopper.join(POOL_STOP_SECONDS)


def warn_of_undeclared_keys(keys: tuple[str, ...], vcf: VcfReader) -> None:
    """Annotation keys the VCF header does not declare, said on stderr (score and write-tensors
    alike): GATK encodes them as 0.0 without a word, and a misspelt key is one, a dead input
    for every record (of a trained model, for good)."""
    declared = header_info_ids(vcf.header_lines)
    undeclared = [key for key in keys if key not in declared]
    if undeclared:
        print(
            f"cnnscore: warning: {', '.join(undeclared)}: no ##INFO line in {vcf.path}, so 0.0 "
            "wherever a record lacks the key (GATK's rule); check --info-annotation-keys",
            file=sys.stderr,
        )
