"""The compiled and Python read-tensor encoders side by side, alone, on the same records.

`benchmark.py` reports each scoring run's encode time, but there the encoder shares two cores with
inference (and the Python encoder runs in its own process), so its ratio moves with what runs
beside it. Here nothing else runs: each round encodes the same records with each encoder in turn
(order alternating between rounds), in this one process, once per number of htslib reader threads
(1: decompression on the encoding thread, as an encoder process runs; 2: a second thread
decompresses ahead, as `score` runs the compiled encoder in-process with --threads > 1). Every
tensor of every round is hashed and the two encoders' hashes must be equal (exit 1 otherwise).

Usage (after bench/build_data.sh):
  .venv/bin/python bench/encoders.py [--records 2000] [--rounds 3] [--reader-threads 1 2]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time

from benchmark import CACHE, machine, subset_vcf

from cnnscore.encode.compiled import unavailable_reason
from cnnscore.io.vcf_text import VcfReader
from cnnscore.models.spec import DEFAULT_ANNOTATION_KEYS
from cnnscore.scoring.pipeline import Encoder, EncoderConfig

ENCODERS = ("python", "compiled")
CHUNK = 256  # records per chunk, as `score` encodes them


def encode_all(vcf: str, records: list, encoder: str, reader_threads: int) -> tuple[float, list]:
    """(seconds inside encode_chunk, per-record digests of tensor and annotations)."""
    config = EncoderConfig(
        vcf, str(CACHE / "20.fa"), (str(CACHE / "bench.bam"),), "read_tensor",
        DEFAULT_ANNOTATION_KEYS, 128, 128, "run", encoder, reader_threads,
    )  # fmt: skip
    coder = Encoder(config)
    seconds, digests = 0.0, []
    try:
        for start in range(0, len(records), CHUNK):
            started = time.perf_counter()
            chunk = coder.encode_chunk(records[start : start + CHUNK])
            seconds += time.perf_counter() - started
            for index in range(len(chunk.tensors)):
                tensor = chunk.tensors.tensors[index]
                digest = hashlib.sha1(repr(tensor.shape).encode())
                digest.update(tensor.tobytes())
                digest.update(chunk.annotations[index].tobytes())
                digests.append(digest.hexdigest())
    finally:
        coder.close()
    return seconds, digests


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reader-threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        sys.exit(f"the compiled encoder is unavailable: {reason}")
    vcf = str(subset_vcf(args.records))
    records = list(VcfReader(vcf).records())
    ms: dict[tuple[str, int], list[float]] = {}
    mismatched = 0
    for round_number in range(args.rounds):
        order = ENCODERS if round_number % 2 == 0 else ENCODERS[::-1]
        for threads in args.reader_threads:
            digests = {}
            for encoder in order:
                seconds, digests[encoder] = encode_all(vcf, records, encoder, threads)
                ms.setdefault((encoder, threads), []).append(1000 * seconds / len(records))
            mismatched += sum(a != b for a, b in zip(*digests.values(), strict=True))
    print(f"Machine: {machine()}")
    print(f"{len(records)} bench records (2D, window 128, read limit 128, reservoir per run), "
          f"{args.rounds} rounds, median ms per variant inside encode_chunk\n")  # fmt: skip
    print("| reader threads | python ms/variant | compiled ms/variant | compiled / python speed |")
    print("|---|---|---|---|")
    for threads in args.reader_threads:
        python = statistics.median(ms[("python", threads)])
        compiled = statistics.median(ms[("compiled", threads)])
        print(f"| {threads} | {python:.3f} | {compiled:.3f} | {python / compiled:.1f}x |")
    print(f"\nTensors and annotations differing between the encoders: {mismatched} "
          f"of {len(records) * args.rounds * len(args.reader_threads)}")  # fmt: skip
    if mismatched:
        sys.exit(1)


if __name__ == "__main__":
    main()
