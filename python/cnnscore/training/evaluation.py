"""How well a scored VCF separates true from false candidates, against a truth VCF.

This is what the shipped models' card reports (``models/train_default_models.sh``): ROC AUC of
the score over candidates labelled as ``cnnscore write-tensors`` labels them (inside the truth
BED; GATK's allele matching), per variant type and overall, and the mean score of true and false
candidates. Without a BED every record counts and "true" means "matches the truth VCF", which is
how the real smoke set's GIAB check reads ("GIAB-true calls against the others").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..encode.variant_type import SiteType
from ..errors import InputError
from ..io.vcf_text import VcfReader
from .labels import FALSE_LABELS, TRUE_LABELS, Skip, TruthLabeler
from .report import roc_auc, roc_curve

_TYPE_NAMES = {SiteType.SNP: "snp", SiteType.INDEL: "indel"}
#: label -> variant type name, for the true and the false labels
_TYPE_OF_LABEL = {
    label: _TYPE_NAMES[kind]
    for labels in (TRUE_LABELS, FALSE_LABELS)
    for kind, label in labels.items()
}


def labelled_scores(
    scored_vcf: str, truth_vcf: str, truth_bed: str | None, info_key: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(score, is true, variant type) of every SNP/indel record in the BED (all without one),
    labelled as write-tensors labels candidates."""
    reader = VcfReader(scored_vcf)
    labeler = TruthLabeler(truth_vcf, truth_bed, reader.contig_lengths, role="scored VCF")
    true_labels = set(TRUE_LABELS.values())
    scores, truths, kinds = [], [], []
    try:
        labeler.check_reference(reader)
        for record in reader.records():
            label = labeler.label(record)
            if isinstance(label, Skip):
                continue
            value = record.info_values().get(info_key)
            if value is None:
                raise InputError(f"no {info_key} score", path=scored_vcf, record=record.label)
            scores.append(float(value))
            truths.append(label in true_labels)
            kinds.append(_TYPE_OF_LABEL[label])
    finally:
        labeler.close()
    return np.array(scores, dtype=np.float64), np.array(truths, dtype=bool), kinds


def separation(scores: np.ndarray, truths: np.ndarray) -> dict[str, Any]:
    """Counts, ROC AUC (None when a class is empty) and mean scores of true and false records."""
    true_count, false_count = int(truths.sum()), int((~truths).sum())
    auc = roc_auc(*roc_curve(scores, truths)) if true_count and false_count else None
    return {
        "true": true_count,
        "false": false_count,
        "roc_auc": None if auc is None else round(auc, 4),
        "mean_score_true": round(float(scores[truths].mean()), 3) if true_count else None,
        "mean_score_false": round(float(scores[~truths].mean()), 3) if false_count else None,
    }


def evaluate(
    scored_vcf: str, truth_vcf: str, truth_bed: str | None, info_key: str
) -> dict[str, Any]:
    """``separation`` overall and per variant type."""
    scores, truths, kinds = labelled_scores(scored_vcf, truth_vcf, truth_bed, info_key)
    by_kind = np.array(kinds)
    result = {"all": separation(scores, truths)}
    for kind in _TYPE_NAMES.values():
        mask = by_kind == kind
        result[kind] = separation(scores[mask], truths[mask])
    return result
