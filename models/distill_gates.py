"""The gates of issue #17 for a compact_2d distilled from small_2d (models/distill_compact_2d.sh).

On the held-out real NA12878 smoke set: Pearson r of the student's CNN_2D against small_2d's
(>= 0.97), FILTER concordance after tranche filtering at GATK's defaults with the GIAB truth as
resource (>= 99%), and the GIAB margin, the mean score of GIAB-matching calls minus the mean of
the others (>= 7.5; small_2d's is 8.30). On the held-out simulated candidates: r >= 0.99.
Writes one JSON with every number and whether each gate passed; exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from cnnscore.io.files import sha256_file, write_atomically  # noqa: E402
from cnnscore.training.evaluation import evaluate  # noqa: E402

GATES = {"smoke_pearson_r": 0.97, "smoke_filter_concordance": 0.99, "smoke_giab_margin": 7.5,
         "heldout_pearson_r": 0.99}  # fmt: skip


def _records(path: str) -> list[list[str]]:
    with gzip.open(path, "rt") as handle:
        return [line.rstrip("\n").split("\t") for line in handle if not line.startswith("#")]


def _scores(path: str) -> dict[str, float]:
    found = {}
    for fields in _records(path):
        info = dict(item.split("=", 1) for item in fields[7].split(";") if "=" in item)
        found[":".join(fields[:2] + fields[3:5])] = float(info["CNN_2D"])
    return found


def _pearson(student: str, teacher: str) -> tuple[float, int]:
    ours, theirs = _scores(student), _scores(teacher)
    keys = sorted(ours.keys() & theirs.keys())
    if len(keys) != len(ours) or len(keys) != len(theirs):
        raise SystemExit(f"{student} and {teacher} hold different records")
    a, b = np.array([ours[k] for k in keys]), np.array([theirs[k] for k in keys])
    return float(np.corrcoef(a, b)[0, 1]), len(keys)


def _filter_concordance(student: str, teacher: str) -> float:
    ours, theirs = _records(student), _records(teacher)
    same = sum(a[6] == b[6] for a, b in zip(ours, theirs, strict=True))
    return same / len(ours)


def _margin(path: str, truth: str) -> float:
    result = evaluate(path, truth, None, "CNN_2D")["all"]
    return result["mean_score_true"] - result["mean_score_false"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", required=True, help="the recipe's output folder")
    parser.add_argument("--student", required=True, help="the student's prefix (.hd5, .json)")
    parser.add_argument("--smoke-truth-vcf", required=True)
    parser.add_argument("-O", "--output", required=True)
    args = parser.parse_args()
    path = lambda name: os.path.join(args.folder, name)  # noqa: E731

    smoke_r, smoke_n = _pearson(path("smoke.student.vcf.gz"), path("smoke.teacher.vcf.gz"))
    heldout_r, heldout_n = _pearson(path("heldout.student.vcf.gz"), path("heldout.teacher.vcf.gz"))
    measured = {
        "smoke_pearson_r": round(smoke_r, 4),
        "smoke_filter_concordance": round(
            _filter_concordance(
                path("smoke.student.filtered.vcf.gz"), path("smoke.teacher.filtered.vcf.gz")
            ),
            4,
        ),  # fmt: skip
        "smoke_giab_margin": round(_margin(path("smoke.student.vcf.gz"), args.smoke_truth_vcf), 3),
        "heldout_pearson_r": round(heldout_r, 4),
    }
    with open(args.student + ".report.json") as handle:
        report = json.load(handle)
    result = {
        "student_weights_sha256": sha256_file(args.student + ".hd5"),
        "records": {"smoke": smoke_n, "heldout": heldout_n},
        "teacher_giab_margin": round(
            _margin(path("smoke.teacher.vcf.gz"), args.smoke_truth_vcf), 3
        ),
        "measured": measured,
        "gates": GATES,
        "passed": {key: measured[key] >= GATES[key] for key in GATES},
        "training": {
            "tensors": report["training"]["tensors"],
            "epochs_run": report["training"]["epochs_run"],
            "best_epoch": report["training"]["best_epoch"],
            "seconds": report["training"]["seconds"],
            "validation_agreement": report["distillation"]["validation_agreement"],
        },
    }
    write_atomically(args.output, (json.dumps(result, indent=2) + "\n").encode())
    print(json.dumps(result, indent=2))
    sys.exit(0 if all(result["passed"].values()) else 1)


if __name__ == "__main__":
    main()
