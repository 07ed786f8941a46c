"""Evaluate the trained default models for their model card (models/train_default_models.sh).

Reads the scored VCFs the recipe wrote into --models (heldout.{1d,2d}.vcf.gz: simulated chr20 from
50 Mb on, never trained on; smoke.{1d,2d}.vcf.gz: the real NA12878 smoke set) and writes one JSON:
held-out ROC AUC of true vs false candidates (truth BED, GATK allele matching), the smoke set's
GIAB-true calls against the others (all 252 calls: GIAB's confident BED holds only 49 of them,
all true), and what each model was trained on (from its training report); for comparison, GATK's
small_2d on the same smoke calls (smoke.gatk_small_2d.vcf.gz).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from cnnscore.io.files import sha256_file, write_atomically  # noqa: E402
from cnnscore.training.evaluation import evaluate  # noqa: E402

KEYS = {"1d": "CNN_1D", "2d": "CNN_2D"}


def _training_summary(models: str, kind: str) -> dict:
    with open(os.path.join(models, f"cnnscore_compact_{kind}.report.json")) as handle:
        report = json.load(handle)
    return {
        "parameters": report["model"]["parameters"],
        "training_counts": report["data"]["training_counts"],
        "validation_counts": report["data"]["validation_counts"],
        "epochs_run": report["training"]["epochs_run"],
        "best_epoch": report["training"]["best_epoch"],
        "training_seconds": report["training"]["seconds"],
        "validation_auc": {k: v["auc"] for k, v in report["validation"]["roc"].items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", required=True, help="the recipe's output folder")
    parser.add_argument("--truth-vcf", required=True)
    parser.add_argument("--truth-bed", required=True)
    parser.add_argument("--smoke-truth-vcf", required=True)
    parser.add_argument("-O", "--output", required=True)
    args = parser.parse_args()

    result = {}
    for kind, key in KEYS.items():
        weights = os.path.join(args.models, f"cnnscore_compact_{kind}.hd5")
        heldout = os.path.join(args.models, f"heldout.{kind}.vcf.gz")
        smoke = os.path.join(args.models, f"smoke.{kind}.vcf.gz")
        result[f"cnnscore_compact_{kind}"] = {
            "weights_sha256": sha256_file(weights),
            "training": _training_summary(args.models, kind),
            "heldout_simulated_chr20_50mb_on": evaluate(
                heldout, args.truth_vcf, args.truth_bed, key
            ),
            "smoke_na12878_giab_all_calls": evaluate(smoke, args.smoke_truth_vcf, None, key),
        }
    gatk = os.path.join(args.models, "smoke.gatk_small_2d.vcf.gz")
    result["gatk_small_2d"] = {
        "smoke_na12878_giab_all_calls": evaluate(gatk, args.smoke_truth_vcf, None, "CNN_2D")
    }
    text = json.dumps(result, indent=2) + "\n"
    write_atomically(args.output, text.encode())
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
