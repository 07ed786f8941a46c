"""The public-data recipe behind the shipped models (models/): its simulator makes false
candidates from unplaced paralogs without changing the truth, and the whole recipe runs, small,
from Debian's vt-examples chromosome 20 through training and evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pysam

from conftest import DEMO, REPO, SHARED

SIMULATE = REPO / "bench" / "simulate_variants.py"


def _simulate(folder, *extra: str) -> None:
    folder.mkdir()
    subprocess.run(
        [sys.executable, str(SIMULATE), "--reference", str(DEMO / "demo20.fa"),
         "--contig", "demo20", "--count", "3", "--truth-vcf", str(folder / "truth.vcf"),
         "--haplotype-prefix", str(folder / "hap"), *extra],
        check=True, capture_output=True, text=True,
    )  # fmt: skip


def test_paralogs_are_diverged_copies_and_leave_the_truth_alone(tmp_path):
    _simulate(tmp_path / "plain")
    _simulate(
        tmp_path / "paralogs", "--paralog-fraction", "1", "--paralog-divergence", "0.02",
        "--paralog-indel-rate", "0", "--paralog-fasta", str(tmp_path / "paralogs" / "p.fa"),
        "--confident-bed", str(tmp_path / "paralogs" / "c.bed"),
    )  # fmt: skip
    for name in ("truth.vcf", "hap1.fa", "hap2.fa"):
        assert (tmp_path / "plain" / name).read_text() == (tmp_path / "paralogs" / name).read_text()
    reference = pysam.FastaFile(str(DEMO / "demo20.fa"))
    bed = [line.split() for line in (tmp_path / "paralogs" / "c.bed").read_text().splitlines()]
    assert len(bed) == 3 and all(int(end) - int(start) == 700 for _, start, end in bed)
    copies: dict[int, list[str]] = {}
    with pysam.FastxFile(str(tmp_path / "paralogs" / "p.fa")) as paralogs:
        for entry in paralogs:
            _, contig, start, copy = entry.name.split("_")
            assert contig == "demo20"
            copies.setdefault(int(start), []).append(entry.sequence)
    assert len(copies) == 3
    for start, sequences in copies.items():
        assert 1 <= len(sequences) <= 3 and len(set(sequences)) == 1  # copies of one paralog
        window = reference.fetch("demo20", start - 1, start + 999).upper()
        differences = sum(a != b for a, b in zip(window, sequences[0], strict=True))
        assert 5 <= differences <= 40  # 2% of 1,000 bases, binomial


def test_recipe_builds_trains_and_evaluates(tmp_path):
    """models/build_training_data.sh and models/train_default_models.sh at a tiny scale: the
    reference comes from Debian's vt-examples, reads from ART, candidates from bcftools; the
    trained models score the held-out region and the smoke set; evaluation.json says how well."""
    env = dict(
        os.environ, CNNSCORE_TRAIN_CACHE=str(tmp_path / "train"), VARIANTS="150",
        CNNSCORE_REFERENCE_DIR=os.environ.get("CNNSCORE_REFERENCE_DIR", str(tmp_path / "ref")),
        EPOCHS="1", CNNSCORE_SHARED=str(SHARED), VENV_BIN=os.path.dirname(sys.executable),
        PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="3",
    )  # fmt: skip
    for script in ("build_training_data.sh", "train_default_models.sh"):
        done = subprocess.run(
            [str(REPO / "models" / script)], env=env, capture_output=True, text=True, timeout=1800
        )
        assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "train" / "models"
    evaluation = json.loads((out / "evaluation.json").read_text())
    for kind in ("1d", "2d"):
        entry = evaluation[f"cnnscore_compact_{kind}"]
        heldout = entry["heldout_simulated_chr20_50mb_on"]["all"]
        assert heldout["true"] > 5 and heldout["false"] > 0, heldout
        assert 0.0 <= heldout["roc_auc"] <= 1.0
        smoke = entry["smoke_na12878_giab_all_calls"]["all"]
        assert (smoke["true"], smoke["false"]) == (220, 31)  # of 252: one is neither SNP nor indel
        assert entry["training"]["epochs_run"] == 1
    gatk = evaluation["gatk_small_2d"]["smoke_na12878_giab_all_calls"]["all"]
    assert gatk["mean_score_true"] > gatk["mean_score_false"]

    # the distillation recipe on the same tiny data: simulated and HG002 tensors, annotation
    # draws, the teacher's targets, one epoch, both models scored, the gates measured and judged
    distill_env = dict(
        env, DISTILL_DATA=str(tmp_path / "train"), DISTILL_READS="reads.bam",
        DISTILL_OUT=str(tmp_path / "distill"), MAX_TENSORS="60", ANNOTATION_DRAWS="1",
        COSINE_DECAY="1", DROPOUT="0",
    )  # fmt: skip
    done = subprocess.run(
        [str(REPO / "models" / "distill_compact_2d.sh")], env=distill_env, capture_output=True,
        text=True, timeout=1800,
    )  # fmt: skip
    gates = json.loads((tmp_path / "distill" / "gates.json").read_text())
    assert done.returncode == (0 if all(gates["passed"].values()) else 1), done.stderr[-3000:]
    assert gates["records"]["smoke"] == 252 and gates["records"]["heldout"] > 0
    assert abs(gates["teacher_giab_margin"] - 8.29) < 0.01  # small_2d on the smoke set, as ever
    for key, threshold in gates["gates"].items():
        assert gates["passed"][key] == (gates["measured"][key] >= threshold)
    training = gates["training"]
    assert training["epochs_run"] == 1 and training["validation_agreement"]["tensors"] > 0
    report = json.loads((tmp_path / "distill" / "cnnscore_compact_2d_distilled.report.json")
                        .read_text())  # fmt: skip
    assert [s["tensors"] > 0 for s in report["data"]["stores"]] == [True, True]  # both sources
    assert report["training"]["fed_per_epoch"] == 2 * report["training"]["tensors"]
    assert report["options"]["cosine_decay"] is True and report["options"]["dropout"] is False
    assert report["history"]["learning_rate"] == [0.0]  # one epoch: decayed to 0 at its end
