"""OpenVINO's native runtime: the network built in OpenVINO's opset (``openvino_graph``, no
TensorFlow), static shapes, compiled once.

fp32 sets ``INFERENCE_PRECISION_HINT=f32`` explicitly: OpenVINO's CPU plugin otherwise picks bf16
on CPUs with avx512_bf16 and moves scores. bf16 asks for it, where the CPU runs it. What the
compiled model really runs is read back from its executed graph (:func:`runtime_precision`). int8
is not offered (scoring.score.INT8_REFUSED says why; bench/precision_gate.py measures it).

Streams, not one wide request: each of ``threads`` streams runs its own request on one core, and
a call's batch is cut into one micro-batch per stream, all in flight at once on the model's
requests (``openvino_requests.RequestRing``, four per stream so that none waits for the scoring
thread: each read back by itself, so a caller may start the next chunk's before it collects this
one's). A single request spread over every core stalls whenever another process (the encoder)
takes one of them — on 2 cores with the encoder busy a third of the time, measured 57 variants/s
against 69 with two streams (48-row bucket, batch 4).
"""

from __future__ import annotations

import functools
import math
import os
import sys
import threading
from collections.abc import Sequence

import numpy as np

from ..encode.compact import Gathered
from ..errors import InputError
from . import cpu
from .base import InferenceBackend
from .compiled_cache import OFF, CompiledCache, source_digest, weights_digest
from .openvino_graph import build_openvino_model
from .openvino_requests import RequestRing

_HINTS = {"fp32": "f32", "bf16": "bf16"}
#: The executed graph's node types that carry the arithmetic, and how their precisions are named.
_COMPUTE_NODES = {"Convolution", "FullyConnected", "MatMul", "Deconvolution"}
_RUNTIME_PRECISIONS = {"i8": "int8", "u8": "int8", "bf16": "bf16", "f16": "fp16", "f32": "fp32"}
_RANK = ("int8", "fp16", "bf16", "fp32")  # a graph runs at the lowest precision any node runs
#: Requests per stream. With one, a stream that finishes idles until the scoring thread, which
#: shares the cores with the streams, wakes, reads it back and starts another; with more queued
#: in OpenVINO it goes straight on. On a 2-core Intel Xeon (AMX) one process ran 286 variants/s
#: with two against 271 with one, as fast as two 1-thread processes (285), and small_2d gains
#: nothing from four there; but where the model is fast next to the scoring thread's work per
#: request, as small_2d's is on many cores (the compact model on 2 cores stands in), four ran
#: 4-7% faster than two in three runs (bench/RESULTS.md, sessions 15 and 18): the scoring thread
#: gets the GIL late now and then, and a deeper queue rides that out. Each request costs its
#: input and output tensors: peak memory +23 MB at 2 threads, +68 MB at 16 (small_2d).
REQUESTS_PER_STREAM = 4


def runtime_precision(compiled_model) -> str:
    """The precision of the compiled model's executed graph: the lowest one that any convolution
    or matrix product runs in (its ``runtimePrecision``), as the CPU plugin chose it."""
    found = set()
    for op in compiled_model.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        if "layerType" in info and info["layerType"].astype(str) in _COMPUTE_NODES:
            name = info["runtimePrecision"].astype(str)
            found.add(_RUNTIME_PRECISIONS.get(name, name))
    return next((p for p in _RANK if p in found), ",".join(sorted(found)) or "unknown")


#: OpenVINO's model converter, which ``import openvino`` imports when it can: cnnscore builds its
#: graphs itself and never converts, and on a 2-core Intel Xeon the converter was 70 of the
#: import's ~100 ms, in every scoring process, and its import starts OpenVINO's telemetry and
#: sends an import event where the user's consent allows (docs/INSTALL.md).
_CONVERTER = "openvino.tools.ovc"
_IMPORT_LOCK = threading.Lock()
_BINDINGS_READY = False


def _import_openvino():
    """``openvino``, imported without its model converter where that is the first import
    (openvino's ``__init__`` imports the converter only if it can: a failed import of it is
    allowed); the converter stays importable for whoever asks for it afterwards. Its bindings'
    first-use set-up is done here too, once (:func:`_first_use_of_bindings`), so that no two
    threads ever make it at once."""
    global _BINDINGS_READY
    with _IMPORT_LOCK:
        openvino = _import_openvino_package()
        if not _BINDINGS_READY:
            _first_use_of_bindings(openvino)
            _BINDINGS_READY = True
        return openvino


def _import_openvino_package():
    """The import itself, as :func:`_import_openvino` says (under its lock)."""
    if "openvino" not in sys.modules and _CONVERTER not in sys.modules:
        sys.modules[_CONVERTER] = None  # an import of it fails (ImportError) while set
        try:
            import openvino

            return openvino
        except ImportError:
            pass  # an openvino that needs its converter: imported as it is, below
        finally:
            if _CONVERTER in sys.modules and sys.modules[_CONVERTER] is None:
                del sys.modules[_CONVERTER]
    try:
        import openvino
    except ImportError:
        raise InputError(
            "backend openvino needs the openvino package: pip install 'cnnscore[openvino]'",
            setting="backend",
        ) from None
    return openvino


