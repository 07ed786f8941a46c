"""Simulate a diploid genome: seeded SNVs and short indels on a reference contig.

Writes the truth VCF and, for each haplotype, a FASTA of the windows around the variants with the
variants applied (reads are simulated only there, which keeps the data set small enough to build
on two cores while every scored site still sees a realistic 30x pileup).

For training data (``models/build_training_data.sh``) it also makes false candidates the way real
ones arise: ``--paralog-fraction`` gives that share of windows 1..``--paralog-max-copies`` copies
of an unplaced paralog, the reference window diverged by ``--paralog-divergence`` substitutions
(and small indels), which is absent from the reference. Its reads map onto the window like reads
of a collapsed segmental duplication, and a permissive caller calls the paralog's differences as
low-fraction variants that are not in the truth. ``--exclude`` keeps a region (the real smoke set)
free of simulated sites, and ``--confident-bed`` writes the windows (less their thinly covered
edges) as the truth's confident regions. Without these options the output is the benchmark's,
byte for byte.
"""

from __future__ import annotations

import argparse
import random

import pysam

BASES = "ACGT"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--contig", default="20")
    parser.add_argument("--count", type=int, default=13000)
    parser.add_argument("--het-fraction", type=float, default=0.6)
    parser.add_argument("--indel-fraction", type=float, default=0.15)
    parser.add_argument("--flank", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--truth-vcf", required=True)
    parser.add_argument("--haplotype-prefix", required=True)
    parser.add_argument(
        "--exclude", action="append", default=[], metavar="START-END",
        help="1-based closed range of the contig kept free of sites; repeatable",
    )  # fmt: skip
    parser.add_argument("--paralog-fraction", type=float, default=0.0)
    parser.add_argument("--paralog-divergence", type=float, default=0.008)
    parser.add_argument("--paralog-indel-rate", type=float, default=0.0005)
    parser.add_argument("--paralog-max-copies", type=int, default=3)
    parser.add_argument("--paralog-fasta", help="FASTA of the paralog copies (with --paralog-*)")
    parser.add_argument("--confident-bed", help="BED of the windows less --bed-margin each side")
    parser.add_argument("--bed-margin", type=int, default=150)
    args = parser.parse_args()
    excluded = [tuple(int(x) for x in text.split("-")) for text in args.exclude]

    rng = random.Random(args.seed)
    fasta = pysam.FastaFile(args.reference)
    length = fasta.get_reference_length(args.contig)
    sequence = fasta.fetch(args.contig).upper()

    # Variant sites: uniformly over positions with unambiguous bases around them, at least 3 flanks
    # apart so that windows do not collide.
    chosen: list[int] = []
    taken: set[int] = set()
    spacing = 3 * args.flank
    while len(chosen) < args.count:
        pos0 = rng.randrange(args.flank, length - args.flank)
        if pos0 // spacing in taken:
            continue
        if any(lo - args.flank <= pos0 + 1 <= hi + args.flank for lo, hi in excluded):
            continue
        context = sequence[pos0 - 20 : pos0 + 20]
        if "N" in context:
            continue
        taken.add(pos0 // spacing)
        chosen.append(pos0)
    chosen.sort()

    records = []
    for pos0 in chosen:
        ref_base = sequence[pos0]
        roll = rng.random()
        if roll < args.indel_fraction / 2:  # insertion after the anchor base
            ref, alt = (
                ref_base,
                ref_base + "".join(rng.choice(BASES) for _ in range(rng.randint(1, 10))),
            )
        elif roll < args.indel_fraction:  # deletion of 1-10 bases after the anchor
            size = rng.randint(1, 10)
            ref, alt = sequence[pos0 : pos0 + size + 1], ref_base
        else:
            ref, alt = ref_base, rng.choice([b for b in BASES if b != ref_base])
        genotype = "0/1" if rng.random() < args.het_fraction else "1/1"
        haplotypes = (1, 0) if genotype == "0/1" and rng.random() < 0.5 else (0, 1)
        if genotype == "1/1":
            haplotypes = (1, 1)
        records.append((pos0, ref, alt, genotype, haplotypes))

    with open(args.truth_vcf, "w") as out:
        out.write("##fileformat=VCFv4.2\n")
        out.write(f"##contig=<ID={args.contig},length={length}>\n")
        out.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTRUTH\n")
        for pos0, ref, alt, genotype, _ in records:
            out.write(f"{args.contig}\t{pos0 + 1}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT\t{genotype}\n")

    for hap in (0, 1):
        with open(f"{args.haplotype_prefix}{hap + 1}.fa", "w") as out:
            for pos0, ref, alt, _, haplotypes in records:
                start, end = pos0 - args.flank, pos0 + args.flank
                window = sequence[start:end]
                if haplotypes[hap]:
                    offset = pos0 - start
                    window = window[:offset] + alt + window[offset + len(ref) :]
                # The window name keeps its reference start so reads can be traced back.
                out.write(f">{args.contig}_{start + 1}\n{window}\n")

    if args.confident_bed:
        with open(args.confident_bed, "w") as out:
            margin = args.flank - args.bed_margin
            for pos0, *_ in records:
                start, end = pos0 - margin, pos0 + margin
                out.write(f"{args.contig}\t{start}\t{end}\n")
    if args.paralog_fraction > 0:
        if not args.paralog_fasta:
            parser.error("--paralog-fraction needs --paralog-fasta")
        write_paralogs(args, sequence, [r[0] for r in records])


def diverged(window: str, rng: random.Random, substitution_rate: float, indel_rate: float) -> str:
    """The window with random substitutions and 1-3 bp insertions/deletions."""
    out, i = [], 0
    while i < len(window):
        roll = rng.random()
        if roll < substitution_rate:
            out.append(rng.choice([b for b in BASES if b != window[i]]))
        elif roll < substitution_rate + indel_rate / 2:
            out.append(window[i] + "".join(rng.choice(BASES) for _ in range(rng.randint(1, 3))))
        elif roll < substitution_rate + indel_rate:
            out.append(window[i])
            i += rng.randint(1, 3)
        else:
            out.append(window[i])
        i += 1
    return "".join(out)


def write_paralogs(args: argparse.Namespace, sequence: str, sites: list[int]) -> None:
    """Paralog copies for a seeded share of the windows (their own random stream, so the truth
    and haplotypes do not depend on the paralog options)."""
    rng = random.Random(args.seed + 1)
    with open(args.paralog_fasta, "w") as out:
        for pos0 in sites:
            if rng.random() >= args.paralog_fraction:
                continue
            start = pos0 - args.flank
            paralog = diverged(
                sequence[start : pos0 + args.flank], rng, args.paralog_divergence,
                args.paralog_indel_rate,
            )  # fmt: skip
            for copy in range(rng.randint(1, args.paralog_max_copies)):
                out.write(f">paralog_{args.contig}_{start + 1}_{copy + 1}\n{paralog}\n")


if __name__ == "__main__":
    main()
