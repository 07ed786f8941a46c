"""GATK's training labels for candidate variants: SNP, NOT_SNP, INDEL, NOT_INDEL.

A CNN learns "true versus false candidate" only where the truth is trusted, so GATK's
CNNVariantWriteTensors labels a candidate only when its POS lies in the truth's confident regions
(the truth BED): there it is SNP or INDEL (by htsjdk typing) when a truth record at the same start
carries one of its ALT alleles, NOT_SNP or NOT_INDEL otherwise. Candidates outside the BED, and
MNP, mixed, symbolic or ALT-less sites (no label fits them), are skipped. Allele matching is the one
FilterVariantTranches uses (:func:`~cnnscore.tranches.truth_resources.is_allele_in_list`), so
``AC>A`` matches a truth ``ACT>AT``. The label names are the model's output channels
(:data:`~cnnscore.models.spec.OUTPUT_LABELS`): a label's index is the softmax channel it trains.
"""

from __future__ import annotations

import os
from enum import Enum

from ..encode.variant_type import SiteType, site_type
from ..errors import InputError
from ..io.intervals import IntervalFilter, parse_intervals
from ..io.sequence_dictionary import check_same_reference, vcf_dictionary
from ..io.vcf_text import VcfReader, VcfRecord
from ..models.spec import OUTPUT_LABELS
from ..tranches.truth_resources import ResourceCursor, matches_truth

#: label name -> model output channel, in channel order
LABELS: dict[str, int] = dict(sorted(OUTPUT_LABELS.items(), key=lambda item: item[1]))
TRUE_LABELS = {SiteType.SNP: "SNP", SiteType.INDEL: "INDEL"}
FALSE_LABELS = {SiteType.SNP: "NOT_SNP", SiteType.INDEL: "NOT_INDEL"}


class Skip(Enum):
    """Why a candidate gets no label (the values are the manifest's keys)."""

    OUTSIDE_BED = "outside_truth_bed"
    OTHER_TYPE = "not_snp_or_indel"


def read_confident_regions(path: str, contig_lengths: dict[str, int]) -> IntervalFilter:
    """The truth BED as an interval filter; a missing, malformed or empty BED is an error."""
    if not os.path.isfile(path):
        raise InputError("truth BED does not exist", path=path)
    if not path.endswith(".bed"):
        raise InputError("truth BED must be a plain-text file named .bed", path=path)
    return IntervalFilter(parse_intervals([path], contig_lengths))  # an empty one is refused


class TruthLabeler:
    """Labels candidates against a truth VCF (bgzip + index) and its confident-region BED.

    Without a BED every candidate is labelled (how a scored call set is checked against a truth
    set, :mod:`cnnscore.training.evaluation`); ``role`` names the candidates' file in errors."""

    def __init__(
        self,
        truth_vcf: str,
        truth_bed: str | None,
        contig_lengths: dict[str, int],
        role: str = "candidates",
    ):
        if not os.path.isfile(truth_vcf):
            raise InputError("truth VCF does not exist", path=truth_vcf)
        self.confident = read_confident_regions(truth_bed, contig_lengths) if truth_bed else None
        self.truth = ResourceCursor(truth_vcf)
        self.role = role

    def close(self) -> None:
        self.truth.close()

    def check_reference(
        self, candidates: VcfReader, reference: tuple[dict[str, int], str] | None = None
    ) -> None:
        """The truth VCF must be on the candidates' reference, and on ``reference`` (its contig
        lengths and path) where given, as filter checks a resource and GATK any feature file: on
        another build it would label by position on another genome, and only a store without a
        true label would say so, after all the encoding. The reference is asked separately: a
        candidates' header without ##contig lines has no dictionary to compare."""
        truth = self.truth.sequence_dictionary()
        if reference is not None:
            lengths, path = reference
            check_same_reference(truth, self.truth.path, dict(lengths), path)
        own = vcf_dictionary(candidates.header_lines, candidates.index_contigs, candidates.path)
        check_same_reference(truth, self.truth.path, own, candidates.path)

    def label(self, record: VcfRecord) -> str | Skip:
        """The record's label name, or why it has none."""
        where = (record.chrom, record.pos, record.pos)
        if self.confident is not None and not self.confident.overlaps(*where):
            return Skip.OUTSIDE_BED
        kind = site_type(record.ref, record.alts)
        if kind not in TRUE_LABELS:
            return Skip.OTHER_TYPE
        return TRUE_LABELS[kind] if self._in_truth(record) else FALSE_LABELS[kind]

    def _in_truth(self, record: VcfRecord) -> bool:
        return matches_truth(record, [self.truth], self.role)
