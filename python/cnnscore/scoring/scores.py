"""From softmax probabilities to GATK's CNN score text."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..models.spec import OUTPUT_LABELS

EPSILON = 1e-7


def log_odds(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 (snp, indel) ln-odds: ln(eps + p[SNP] / (p[NOT_SNP] + eps)), likewise for INDEL.

    The arithmetic stays in float32 (the Python-scalar epsilon does not promote), as in GATK.
    """
    p = np.asarray(probabilities, dtype=np.float32)
    snp = np.log(EPSILON + p[:, OUTPUT_LABELS["SNP"]] / (p[:, OUTPUT_LABELS["NOT_SNP"]] + EPSILON))
    indel = np.log(
        EPSILON + p[:, OUTPUT_LABELS["INDEL"]] / (p[:, OUTPUT_LABELS["NOT_INDEL"]] + EPSILON)
    )
    return snp, indel


def site_scores(probabilities: np.ndarray, type_labels: list[str]) -> list[np.float32]:
    """One score per site: SNP -> snp, INDEL -> indel, anything else -> max(snp, indel)."""
    snp, indel = log_odds(probabilities)
    scores = []
    for index, label in enumerate(type_labels):
        if label == "SNP":
            scores.append(snp[index])
        elif label == "INDEL":
            scores.append(indel[index])
        else:
            scores.append(max(snp[index], indel[index]))
    return scores


def format_score(score: np.float32) -> str:
    """Python's '{0:.3f}' of the float32 value, correctly rounded; may be '-0.000'."""
    return f"{float(score):.3f}"


def refuse_non_finite(scores: list[np.float32], records: list, weights_path: str) -> None:
    """A NaN or infinite score is never written: it comes from weights that are NaN (a training
    run that diverged) or from an overflow in the network, and a VCF holding `nan` passes every
    later stage but FilterVariantTranches. The annotations were already refused if infinite."""
    finite = np.isfinite(np.asarray(scores, dtype=np.float32))
    if not finite.all():
        first = int(np.argmin(finite))
        raise InputError(
            f"the model scores it {float(scores[first])}: are its weights finite (not from a "
            "training run that diverged)?",
            path=weights_path,
            record=records[first].label,
        )
