"""More real tensors for distillation: every candidate of a VCF moved by a few bases.

Why: the teacher labels any tensor, and the real reads there are (HG002's 100 kb) give only
~2,300 candidate sites; small_2d's strongly negative scores on real false calls come from messy
pileups, which a site seen from a few centres shows the student more of. The read tensor depends
on the centre and the variant type only (spec: the window, and the sort character, which differs
for SNPs and indels), so each candidate is written again at POS + offset for every offset, with
REF re-read from the reference and an ALT of the same type: the next base in A, C, G, T order for
an SNP, REF's first base for a deletion (REF two bases), REF plus the next base for an insertion.
INFO is kept (the annotation draws replace it for most copies). Moved records that land on a
candidate's own position or another moved record of the same type are dropped.
Output: VCF text on stdout, sorted by position, deterministic (no randomness).
"""

from __future__ import annotations

import argparse
import sys

import pysam

_NEXT = {"A": "C", "C": "G", "G": "T", "T": "A"}


def moved(record: pysam.VariantRecord, offset: int, fasta: pysam.FastaFile) -> tuple | None:
    """(pos, is_indel, REF, ALT) of ``record`` moved by ``offset``, or None where the reference
    there is not A/C/G/T (N, or past the contig's end)."""
    pos = record.pos + offset  # 1-based
    is_indel = any(len(alt) != len(record.ref) for alt in record.alts or ())
    bases = fasta.fetch(record.chrom, pos - 1, pos + 1).upper()
    if len(bases) < 2 or any(base not in _NEXT for base in bases):
        return None
    if not is_indel:
        return pos, False, bases[0], _NEXT[bases[0]]
    deletion = any(len(alt) < len(record.ref) for alt in record.alts)
    if deletion:
        return pos, True, bases, bases[0]
    return pos, True, bases[0], bases[0] + _NEXT[bases[1]]


def _offsets(text: str) -> list[int]:
    try:
        offsets = [int(value) for value in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not comma-separated integers: {text!r}") from None
    if 0 in offsets:
        raise argparse.ArgumentTypeError("0 would repeat every candidate at its own position")
    return offsets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("vcf", help="candidates (bgzip VCF)")
    parser.add_argument("reference", help="FASTA with .fai (and .gzi when bgzip)")
    parser.add_argument("--offsets", type=_offsets, default=[-5, 5],
                        help="comma-separated shifts (default -5,5)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        return _write_moved(args.vcf, args.reference, args.offsets)
    except (OSError, ValueError) as error:  # pysam: unreadable, unindexed or malformed input
        print(f"shifted_centres.py: {error}", file=sys.stderr)
        return 1


def _write_moved(vcf_path: str, reference: str, offsets: list[int]) -> int:
    with pysam.VariantFile(vcf_path) as vcf, pysam.FastaFile(reference) as fasta:
        records = list(vcf)
        own = {(record.chrom, record.pos) for record in records}
        chosen: dict[tuple[str, int, bool], str] = {}
        for record in records:
            text = str(record).rstrip("\n").split("\t")
            for offset in offsets:
                where = moved(record, offset, fasta)
                if where is None or (record.chrom, where[0]) in own:
                    continue
                key = (record.chrom, where[0], where[1])
                if key not in chosen:
                    fields = [record.chrom, str(where[0]), ".", where[2], where[3], *text[5:]]
                    chosen[key] = "\t".join(fields)
        sys.stdout.write(str(vcf.header))
        contigs = {name: number for number, name in enumerate(vcf.header.contigs)}
        for key in sorted(chosen, key=lambda k: (contigs.get(k[0], 0), k[1], k[2])):
            sys.stdout.write(chosen[key] + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