def _first_use_of_bindings(openvino) -> None:
    """Make, in one thread, the first use that OpenVINO's Python bindings set themselves up on.

    They build their numpy type tables (numpy type to OpenVINO's and back) in C++ function-local
    statics on first use, and building them is numpy's C API's first use, which pybind11 sets up
    with the GIL let go. Two threads making that first use at once deadlock: one holds the
    static's initialization guard and waits for the GIL, the other holds the GIL and waits for the
    guard. It hung a scoring run for good (OpenVINO 2026.4.1): its bucket models, read back from
    the compiled cache, were set up in parallel threads, so the first use was two requests'
    ``Tensor.data`` at once (bench/RESULTS.md, session 19). A numpy array made into a tensor
    builds one table, its ``data`` the other."""
    openvino.Tensor(np.zeros(1, dtype=np.float32)).data  # noqa: B018 (the use is the point)


class OpenVinoBackend(InferenceBackend):
    name = "openvino"
    precisions = ("fp32", "bf16")
    convolutions = ("dft", "direct")
    builds_in_parallel = True  # ov.Core.compile_model releases the GIL
    caches_compiled = True
    takes_gathered = True  # into each request's own input tensors (openvino_requests)
    reads_in_place = True  # a variant stored at its model's height: lent (RequestRing.lend)

    def __init__(self, network, weights, batch_size, threads, precision="fp32", convolution=None,
                 compiled_cache: str | None = None):  # fmt: skip
        super().__init__(network, weights, batch_size, threads, precision, convolution)
        ov = _import_openvino()
        self.streams = max(1, min(int(threads), batch_size))
        self.micro_batch = math.ceil(batch_size / self.streams)
        self.request_size = self.micro_batch
        core = ov.Core()
        if precision == "bf16" and "BF16" not in core.get_property(
            "CPU", "OPTIMIZATION_CAPABILITIES"
        ):
            raise InputError(
                "this CPU has no bf16 support (no AVX512_BF16/AMX): OpenVINO would silently run "
                "fp32; use --precision fp32",
                setting="precision",
            )
        config = {
            "INFERENCE_PRECISION_HINT": _HINTS[precision],
            "PERFORMANCE_HINT": "THROUGHPUT",
            "NUM_STREAMS": self.streams,
            "INFERENCE_NUM_THREADS": int(threads),
            # Snippets (the plugin's code generation for chains of elementwise ops) found only
            # single ops to wrap here (17 per small_2d model), and generating them took ~20 of
            # each model's ~90 ms of compilation; the plain kernels run as fast (RESULTS.md)
            "SNIPPETS_MODE": "DISABLE",
            # Pinned, each stream's thread is bound to the next core of the process's affinity
            # mask from its first: processes sharing one mask (shards under a CPU quota, as
            # miniwdl's podman backend or docker --cpus give, or several started side by side)
            # all bound their threads to the same first cores while the others idled (two
            # 1-thread processes on 2 cores: 18-20 s against 10-17 s unpinned). One process runs
            # alike either way (bench/RESULTS.md, 2026-12-05), so the kernel places the threads.
            "ENABLE_CPU_PINNING": False,
        }
        self._compiled = self._compile(core, config, network, weights, compiled_cache)
        self._requests = RequestRing(
            self._compiled, REQUESTS_PER_STREAM * self.streams, self.input_names
        )

    def _compile(self, core, config: dict, network, weights, cache_folder: str | None):
        """The compiled model: read back from the compiled-model cache where an identical
        compilation was stored (backends.compiled_cache), else built, compiled and stored."""
        dft = self.convolution == "dft"
        cache = CompiledCache.at(cache_folder)
        if cache is None and cache_folder is not None and cache_folder.lower() != OFF:
            self.compiled_cache = "unwritable"
        key = ""
        if cache is not None:
            key = cache.key(
                runtime=f"openvino {_import_openvino().__version__}", network=repr(network),
                weights=weights_digest(weights), builder=_builder_digest(), batch=self.micro_batch,
                dft=dft, config=config,
            )  # fmt: skip
            compiled = cache.load(core, key, config)
            if compiled is not None:
                self.compiled_cache = "hit"
                return compiled
        try:
            compiled = core.compile_model(
                build_openvino_model(network, weights, self.micro_batch, dft=dft), "CPU", config
            )
        except RuntimeError as err:  # e.g. bf16 under ONEDNN_MAX_CPU_ISA below the CPU's sets
            found = [line.strip() for line in str(err).splitlines() if line.strip()]
            raise InputError(
                f"OpenVINO cannot compile the model in {self.precision} on this CPU "
                f"({cpu.describe()}{_isa_limit()}): {found[-1] if found else err}",
                setting="precision",
            ) from None
        if cache is not None:
            self.compiled_cache = "stored" if cache.store(key, compiled) else "unwritable"
        return compiled

    @classmethod
    def configure_runtime(cls, threads: int) -> None:
        _import_openvino()  # once, in the caller's thread, before models build in parallel

    @classmethod
    def auto_convolution(cls, precision: str) -> str:
        """The DFT (a third of the multiply-adds, the same fp32 scores), except bf16, which runs
        only on a CPU with bf16 instructions, and whose bf16 matrix products make the direct
        convolutions cheaper than the DFT's extra steps: small_2d on a 2-core Intel Xeon with
        AMX ran 756.5 variants/s direct against 280.0 through the DFT (bench/RESULTS.md, session
        19), on a 2-core AMD EPYC with avx512_bf16 and no AMX (Zen 4's flags) 226.8 against
        211.1 (session 24), same runs. The EPYC with Zen 5's flags measured bf16 through the
        DFT only (as fast as fp32 there); direct is expected to gain at least as much there as
        on Zen 4, whose bf16 units are half as wide, and is not measured."""
        if precision == "bf16" and cpu.has_bf16():
            return "direct"
        return "dft"

    @classmethod
    def bucket_batch(cls, threads: int) -> int:
        """One variant per stream and request: nothing is ever padded (a padded dense slot costs
        a whole dense variant), and on a 2-core AVX-512 EPYC a 48-row small_2d request of one
        variant ran at the same rate per variant as requests of 2 or 4."""
        return max(1, int(threads))

    def effective_precision(self) -> str:
        return runtime_precision(self._compiled)

    def variants_read_in_place(self) -> int:
        return self._requests.lent_count  # one variant per lent request

    def predict_batch(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self.predict(inputs)

    def submit(self, inputs: Sequence[np.ndarray | Gathered]) -> tuple[np.ndarray, int]:
        """Every micro-batch started on the model's requests (a start waits only for a free
        request), nothing else waited for: the caller submits the other row buckets' requests,
        and the next chunk's, before it collects, so streams do not idle at a barrier. Each input
        is an array or a chunk's variants not yet gathered (``encode.compact.Gathered``): both
        are copied once, straight into the request's own input memory, except a chunk's variant
        that the encoder stored at this model's height, which OpenVINO reads where it lies."""
        count = len(inputs[0])
        outputs = np.empty((count, 4), dtype=np.float32)
        last = 0
        for start in range(0, count, self.micro_batch):
            rows = min(self.micro_batch, count - start)
            as_stored = self._as_stored(inputs, start) if self.micro_batch == 1 else None
            if as_stored is not None:  # read where it lies: nothing copied
                last = self._requests.lend(as_stored, outputs[start : start + 1])
                continue

            def fill(buffers: list[np.ndarray], start: int = start, rows: int = rows) -> None:
                for source, buffer in zip(inputs, buffers, strict=True):
                    if isinstance(source, Gathered):
                        source.write(start, buffer[:rows])
                    else:
                        buffer[:rows] = source[start : start + rows]
                    buffer[rows:] = 0  # padding (none when a micro-batch is one variant)

            last = self._requests.start(fill, outputs[start : start + rows])
        return outputs, last

    @staticmethod
    def _as_stored(inputs: Sequence[np.ndarray | Gathered], position: int) -> list | None:
        """Variant ``position`` of every input as a one-variant batch in the memory it lies in,
        or None when any of them must be copied (a tensor not stored at this model's height).
        Only a chunk's inputs (some ``Gathered``) are lent: the pipeline hands each chunk over
        and never writes to it again, while a caller's plain arrays may be reused once
        :meth:`submit` returns."""
        if not any(isinstance(source, Gathered) for source in inputs):
            return None
        lent = []
        for source in inputs:
            if isinstance(source, Gathered):
                one = source.as_stored(position)
            else:
                one = source[position : position + 1]
            if one is None or one.dtype != np.float32 or not one.flags.c_contiguous:
                return None
            lent.append(one)
        return lent

    def collect(self, handle: object) -> np.ndarray:
        outputs, last = handle  # type: ignore[misc]
        self._requests.finish(last)
        return outputs

    def close(self) -> None:
        self._requests.finish_all()

    def predict(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self.collect(self.submit(inputs))


def _isa_limit() -> str:
    """oneDNN's ISA cap where the environment sets one: OpenVINO's kernels follow it, but not its
    list of capabilities, so a precision it offers may have no kernel under the cap."""
    limit = os.environ.get("ONEDNN_MAX_CPU_ISA")
    return f"; ONEDNN_MAX_CPU_ISA={limit}" if limit else ""


@functools.cache
def _builder_digest() -> str:
    from . import axis_dft, openvino_graph

    return source_digest(openvino_graph, axis_dft, sys.modules[__name__])
