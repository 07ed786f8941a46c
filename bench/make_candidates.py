"""Give bcftools calls the GATK annotation names the CNN models read.

MQ and DP are bcftools' own, and so is FS from bcftools 1.16 on; QD = QUAL / DP; MQRankSum and
ReadPosRankSum take bcftools' Mann-Whitney Z scores MQBZ and RPBZ; SOR (and FS where bcftools has
none) are computed from DP4 (ref-fwd, ref-rev, alt-fwd, alt-rev) with GATK's formulas (Fisher's
exact test, phred-scaled; symmetric odds ratio with pseudocounts).
Output: VCF text on stdout, every record kept, its INFO extended.

``--gatk-scale`` (the training recipe, models/) makes QD and FS look like HaplotypeCaller's, which
is what the trained models will score. bcftools' QUAL saturates near 225, so QUAL / DP is ~4 where
HaplotypeCaller's QD is ~15 (het) to ~30 (hom-alt); HaplotypeCaller's QUAL grows with the alt
reads' base qualities, so QD is taken as 32 x the alt allele's read fraction (INFO/AD), and above
35 replaced as GATK's QualByDepth does, by 30 + N(0, 3) (seeded by the position). bcftools' own FS
is replaced by GATK's formula from DP4.
"""

from __future__ import annotations

import argparse
import math
import random
import sys

import pysam


def _log_hypergeometric(a: int, b: int, c: int, d: int) -> float:
    n = a + b + c + d
    return (
        math.lgamma(a + b + 1) + math.lgamma(c + d + 1) + math.lgamma(a + c + 1)
        + math.lgamma(b + d + 1) - math.lgamma(n + 1) - math.lgamma(a + 1) - math.lgamma(b + 1)
        - math.lgamma(c + 1) - math.lgamma(d + 1)
    )  # fmt: skip


def fisher_strand(ref_fwd: int, ref_rev: int, alt_fwd: int, alt_rev: int) -> float:
    """GATK FS: -10 log10 of the two-sided Fisher exact p-value (counts scaled to at most 200)."""
    table = [ref_fwd, ref_rev, alt_fwd, alt_rev]
    total = sum(table)
    if total > 200:
        table = [int(x * 200 / total) for x in table]
    a, b, c, d = table
    observed = _log_hypergeometric(a, b, c, d)
    row1, col1, n = a + b, a + c, a + b + c + d
    p = 0.0
    for x in range(max(0, row1 + col1 - n), min(row1, col1) + 1):
        lp = _log_hypergeometric(x, row1 - x, col1 - x, n - row1 - col1 + x)
        if lp <= observed + 1e-7:
            p += math.exp(lp)
    p = min(max(p, 1e-320), 1.0)
    return max(0.0, -10.0 * math.log10(p))


def strand_odds_ratio(ref_fwd: int, ref_rev: int, alt_fwd: int, alt_rev: int) -> float:
    """GATK SOR with +1 pseudocounts."""
    rf, rr, af, ar = (x + 1.0 for x in (ref_fwd, ref_rev, alt_fwd, alt_rev))
    ratio = (rf * ar) / (rr * af)
    symmetric = ratio + 1.0 / ratio
    return (
        math.log(symmetric)
        + math.log(min(rf, rr) / max(rf, rr))
        - math.log(min(af, ar) / max(af, ar))
    )


def gatk_like_qd(alt_depth: int, depth: int, pos: int) -> float:
    """HaplotypeCaller-scale QD from the alt read fraction (see the module docstring)."""
    qd = 32.0 * alt_depth / depth
    if qd > 35.0:
        qd = 30.0 + random.Random(pos).gauss(0.0, 3.0)
    return round(qd, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("calls", help="bcftools call output (VCF/BCF)")
    parser.add_argument("--gatk-scale", action="store_true", help="HaplotypeCaller-like QD and FS")
    args = parser.parse_args()
    with pysam.VariantFile(args.calls) as calls:
        header = calls.header
        for key, kind, text in [
            ("QD", "Float", "Variant quality by depth"),
            ("FS", "Float", "Phred-scaled Fisher exact strand bias p-value"),
            ("SOR", "Float", "Symmetric odds ratio strand bias"),
            ("MQRankSum", "Float", "bcftools MQBZ"),
            ("ReadPosRankSum", "Float", "bcftools RPBZ"),
        ]:
            if key not in header.info:  # bcftools >= 1.16 writes its own FS
                header.info.add(key, 1, kind, text)
        sys.stdout.write(str(header))
        for record in calls:
            info = record.info
            depth = info.get("DP") or 0
            allele_depths = info.get("AD") or ()
            if args.gatk_scale and sum(allele_depths):
                alt_depth = max(allele_depths[1:], default=0)
                info["QD"] = gatk_like_qd(alt_depth, sum(allele_depths), record.pos)
            elif record.qual is not None and depth:
                info["QD"] = round(record.qual / depth, 2)
            dp4 = info.get("DP4")
            if dp4:
                if "FS" not in info or args.gatk_scale:
                    info["FS"] = round(fisher_strand(*dp4), 3)
                info["SOR"] = round(strand_odds_ratio(*dp4), 3)
            if "MQBZ" in info:
                info["MQRankSum"] = round(info["MQBZ"], 3)
            if "RPBZ" in info:
                info["ReadPosRankSum"] = round(info["RPBZ"], 3)
            sys.stdout.write(str(record))


if __name__ == "__main__":
    main()
