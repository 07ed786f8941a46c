"""The public-data recipe behind the shipped models (models/): its simulator makes false
candidates from unplaced paralogs without changing the truth, and the whole recipe runs, small,
from Debian's vt-examples chromosome 20 through training and evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pysam

from conftest import REPO, SMOKE_REF, SMOKE_VCF, smoke_slice_fasta

SIMULATE = REPO / "bench" / "simulate_variants.py"


def _simulate(folder, reference, *extra: str) -> None:
    folder.mkdir()
    subprocess.run(
        [sys.executable, str(SIMULATE), "--reference", str(reference),
         "--contig", "slice", "--count", "3", "--truth-vcf", str(folder / "truth.vcf"),
         "--haplotype-prefix", str(folder / "hap"), *extra],
        check=True, capture_output=True, text=True,
    )  # fmt: skip


def test_paralogs_are_diverged_copies_and_leave_the_truth_alone(tmp_path):
    fasta = smoke_slice_fasta(tmp_path)
    _simulate(tmp_path / "plain", fasta)
    _simulate(
        tmp_path / "paralogs", fasta, "--paralog-fraction", "1", "--paralog-divergence", "0.02",
        "--paralog-indel-rate", "0", "--paralog-fasta", str(tmp_path / "paralogs" / "p.fa"),
        "--confident-bed", str(tmp_path / "paralogs" / "c.bed"),
    )  # fmt: skip
    for name in ("truth.vcf", "hap1.fa", "hap2.fa"):
        assert (tmp_path / "plain" / name).read_text() == (tmp_path / "paralogs" / name).read_text()
    reference = pysam.FastaFile(str(fasta))
    bed = [line.split() for line in (tmp_path / "paralogs" / "c.bed").read_text().splitlines()]
    assert len(bed) == 3 and all(int(end) - int(start) == 700 for _, start, end in bed)
    copies: dict[int, list[str]] = {}
    with pysam.FastxFile(str(tmp_path / "paralogs" / "p.fa")) as paralogs:
        for entry in paralogs:
            _, contig, start, copy = entry.name.split("_")
            assert contig == "slice"
            copies.setdefault(int(start), []).append(entry.sequence)
    assert len(copies) == 3
    for start, sequences in copies.items():
        assert 1 <= len(sequences) <= 3 and len(set(sequences)) == 1  # copies of one paralog
        window = reference.fetch("slice", start - 1, start + 999).upper()
        differences = sum(a != b for a, b in zip(window, sequences[0], strict=True))
        assert 5 <= differences <= 40  # 2% of 1,000 bases, binomial


def test_recipe_builds_trains_and_evaluates(tmp_path):
    """models/build_training_data.sh and models/train_default_models.sh at a tiny scale: the
    reference comes from Debian's vt-examples, reads from ART, candidates from bcftools; the
    trained models score the held-out region and the smoke set; evaluation.json says how well."""
    env = dict(
        os.environ, CNNSCORE_TRAIN_CACHE=str(tmp_path / "train"), VARIANTS="150",
        CNNSCORE_REFERENCE_DIR=os.environ.get("CNNSCORE_REFERENCE_DIR", str(tmp_path / "ref")),
        EPOCHS="1", VENV_BIN=os.path.dirname(sys.executable),
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
    # the paralog stage's data stands in as the same files under another name: the same folder
    # twice would make two identical stores, which train refuses (same_tensors)
    (tmp_path / "paralogs").symlink_to(tmp_path / "train")
    distill_env = dict(
        env, DISTILL_DATA=str(tmp_path / "train"), DISTILL_READS="reads.bam",
        DISTILL_OUT=str(tmp_path / "distill"), MAX_TENSORS="60", ANNOTATION_DRAWS="1",
        COSINE_DECAY="1", DROPOUT="0", STAGE2_EPOCHS="1", STAGE3_EPOCHS="1", STAGE4_EPOCHS="1",
        DISTILL_PARALOG_DATA=str(tmp_path / "paralogs"),
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
    # stage 1 from random weights on both sources; stage 2 from stage 1's, the shifted HG002
    # centres added; stage 3 from stage 2's, the shifted simulated ones added, the log-odds term
    # on each tensor's own type only; stage 4 from stage 3's, the paralog set added (here the
    # same tiny set again); stages 2 to 4 (and here 1) along a cosine
    folder = tmp_path / "distill"
    stages = [
        json.loads((folder / f"cnnscore_compact_2d_distilled{stage}.report.json").read_text())
        for stage in (".stage1", ".stage2", ".stage3", "")
    ]
    for number, report in enumerate(stages, start=1):
        assert [s["tensors"] > 0 for s in report["data"]["stores"]] == [True] * (number + 1)
        initial = report["training"]["initial_weights"]
        if number == 1:
            assert initial is None
        else:
            assert initial["sha256"] == stages[number - 2]["outputs"]["weights"]["sha256"]
        assert report["training"]["fed_per_epoch"] == 2 * report["training"]["tensors"]
        assert report["options"]["cosine_decay"] is True and report["options"]["dropout"] is False
        assert report["history"]["learning_rate"] == [0.0]  # one epoch: decayed to 0 at its end
        assert report["distillation"]["other_type_weight"] == (0.0 if number >= 3 else 1.0)
    assert stages[-1]["data"]["stores"][-1]["path"].endswith("tensors_paralogs")


def test_shifted_centres_move_every_candidate_and_keep_its_type(tmp_path):
    """models/shifted_centres.py on the smoke set's 252 calls: every moved record has the
    reference's bases at its new position, an ALT of its source's type (SNP, deletion,
    insertion), its source's INFO, and lies on no candidate's own position."""
    command = [sys.executable, str(REPO / "models" / "shifted_centres.py"), str(SMOKE_VCF),
               str(SMOKE_REF), "--offsets=-5,5"]  # fmt: skip
    done, again = (subprocess.run(command, check=True, capture_output=True, text=True)
                   for _ in range(2))  # fmt: skip
    (tmp_path / "moved.vcf").write_text(done.stdout)
    sources = list(pysam.VariantFile(str(SMOKE_VCF)))
    own = {record.pos for record in sources}
    by_info = {(str(r.info.get("QD")), str(r.info.get("FS")), r.info.get("DP")) for r in sources}
    reference = pysam.FastaFile(str(SMOKE_REF))
    moved = list(pysam.VariantFile(str(tmp_path / "moved.vcf")))
    assert 400 < len(moved) <= 2 * len(sources)
    kinds = {"snp": 0, "deletion": 0, "insertion": 0}
    for record in moved:
        assert record.pos not in own
        assert (
            record.ref
            == reference.fetch(
                record.chrom, record.pos - 1, record.pos - 1 + len(record.ref)
            ).upper()
        )
        (alt,) = record.alts
        if len(alt) == len(record.ref) == 1:
            kinds["snp"] += 1
            assert alt != record.ref
        elif len(alt) < len(record.ref):
            kinds["deletion"] += 1
            assert alt == record.ref[0]
        else:
            kinds["insertion"] += 1
            assert alt[0] == record.ref
        key = (str(record.info.get("QD")), str(record.info.get("FS")), record.info.get("DP"))
        assert key in by_info
    assert all(count > 0 for count in kinds.values()), kinds
    positions = [record.pos for record in moved]
    assert positions == sorted(positions)
    assert again.stdout == done.stdout
    for bad, message in ((["--offsets=1,x"], "not comma-separated integers"),
                         (["--offsets=0"], "would repeat every candidate"),
                         ([], "No such file")):  # fmt: skip
        vcf = str(tmp_path / "missing.vcf.gz") if not bad else str(SMOKE_VCF)
        failed = subprocess.run([*command[:2], vcf, str(SMOKE_REF), *bad], capture_output=True,
                                text=True)  # fmt: skip
        assert failed.returncode != 0 and failed.stdout == "", failed
        assert message in failed.stderr and "Traceback" not in failed.stderr, failed.stderr
