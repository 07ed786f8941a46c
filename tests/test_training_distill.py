"""``cnnscore train --teacher-architecture``: a student trained on a teacher's outputs.

The teacher's targets must be exactly what the scorer gives for each stored tensor (depth buckets
recovered from the dense tensors included), the loss must be the teacher's entropy when the student
agrees and grow when it does not, and a run must record what taught it and how closely the student
follows on held-out tensors.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cnnscore.training.distill import (
    agreement,
    distillation_loss,
    read_rows,
    score_pairs,
    typed_targets,
)
from conftest import (
    MODELS,
    SMALL_2D_HD5,
    SMALL_2D_JSON,
    SMOKE,
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
    run_cli,
    write_random_weights,
)

WHOLE_REGION_BED = "chr20\t9999999\t10100000\n"


@pytest.fixture(scope="module")
def store_2d(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("distill")
    bed = folder / "whole.bed"
    bed.write_text(WHOLE_REGION_BED)
    store = folder / "t2d.zip"
    run_cli(
        "write-tensors", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM,
        "--truth-vcf", SMOKE / "giab_truth.vcf.gz", "--truth-bed", bed,
        "--tensor-type", "read_tensor", "--downsample-snps", "1", "--downsample-indels", "1",
        "--max-tensors", "40", "-O", store, check=True,
    )  # fmt: skip
    return store


def test_read_rows_finds_the_last_row_with_a_read():
    tensors = np.zeros((4, 128, 128, 15), np.float32)
    tensors[..., 5] = 1.0  # reference channel A on every row, read or not
    for index, rows in enumerate((0, 1, 45, 128)):
        tensors[index, :rows, 3:9, 2] = 0.9  # a G called over a few columns
        tensors[index, :rows, 3:9, 14] = 1.0  # mapping quality over the read
    tensors[2, 20, :, :5] = 0.0  # a row of the pileup may hold nothing in the window's middle...
    tensors[2, 20, 0, 4] = 1.0  # ...but some read channel is set somewhere
    assert read_rows(tensors).tolist() == [0, 1, 45, 128]


def test_loss_is_the_teachers_entropy_when_the_student_agrees():
    teacher = np.array([[0.7, 0.1, 0.15, 0.05], [0.001, 0.002, 0.99, 0.007]], np.float32)
    loss = distillation_loss(0.5)
    same = np.asarray(loss(teacher, teacher))
    entropy = -(teacher * np.log(teacher)).sum(axis=1)
    np.testing.assert_allclose(same, entropy, rtol=1e-5)
    other = np.array([[0.4, 0.1, 0.45, 0.05], [0.1, 0.002, 0.89, 0.008]], np.float32)
    assert (np.asarray(loss(teacher, other)) > same + 0.05).all()
    # the log-odds term: cross-entropy alone is nearly blind to 0.99 against 0.9999
    tail_teacher = np.array([[0.0001, 0.25, 0.9999 - 0.25, 0.0]], np.float32)
    tail_student = np.array([[0.01, 0.25, 0.99 - 0.25, 0.0]], np.float32)
    plain = distillation_loss(0.0)
    gap_plain = float(plain(tail_teacher, tail_student)[0] - plain(tail_teacher, tail_teacher)[0])
    gap_weighted = float(loss(tail_teacher, tail_student)[0] - loss(tail_teacher, tail_teacher)[0])
    assert gap_weighted > 10 * gap_plain


def test_the_other_types_log_odds_weigh_as_told():
    """--other-type-weight: with typed targets the log-odds term is a weighted mean of the
    tensor's own pair (weight 1) and the other type's; untyped targets weigh both alike."""
    teacher = np.array([[0.1, 0.01, 0.8, 0.09]] * 2, np.float32)  # SNP log 8, INDEL log 9
    student = np.array([[0.1, 0.05, 0.8, 0.05]] * 2, np.float32)  # SNP log 8, INDEL log 1
    cross_entropy = -(teacher * np.log(student)).sum(axis=1)
    typed = typed_targets(teacher, np.array([2, 3]))  # an SNP's tensor, an indel's
    assert typed.shape == (2, 5) and typed[:, 4].tolist() == [1.0, 0.0]
    gap = np.log(9.0) ** 2
    own_only = np.asarray(distillation_loss(1.0, 0.0)(typed, student))
    np.testing.assert_allclose(own_only, cross_entropy + [0.0, gap], rtol=1e-4)
    equal = np.asarray(distillation_loss(1.0, 1.0)(typed, student))
    np.testing.assert_allclose(equal, cross_entropy + gap / 2, rtol=1e-4)
    untyped = np.asarray(distillation_loss(1.0, 0.0)(teacher, student))
    np.testing.assert_allclose(untyped, equal, rtol=1e-5)
    tenth = np.asarray(distillation_loss(1.0, 0.1)(typed, student))
    np.testing.assert_allclose(tenth, cross_entropy + [0.1 * gap / 1.1, gap / 1.1], rtol=1e-4)


def test_agreement_reads_the_score_of_each_tensors_type():
    snp = np.array([[0.1, 0.3, 0.9, 0.7]], np.float32)
    indel = np.array([[0.1, 0.3, 0.9, 0.7]], np.float32)
    labels = np.array([2, 3])  # SNP, INDEL
    student = np.concatenate([snp, indel])
    result = agreement(student, student, labels)
    assert result["pearson_r"] == 1.0 and result["max_abs_delta"] == 0.0
    pairs = score_pairs(student)
    assert pairs[0, 0] == pytest.approx(np.log(1e-7 + 0.9 / (0.1 + 1e-7)))
    assert pairs[1, 1] == pytest.approx(np.log(1e-7 + 0.7 / (0.3 + 1e-7)))


def test_annotation_draws_cover_haplotypecallers_ranges_and_keep_the_tensors():
    from cnnscore.models.spec import DEFAULT_ANNOTATION_KEYS
    from cnnscore.training.batches import TensorIndex
    from cnnscore.training.distill import with_annotation_draws

    count = 4000
    own = np.tile(np.array([[60, 45, 0.8, 0, 5, 0, 0]], np.float32), (count, 1))  # bcftools-like
    index = TensorIndex(np.zeros(count, int), np.arange(count) % 3, np.arange(count),
                        np.full(count, 2), own)  # fmt: skip
    fed = with_annotation_draws(index, DEFAULT_ANNOTATION_KEYS, 2, seed=5)
    assert len(fed) == 3 * count
    np.testing.assert_array_equal(fed.row, np.tile(index.row, 3))
    np.testing.assert_array_equal(fed.annotations[:count], own)  # the originals come first
    drawn = dict(zip(DEFAULT_ANNOTATION_KEYS, fed.annotations[count:].T, strict=True))
    assert drawn["QD"].min() >= 0.5 and np.percentile(drawn["QD"], 90) > 30
    assert drawn["MQ"].max() <= 60 and np.percentile(drawn["MQ"], 10) < 55
    assert 0.3 < np.mean(drawn["MQRankSum"] == 0) < 0.4 and (drawn["FS"] > 10).mean() > 0.1
    again = with_annotation_draws(index, DEFAULT_ANNOTATION_KEYS, 2, seed=5)
    np.testing.assert_array_equal(again.annotations, fed.annotations)  # seeded


def test_teacher_targets_are_the_scorers_softmax(store_2d):
    """Every stored tensor's target equals tensorflow's dense small_2d softmax for it."""
    from cnnscore.backends import backend_class
    from cnnscore.models.architectures import load_network
    from cnnscore.models.keras2_weights import read_keras2_weights
    from cnnscore.models.spec import load_model_spec
    from cnnscore.training.batches import index_stores
    from cnnscore.training.distill import load_teacher, teacher_targets
    from cnnscore.training.tensor_store import TensorStore

    store = TensorStore(str(store_2d))
    try:
        index = index_stores([store])
        teacher, described = load_teacher(str(SMALL_2D_JSON), None, store, 2)
        targets = teacher_targets([store], index, teacher)
        assert described["weights_sha256"] and described["model_id"] == "nova_hiseq_mix_small_tf"
        assert len(teacher.counts) >= 2  # the buckets were recovered from the dense tensors
        shard = store.load(0, ("tensors", "annotations"))
        network, weights = load_network(
            load_model_spec(str(SMALL_2D_JSON)), read_keras2_weights(str(SMALL_2D_HD5)),
            str(SMALL_2D_HD5),
        )  # fmt: skip
        dense = backend_class("tensorflow")(network, weights, 8, 2)
        count = store.shard_counts[0]
        expected = dense.predict([shard.tensors[:count], shard.annotations[:count]])
        np.testing.assert_allclose(targets[:count], expected, atol=1e-5)
    finally:
        store.close()


def test_distilled_training_records_its_teacher_and_agreement(store_2d, tmp_path):
    prefix = tmp_path / "student"
    result = run_cli(
        "train", "--tensors", store_2d, "--model-kind", "compact-2d", "--epochs", "2",
        "--batch-size", "8", "--teacher-architecture", SMALL_2D_JSON, "--annotation-draws", "1",
        "--validation-fraction", "0.25", "--other-type-weight", "0.5", "-O", prefix, check=True,
    )  # fmt: skip
    assert "held-out scores against the teacher's: Pearson r" in result.stderr
    report = json.loads(Path(f"{prefix}.report.json").read_text())
    distillation = report["distillation"]
    assert distillation["teacher"]["model_id"] == "nova_hiseq_mix_small_tf"
    assert distillation["log_odds_weight"] == 0.1 and distillation["annotation_draws"] == 1
    assert distillation["other_type_weight"] == 0.5
    assert all(0.0 <= value <= 1.0 for value in report["history"]["accuracy"])
    assert report["training"]["fed_per_epoch"] == 2 * report["training"]["tensors"]
    agreed = distillation["validation_agreement"]
    assert agreed["tensors"] == report["validation"]["tensors"] > 0
    assert -1.0 <= agreed["pearson_r"] <= 1.0 and agreed["mean_abs_delta"] >= 0
    assert report["history"]["loss"] and "val_loss" in report["history"]
    exported = json.loads(Path(f"{prefix}.json").read_text())
    assert (
        exported["cnnscore_training"]["distilled_from"]["weights_sha256"]
        == (distillation["teacher"]["weights_sha256"])
    )
    scored = tmp_path / "scored.vcf"
    run_cli(
        "score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--architecture",
        f"{prefix}.json", "-L", "chr20:10000000-10002000", "-O", scored, check=True,
    )  # fmt: skip


def test_a_teacher_for_other_tensors_is_refused(store_2d, tmp_path):
    one_d = tmp_path / "1d.json"
    one_d.write_text((MODELS / "1d_cnn_mix_train_full_bn.json").read_text())
    write_random_weights(one_d, tmp_path / "1d.hd5", seed=1)
    result = run_cli(
        "train", "--tensors", store_2d, "--model-kind", "compact-2d", "--epochs", "1",
        "--teacher-architecture", one_d, "-O", tmp_path / "x",
    )  # fmt: skip
    assert result.returncode == 1
    assert "the teacher takes reference tensors, the store holds read_tensor" in result.stderr
    assert not (tmp_path / "x.hd5").exists()


def test_a_store_of_true_calls_only_is_distilled(tmp_path):
    """train refuses tensors without every label, but not when a teacher's outputs are the
    targets: models/distill_compact_2d.sh labels every candidate true (no truth needed)."""
    store = tmp_path / "true_only.zip"
    run_cli(
        "write-tensors", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM,
        "--truth-vcf", SMOKE / "giab_truth.vcf.gz", "--truth-bed", SMOKE / "giab_truth.bed",
        "--tensor-type", "read_tensor", "--downsample-snps", "1", "--downsample-indels", "1",
        "--max-tensors", "16", "-O", store, check=True,
    )  # fmt: skip
    common = ("train", "--tensors", store, "--model-kind", "compact-2d", "--epochs", "1")
    refused = run_cli(*common, "-O", tmp_path / "plain")
    assert refused.returncode == 1 and "the training tensors hold no NOT_SNP" in refused.stderr
    run_cli(*common, "--teacher-architecture", SMALL_2D_JSON, "-O", tmp_path / "s", check=True)
    assert Path(f"{tmp_path / 's'}.hd5").is_file()
