"""htsjdk's variant typing, which decides whether a site gets the SNP, INDEL or max score.

htsjdk types each ALT against REF (symbolic, same length 1 = SNP, same length > 1 = MNP, otherwise
INDEL) and calls the site MIXED when the ALTs disagree. GATK sends ``SNP`` for ``isSNP()``,
``INDEL`` for ``isIndel()`` and ``OTHER`` for everything else (MNP, MIXED, SYMBOLIC, NO_VARIATION).
"""

from __future__ import annotations

from enum import Enum

# htsjdk VariantContext.MAX_ALLELE_SIZE_FOR_NON_SV: longer insertions count as structural.
MAX_ALLELE_SIZE_FOR_NON_SV = 150
NO_CALL = "."
_BASES = frozenset("ACGTNacgtn")


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
    """htsjdk ``VariantContext.getType()`` for a REF and its ALT alleles. A ``.`` in an ALT list
    (``CA,.``) is a no-call, which htsjdk's reader drops from the alleles."""
    site: SiteType | None = None
    for alt in alts:
        if alt == NO_CALL:
            continue
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


def allele_problem(ref: str, alts: list[str]) -> str | None:
    """Why htsjdk's VCF reader stops GATK on these alleles (AbstractVCFCodec.checkAllele and
    VariantContext's duplicate check), or None. cnnscore's own reading would score such a record,
    so that GATK's stop is not turned into a silent score: bases other than A, C, G, T and N
    (IUPAC codes, ``-``), an empty ALT in a list (``C,,A``), a symbolic REF, and an allele given
    twice (an ALT equal to REF, or to another ALT)."""
    if is_symbolic_allele(ref):
        return f"REF {ref} is a symbolic allele, which a reference allele cannot be"
    if not set(ref) <= _BASES:
        return f"REF {ref} has a base other than A, C, G, T and N"
    seen = {ref.upper()}
    for alt in alts:
        if not alt:
            return "ALT has an empty allele in its list"
        if alt == NO_CALL:
            continue
        symbolic = is_symbolic_allele(alt)
        if not symbolic and alt != "*" and not set(alt) <= _BASES:
            return f"ALT {alt} has a base other than A, C, G, T and N"
        allele = alt if symbolic else alt.upper()
        if allele in seen:
            return f"allele {alt} is given twice (REF and ALT, or two ALTs)"
        seen.add(allele)
    return None
