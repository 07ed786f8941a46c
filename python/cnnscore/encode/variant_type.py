"""htsjdk's variant typing, which decides whether a site gets the SNP, INDEL or max score.

htsjdk types each ALT against REF (symbolic, same length 1 = SNP, same length > 1 = MNP, otherwise
INDEL) and calls the site MIXED when the ALTs disagree. GATK sends ``SNP`` for ``isSNP()``,
``INDEL`` for ``isIndel()`` and ``OTHER`` for everything else (MNP, MIXED, SYMBOLIC, NO_VARIATION).
"""

from __future__ import annotations

from enum import Enum

# htsjdk VariantContext.MAX_ALLELE_SIZE_FOR_NON_SV: longer insertions count as structural.
MAX_ALLELE_SIZE_FOR_NON_SV = 150


class SiteType(Enum):
    NO_VARIATION = "NO_VARIATION"
    SNP = "SNP"
    MNP = "MNP"
    INDEL = "INDEL"
    SYMBOLIC = "SYMBOLIC"
    MIXED = "MIXED"


def is_symbolic_allele(allele: str) -> bool:
    """htsjdk ``Allele.wouldBeSymbolicAllele``: <X>, breakends, single breakends; never ``*``."""
    if len(allele) <= 1:
        return False
    return (
        allele.startswith("<")
        or allele.endswith(">")
        or "[" in allele
        or "]" in allele
        or allele.startswith(".")
        or allele.endswith(".")
    )


def _allele_type(ref: str, alt: str) -> SiteType:
    if is_symbolic_allele(alt):
        return SiteType.SYMBOLIC
    if len(ref) == len(alt):
        return SiteType.SNP if len(alt) == 1 else SiteType.MNP
    return SiteType.INDEL


def site_type(ref: str, alts: list[str]) -> SiteType:
    """htsjdk ``VariantContext.getType()`` for a REF and its ALT alleles."""
    site: SiteType | None = None
    for alt in alts:
        allele = _allele_type(ref, alt)
        if site is None:
            site = allele
        elif allele != site:
            return SiteType.MIXED
    return site or SiteType.NO_VARIATION


def tensor_type_label(site: SiteType) -> str:
    """The TYPE field GATK's Java side sends to Python: SNP, INDEL or OTHER."""
    if site is SiteType.SNP:
        return "SNP"
    if site is SiteType.INDEL:
        return "INDEL"
    return "OTHER"


def is_symbolic_or_sv(ref: str, alts: list[str]) -> bool:
    """htsjdk ``isSymbolicOrSV()``: a SYMBOLIC site, or an INDEL site with an insertion > 150 bp."""
    site = site_type(ref, alts)
    if site is SiteType.SYMBOLIC:
        return True
    if site is SiteType.INDEL:
        return any(len(alt) - len(ref) > MAX_ALLELE_SIZE_FOR_NON_SV for alt in alts)
    return False
