"""``cnnscore write-tensors`` and ``cnnscore train`` on the real smoke set (NA12878 chr20, 252
HaplotypeCaller calls, GIAB truth), through the CLI as a user runs them.

The GIAB BED of the smoke set covers only its first 10 kb, where every call is true; a BED over the
whole 100 kb region (written here) gives the false candidates (NOT_SNP / NOT_INDEL) that training
and ROC curves need.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import shutil
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pysam
import pytest

from conftest import (
    BUCKET,
    SMALL_2D_HD5,
    SMALL_2D_JSON,
    SMOKE,
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
    data_lines,
    gs,
    header_lines,
    info_scores,
    run_cli,
    write_random_weights,
)

TRUTH_VCF = SMOKE / "giab_truth.vcf.gz"
TRUTH_BED = SMOKE / "giab_truth.bed"
WHOLE_REGION = ("chr20", 9_999_999, 10_100_000)  # BED: 0-based start, end exclusive
CHANNELS = {"NOT_SNP": 0, "NOT_INDEL": 1, "SNP": 2, "INDEL": 3}  # GATK's output_labels
KEEP_ALL = ["--downsample-snps", "1", "--downsample-indels", "1"]


# ------------------------------------------------------------------------------------ helpers


def write_bed(path: Path, *rows: tuple[str, int, int]) -> Path:
    path.write_text("".join(f"{c}\t{s}\t{e}\n" for c, s, e in rows))
    return path


def read_bed(path: Path) -> list[tuple[str, int, int]]:
    return [(c, int(s), int(e)) for c, s, e in (line.split()[:3] for line in path.open())]


def _trimmed(ref: str, alt: str) -> tuple[str, str]:
    """REF/ALT without their common trailing bases (AC>A and ACT>AT are one deletion)."""
    ref, alt = ref.upper(), alt.upper()
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    return ref, alt


def expected_labels(bed: list[tuple[str, int, int]]) -> dict[str, str]:
    """Variant text -> label, computed here from pysam records, independently of cnnscore: in the
    BED by POS, SNP if REF and every ALT are one base, INDEL if every ALT changes the length,
    true if a truth record at the same POS has an ALT equal after trimming shared suffixes."""
    truth = defaultdict(set)
    for record in pysam.VariantFile(str(TRUTH_VCF)):
        truth[(record.chrom, record.pos)] |= {_trimmed(record.ref, a) for a in record.alts}
    labels = {}
    for record in pysam.VariantFile(str(SMOKE_VCF)):
        if not any(c == record.chrom and s < record.pos <= e for c, s, e in bed):
            continue
        if len(record.ref) == 1 and all(len(a) == 1 for a in record.alts):
            kind = "SNP"
        elif all(len(a) != len(record.ref) for a in record.alts):
            kind = "INDEL"
        else:
            continue
        true = any(
            _trimmed(record.ref, a) in truth[(record.chrom, record.pos)] for a in record.alts
        )
        text = f"{record.chrom}:{record.pos} {record.ref.upper()}>{','.join(record.alts)}"
        labels[text] = kind if true else f"NOT_{kind}"
    return labels


def shifted(line: str) -> str:
    columns = line.split("\t")
    columns[1] = str(int(columns[1]) + 1)
    return "\t".join(columns)


def read_store(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The manifest and all shards concatenated, read with zipfile/numpy only (the documented
    format, not cnnscore's reader)."""

    def member(name: str) -> bytes:
        if path.is_dir():
            return (path / name).read_bytes()
        with zipfile.ZipFile(path) as archive:
            return archive.read(name)

    manifest = json.loads(member("manifest.json"))
    parts = defaultdict(list)
    for shard in manifest["shards"]:
        with np.load(io.BytesIO(member(shard["file"])), allow_pickle=False) as npz:
            for key in ("tensors", "annotations", "labels", "variants"):
                parts[key].append(npz[key])
    return manifest, {key: np.concatenate(value) for key, value in parts.items()}


def stored_labels(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    names = {index: name for name, index in CHANNELS.items()}
    return {
        str(v): names[int(i)] for v, i in zip(arrays["variants"], arrays["labels"], strict=True)
    }


def write_tensors(output: Path, *extra, bed: Path = TRUTH_BED, check: bool = True):
    return run_cli(
        "write-tensors", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--truth-vcf", TRUTH_VCF,
        "--truth-bed", bed, "-O", output, *extra, check=check,
    )  # fmt: skip


def scorer_tensors(tensor_type: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """What ``cnnscore score`` encodes for every record: its own configuration (GATK's single
    read-downsampling stream over the whole file, in order)."""
    from cnnscore.io.vcf_text import VcfReader
    from cnnscore.models.spec import DEFAULT_ANNOTATION_KEYS
    from cnnscore.scoring.pipeline import EncoderConfig, encoded_chunks

    config = EncoderConfig(
        vcf_path=str(SMOKE_VCF), reference_path=str(SMOKE_REF), reads_paths=(str(SMOKE_BAM),),
        tensor_type=tensor_type, annotation_keys=DEFAULT_ANNOTATION_KEYS, window_size=128,
        read_limit=128, reservoir_scope="run",
    )  # fmt: skip
    records = list(VcfReader(str(SMOKE_VCF)).records())
    chunks = (records[i : i + 64] for i in range(0, len(records), 64))
    encoded = {}
    for chunk, result in encoded_chunks(chunks, config, workers=0):
        tensors = result.tensors
        if tensor_type == "read_tensor":  # the scorer's chunks are compact
            tensors = tensors.at_height(128)
        for index, record in enumerate(chunk):
            encoded[record.label] = (tensors[index], result.annotations[index])
    return encoded


def assert_equal_to_scorer(arrays: dict[str, np.ndarray], tensor_type: str) -> None:
    scorer = scorer_tensors(tensor_type)
    for variant, tensor, vector in zip(
        arrays["variants"], arrays["tensors"], arrays["annotations"], strict=True
    ):
        np.testing.assert_array_equal(tensor, scorer[str(variant)][0])
        np.testing.assert_array_equal(vector, scorer[str(variant)][1])


# ----------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def whole_bed(tmp_path_factory) -> Path:
    return write_bed(tmp_path_factory.mktemp("bed") / "whole.bed", WHOLE_REGION)


@pytest.fixture(scope="module")
def store_1d(tmp_path_factory, whole_bed) -> Path:
    """Every labelled candidate of the smoke set, 1D, as a single .zip."""
    output = tmp_path_factory.mktemp("store1d") / "all.zip"
    write_tensors(output, *KEEP_ALL, bed=whole_bed)
    return output


@pytest.fixture(scope="module")
def trained_1d(tmp_path_factory, whole_bed) -> tuple[Path, Path, list[str]]:
    """A small 1D training run: (its tensors, its output prefix, its command line)."""
    folder = tmp_path_factory.mktemp("train1d")
    store = folder / "tensors"
    write_tensors(store, "--downsample-snps", "0.2", "--downsample-indels", "1", bed=whole_bed)
    args = [
        "train", "--tensors", str(store), "--model-kind", "1d", "--epochs", "2",
        "--batch-size", "8", "--learning-rate", "1e-3", "--seed", "5",
    ]  # fmt: skip
    run_cli(*args, "-O", folder / "model", check=True)
    return store, folder / "model", args


# ------------------------------------------------------------------------------ write-tensors


def test_labels_of_the_giab_bed_match_an_independent_labelling(tmp_path):
    """GIAB's smoke BED: 49 candidates, all true (45 SNPs, 4 indels); 203 lie outside it."""
    result = write_tensors(tmp_path / "t", *KEEP_ALL)
    manifest, arrays = read_store(tmp_path / "t")
    expected = expected_labels(read_bed(TRUTH_BED))
    assert stored_labels(arrays) == expected
    assert manifest["counts"] == {"NOT_SNP": 0, "NOT_INDEL": 0, "SNP": 45, "INDEL": 4}
    assert manifest["skipped"] == {
        "outside_truth_bed": 203,
        "not_snp_or_indel": 0,
        "downsampled": 0,
        "no_annotations": 0,
        "no_reads": 0,
    }
    assert "wrote 49 tensors" in result.stderr and "203 outside the truth BED" in result.stderr


def test_1d_store_labels_tensors_and_format(store_1d, whole_bed):
    """Whole region: true and false candidates, labels by GATK's allele matching (the truth's
    TAAAAAAA>T matches the call TAAAAAAAA>T,TA), tensors equal to the scorer's, one zip."""
    manifest, arrays = read_store(store_1d)
    expected = expected_labels(read_bed(whole_bed))
    assert stored_labels(arrays) == expected
    assert Counter(expected.values()) == {"SNP": 186, "NOT_SNP": 14, "INDEL": 34, "NOT_INDEL": 17}
    assert expected["chr20:10067049 TAAAAAAAA>T,TA"] == "INDEL"
    assert manifest["counts"] == {"NOT_SNP": 14, "NOT_INDEL": 17, "SNP": 186, "INDEL": 34}
    assert manifest["skipped"]["not_snp_or_indel"] == 1
    assert manifest["schema"] == "cnnscore.tensors/1"
    assert manifest["labels"] == CHANNELS
    assert manifest["tensor_type"] == "reference" and manifest["tensor_shape"] == [128, 4]
    assert manifest["sources"]["truth_vcf"] == str(TRUTH_VCF)
    assert arrays["tensors"].dtype == np.float32 and arrays["labels"].dtype == np.uint8
    assert_equal_to_scorer(arrays, "reference")

    from cnnscore.training.tensor_store import TensorStore

    store = TensorStore(str(store_1d))  # cnnscore's reader sees the same
    shard = store.load(0)
    np.testing.assert_array_equal(shard.labels, arrays["labels"][: len(shard.labels)])
    store.close()


def test_2d_tensors_equal_what_the_scorer_encodes(tmp_path):
    result = write_tensors(
        tmp_path / "t2d", "-I", SMOKE_BAM, "--tensor-type", "read_tensor", *KEEP_ALL,
        "--shard-size", "20",
    )  # fmt: skip
    manifest, arrays = read_store(tmp_path / "t2d")
    assert [s["count"] for s in manifest["shards"]] == [20, 20, 9]
    assert manifest["tensor_shape"] == [128, 128, 15]
    assert stored_labels(arrays) == expected_labels(read_bed(TRUTH_BED))
    assert_equal_to_scorer(arrays, "read_tensor")
    assert "3 shard(s)" in result.stderr


def test_downsampling_is_per_label_seeded_and_independent_of_intervals(tmp_path, whole_bed):
    args = ["--downsample-snps", "0.5", "--downsample-indels", "1", "--downsample-not-indels",
            "0.5", "--seed", "3"]  # fmt: skip
    write_tensors(tmp_path / "a", *args, bed=whole_bed)
    write_tensors(tmp_path / "b", *args, bed=whole_bed)
    write_tensors(tmp_path / "c", *args[:-1], "4", bed=whole_bed)
    write_tensors(tmp_path / "d", *args, "-L", "chr20:10050000-10100000", bed=whole_bed)
    manifest, a = read_store(tmp_path / "a")
    counts = manifest["counts"]
    assert counts["NOT_SNP"] == 14 and counts["INDEL"] == 34  # fraction 1: all kept
    assert 60 <= counts["SNP"] <= 126 and 3 <= counts["NOT_INDEL"] <= 14
    assert manifest["skipped"]["downsampled"] == 186 - counts["SNP"] + 17 - counts["NOT_INDEL"]
    assert manifest["seed"] == 3 and manifest["downsampling"]["SNP"] == 0.5
    kept = list(map(str, a["variants"]))
    assert list(map(str, read_store(tmp_path / "b")[1]["variants"])) == kept
    assert list(map(str, read_store(tmp_path / "c")[1]["variants"])) != kept
    right_half = [v for v in kept if int(v.split(":")[1].split()[0]) >= 10050000]
    assert list(map(str, read_store(tmp_path / "d")[1]["variants"])) == right_half


def test_max_tensors_stops_at_the_limit(tmp_path, whole_bed):
    result = write_tensors(tmp_path / "t", *KEEP_ALL, "--max-tensors", "10", bed=whole_bed)
    manifest, arrays = read_store(tmp_path / "t")
    assert manifest["total"] == 10 and manifest["max_tensors"] == 10
    first = [v for v in expected_labels(read_bed(whole_bed))][:10]
    assert list(map(str, arrays["variants"])) == first
    assert manifest["stopped_at"] and "stopped by --max-tensors" in result.stderr


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing truth", "truth VCF does not exist"),
        ("bad BED line", "line 2 is not a valid interval"),
        ("BED contig not in the reference", "contig 'chr21' is not in the reference"),
        ("empty BED", "the interval file holds no interval"),
        ("no candidates in the BED", "no SNP or indel candidate lies in the truth BED"),
        ("truth of another build", "matches a truth record"),
        ("output is some other folder", "is not a cnnscore tensor store"),
        ("2D without reads", "read_tensor needs reads"),
    ],
)
def test_bad_inputs_fail_clearly_and_leave_no_output(tmp_path, case, message):
    inputs, out = tmp_path / "inputs", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    bed, truth, extra = TRUTH_BED, TRUTH_VCF, []
    if case == "missing truth":
        truth = inputs / "absent.vcf.gz"
    elif case == "bad BED line":
        bed = inputs / "bad.bed"
        bed.write_text("chr20\t10000846\t10002407\nchr20\tten\t10004171\n")
    elif case == "BED contig not in the reference":
        bed = write_bed(inputs / "chr21.bed", ("chr21", 1, 1000))
    elif case == "empty BED":
        bed = inputs / "empty.bed"
        bed.write_text("")
    elif case == "no candidates in the BED":
        bed = write_bed(inputs / "elsewhere.bed", ("chr20", 20_000_000, 20_001_000))
    elif case == "truth of another build":
        truth = inputs / "shifted.vcf.gz"  # the truth with every record moved by 1 bp
        with gzip.open(TRUTH_VCF, "rt") as handle:
            lines = handle.read().splitlines()
        plain = inputs / "shifted.vcf"
        plain.write_text("\n".join(line if line[0] == "#" else shifted(line) for line in lines))
        pysam.tabix_index(str(plain), preset="vcf", force=True)
    elif case == "output is some other folder":
        (out / "t").mkdir()
        (out / "t" / "notes.txt").write_text("mine")
    elif case == "2D without reads":
        extra = ["--tensor-type", "read_tensor"]
    result = run_cli(
        "write-tensors", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--truth-vcf", truth,
        "--truth-bed", bed, "-O", out / "t", *KEEP_ALL, *extra,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("cnnscore: error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    expected_left = ["t"] if case == "output is some other folder" else []
    assert sorted(p.name for p in out.iterdir()) == expected_left
    if expected_left:
        assert [p.name for p in (out / "t").iterdir()] == ["notes.txt"]


def test_a_gs_tensor_store_must_be_one_zip(tmp_path):
    result = run_cli(
        "write-tensors", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--truth-vcf", TRUTH_VCF,
        "--truth-bed", TRUTH_BED, "-O", "gs://bucket/tensors",
    )  # fmt: skip
    assert result.returncode == 2 and "must be a single .zip file" in result.stderr


# -------------------------------------------------------------------------------------- train


def test_trained_1d_model_is_scored_end_to_end(trained_1d, tmp_path):
    """The exported pair loads in ``cnnscore score`` (the .hd5 found from the .json, as in GATK)
    and every smoke record gets a finite CNN_1D."""
    _, prefix, _ = trained_1d
    output = tmp_path / "scored.vcf.gz"
    run_cli(
        "score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--architecture", f"{prefix}.json",
        "-O", output, check=True,
    )  # fmt: skip
    scores = info_scores(output, "CNN_1D")
    assert len(scores) == len(data_lines(SMOKE_VCF)) == 252
    assert all(math.isfinite(s) and -16.2 < s < 16.2 for s in scores)
    architecture = json.loads(Path(f"{prefix}.json").read_text())
    assert architecture["id"] == "1d_cnn_mix_train_full_bn"
    assert architecture["architecture"] == "model.hd5"
    assert architecture["output_labels"] == CHANNELS
    # a whole Keras 2.2 model, as GATK loads it: topology and the weights under its layer names
    import h5py

    with h5py.File(f"{prefix}.hd5", "r") as handle:
        config = json.loads(handle.attrs["model_config"])["config"]
        stored = [n.decode() for n in handle["model_weights"].attrs["layer_names"]]
    assert stored == [layer["name"] for layer in config["layers"]]
    assert {layer["class_name"] for layer in config["layers"]} >= {"Conv1D", "Dropout", "Dense"}


def test_a_trained_json_refuses_weights_it_was_not_trained_with(trained_1d, tmp_path):
    """The .json names the sha256 of the .hd5 written with it: a run killed between publishing
    the two left a new .hd5 beside the earlier run's .json, which scored without a word (the
    interruption review); other weights of the same architecture are refused, in one line."""
    from cnnscore.io.files import sha256_file

    _, prefix, _ = trained_1d
    description = json.loads(Path(f"{prefix}.json").read_text())
    assert description["cnnscore_training"]["weights_sha256"] == sha256_file(f"{prefix}.hd5")
    other = write_random_weights(Path(f"{prefix}.json"), tmp_path / "other.hd5", seed=3)
    output = tmp_path / "scored.vcf.gz"
    result = run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--architecture",
                     f"{prefix}.json", "--weights", other, "-O", output)  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "these are not the weights model.json was trained with" in result.stderr
    assert not output.exists()


def test_a_model_is_scored_with_its_own_keys_or_a_warning(trained_1d, tmp_path):
    """A model trained on other annotation keys was scored with GATK's default keys (GATK's
    rule) without a word, while giving the model's own keys drew a warning that they differ
    from GATK's default: the warning now compares with the model's input_annotations."""
    _, prefix, _ = trained_1d
    architecture = json.loads(Path(f"{prefix}.json").read_text())
    own = ["DP", "MQ", "SOR", "FS", "QD", "MQRankSum", "ReadPosRankSum"]
    architecture["input_annotations"] = own
    retrained = tmp_path / "own_keys.json"  # its weights: own_keys.hd5 beside it
    retrained.write_text(json.dumps(architecture))
    (tmp_path / "own_keys.hd5").write_bytes(Path(f"{prefix}.hd5").read_bytes())
    base = ["score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--architecture", retrained]
    warned = run_cli(*base, "-O", tmp_path / "a.vcf", check=True)
    assert (
        "cnnscore: warning: --info-annotation-keys MQ DP SOR FS QD MQRankSum ReadPosRankSum "
        "differ from the model's own (DP MQ SOR FS QD MQRankSum ReadPosRankSum, its JSON's "
        "input_annotations): scores come from the keys given, in their order; give the model's "
        "to score as it was trained"
    ) in warned.stderr.splitlines()
    quiet = run_cli(*base, "--info-annotation-keys", *own, "-O", tmp_path / "b.vcf", check=True)
    assert "warning" not in quiet.stderr


def test_training_report(trained_1d):
    store, prefix, _ = trained_1d
    report = json.loads(Path(f"{prefix}.report.json").read_text())
    assert report["schema"] == "cnnscore.train/1"
    assert report["model"]["parameters"] == 1_681_156
    training, validation = report["training"], report["validation"]
    assert training["epochs_run"] == 2 == len(report["history"]["loss"])
    assert len(report["history"]["val_loss"]) == 2 and 1 <= training["best_epoch"] <= 2
    counts = read_store(store)[0]["counts"]
    held_out = report["data"]["validation_counts"]
    assert all(held_out[name] >= 1 for name in CHANNELS)  # every class is validated
    assert {
        name: held_out[name] + report["data"]["training_counts"][name] for name in CHANNELS
    } == counts
    assert validation["tensors"] == sum(held_out.values())
    for kind in ("SNP", "INDEL"):
        roc = validation["roc"][kind]
        assert 0.0 <= roc["auc"] <= 1.0
        assert roc["fpr"][0] == roc["tpr"][0] == 0.0 and roc["fpr"][-1] == roc["tpr"][-1] == 1.0
    for name in CHANNELS:
        assert validation["per_class"][name]["tensors"] == held_out[name]
        assert 0.0 <= validation["per_class"][name]["accuracy"] <= 1.0
    for kind, suffix in (("weights", ".hd5"), ("architecture", ".json")):
        path = Path(f"{prefix}{suffix}")
        assert report["outputs"][kind]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    page = Path(f"{prefix}.report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "ROC AUC" in page


def test_same_seed_gives_identical_weights(trained_1d, tmp_path):
    from cnnscore.models.keras2_weights import read_keras2_weights

    _, prefix, args = trained_1d
    run_cli(*args, "-O", tmp_path / "again", check=True)
    first = read_keras2_weights(f"{prefix}.hd5")
    second = read_keras2_weights(str(tmp_path / "again.hd5"))
    assert [layer.name for layer in first] == [layer.name for layer in second]
    for ours, theirs in zip(first, second, strict=True):
        for key, array in ours.arrays.items():
            np.testing.assert_array_equal(array, theirs.arrays[key])


def test_cosine_decay_and_no_dropout(trained_1d, tmp_path):
    """--cosine-decay: the learning rate each epoch ends at falls along the cosine to 0 at the
    last epoch (constant without it); both options are recorded in the report."""
    _, prefix, args = trained_1d
    constant = json.loads(Path(f"{prefix}.report.json").read_text())
    assert constant["history"]["learning_rate"] == pytest.approx([1e-3, 1e-3])
    assert constant["options"]["cosine_decay"] is False and constant["options"]["dropout"] is True
    decayed_args = [*args[: args.index("--epochs") + 1], "3", *args[args.index("--epochs") + 2 :]]
    run_cli(*decayed_args, "--cosine-decay", "--no-dropout", "-O", tmp_path / "m", check=True)
    report = json.loads((tmp_path / "m.report.json").read_text())
    assert report["options"]["cosine_decay"] is True and report["options"]["dropout"] is False
    expected = [1e-3 * 0.5 * (1 + math.cos(math.pi * (epoch + 1) / 3)) for epoch in range(3)]
    assert report["history"]["learning_rate"] == pytest.approx(expected, abs=1e-9)


def test_initial_weights_continue_a_run(trained_1d, tmp_path):
    """--initial-weights: training starts from the given run's weights (with a learning rate too
    small to move them, the exported kernels are that run's, while a fresh start's are not), and
    the report names the file by sha256."""
    from cnnscore.models.keras2_weights import read_keras2_weights

    _, prefix, args = trained_1d

    def replaced(args: list, flag: str, value: str) -> list:  # a flag may be given once
        at = args.index(flag)
        return [*args[: at + 1], value, *args[at + 2 :]]

    slow = replaced(replaced(args, "--learning-rate", "1e-12"), "--epochs", "1")
    run_cli(*slow, "--initial-weights", f"{prefix}.hd5", "-O", tmp_path / "on", check=True)
    run_cli(*replaced(slow, "--seed", "6"), "-O", tmp_path / "fresh", check=True)

    def kernels(path) -> dict[str, np.ndarray]:
        return {f"{layer.name}/{key}": array for layer in read_keras2_weights(str(path))
                for key, array in layer.arrays.items() if key == "kernel"}  # fmt: skip

    start, continued, fresh = (kernels(p) for p in (f"{prefix}.hd5", tmp_path / "on.hd5",
                                                     tmp_path / "fresh.hd5"))  # fmt: skip
    assert list(start) == list(continued) == list(fresh) and len(start) >= 4
    for name, array in start.items():
        np.testing.assert_allclose(continued[name], array, rtol=0, atol=1e-6, err_msg=name)
    assert max(float(np.max(np.abs(fresh[n] - a))) for n, a in start.items()) > 1e-2
    report = json.loads((tmp_path / "on.report.json").read_text())
    digest = hashlib.sha256(Path(f"{prefix}.hd5").read_bytes()).hexdigest()
    assert report["training"]["initial_weights"]["sha256"] == digest
    exported = json.loads((tmp_path / "on.json").read_text())["cnnscore_training"]
    assert exported["initial_weights_sha256"] == digest
    assert json.loads(Path(f"{prefix}.report.json").read_text())["training"].get(
        "initial_weights") is None  # fmt: skip


def test_small_2d_is_trained_and_scored(tmp_path, whole_bed):
    """2D: train GATK's small_2d JSON on a few read tensors, score with the exported .hd5. A
    few of every label (train refuses tensors without one): ~8 SNPs, 4 indels, half the false."""
    store = tmp_path / "t2d.zip"
    few = ["--downsample-snps", "0.03", "--downsample-indels", "0.1",
           "--downsample-not-snps", "0.5", "--downsample-not-indels", "0.5"]  # fmt: skip
    write_tensors(store, "-I", SMOKE_BAM, "--tensor-type", "read_tensor", *few, bed=whole_bed)
    prefix = tmp_path / "small"
    run_cli(
        "train", "--tensors", store, "--architecture", SMALL_2D_JSON, "--epochs", "1",
        "--batch-size", "8", "-O", prefix, check=True,
    )  # fmt: skip
    architecture = json.loads(Path(f"{prefix}.json").read_text())
    assert architecture["id"] == "nova_hiseq_mix_small_tf"
    assert architecture["input_annotation_set"] == "best_practices"
    output = tmp_path / "scored.vcf"
    run_cli(
        "score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--weights", f"{prefix}.hd5",
        "-L", "chr20:10000000-10003000", "-O", output, check=True,
    )  # fmt: skip
    in_region = [line for line in data_lines(SMOKE_VCF) if int(line.split("\t")[1]) <= 10003000]
    scores = info_scores(output, "CNN_2D")
    assert len(scores) == len(in_region) > 10 and all(math.isfinite(s) for s in scores)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("2D architecture, 1D tensors", "the architecture takes read_tensor tensors"),
        ("not a store", "not a tensor store"),
        ("validation fraction", "--validation-fraction: must be between 0 and 1"),
        ("initial weights of another network", "weights do not match architecture"),
        ("initial weights missing", "initial weights not found"),
        ("infinite learning rate", "--learning-rate: must be a positive, finite number"),
        ("diverged", "--learning-rate: training diverged: the weights are not finite after"),
    ],
)
def test_train_refuses_bad_inputs_before_training(tmp_path, store_1d, case, message):
    """Also a run that diverged: its NaN weights scored every record nan, exit 0."""
    tensors, extra = store_1d, ["--architecture", SMALL_2D_JSON]
    if case == "not a store":
        tensors = tmp_path / "empty"
        tensors.mkdir()
    elif case == "validation fraction":
        extra = ["--model-kind", "1d", "--validation-fraction", "1"]
    elif case.startswith("initial weights"):
        weights = SMALL_2D_HD5 if case.endswith("network") else tmp_path / "none.hd5"
        extra = ["--model-kind", "1d", "--initial-weights", str(weights)]
    elif case == "infinite learning rate":
        extra = ["--model-kind", "1d", "--learning-rate", "inf"]
    elif case == "diverged":  # Adam's steps overflow the weights, then the loss is NaN
        extra = ["--model-kind", "1d", "--learning-rate", "1e30", "--epochs", "2"]
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("train", "--tensors", tensors, *extra, "-O", out / "model")
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert list(out.iterdir()) == []


@pytest.mark.usefixtures("gcs_emulator")
def test_write_tensors_and_train_from_and_to_gcs(tmp_path, whole_bed):
    """Every input from gs://, the store to gs:// as one .zip, trained from there, the model and
    report to gs://; the store equals a local run's."""
    from google.cloud import storage

    client = storage.Client(project="test")
    client.bucket(BUCKET).blob("truth/whole.bed").upload_from_filename(str(whole_bed))
    selection = [*KEEP_ALL, "--max-tensors", "40"]
    result = run_cli(
        "write-tensors", "-V", gs("smoke/hc.gatk4.vcf.gz"), "-R", gs("smoke/ref.chr20.fa.gz"),
        "--truth-vcf", gs("smoke/giab_truth.vcf.gz"), "--truth-bed", gs("truth/whole.bed"),
        *selection, "-O", gs("tensors/t.zip"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    fetched = tmp_path / "fetched.zip"
    client.bucket(BUCKET).blob("tensors/t.zip").download_to_filename(str(fetched))
    write_tensors(tmp_path / "local", *selection, bed=whole_bed)
    remote_manifest, remote = read_store(fetched)
    local_manifest, local = read_store(tmp_path / "local")
    assert remote_manifest["counts"] == local_manifest["counts"]
    # the manifest names the user's gs:// inputs, not the cache copies or loopback URLs
    assert remote_manifest["sources"]["variants"] == gs("smoke/hc.gatk4.vcf.gz")
    assert remote_manifest["sources"]["reference"] == gs("smoke/ref.chr20.fa.gz")
    assert remote_manifest["sources"]["truth_bed"] == gs("truth/whole.bed")
    for key in ("tensors", "annotations", "labels", "variants"):
        np.testing.assert_array_equal(remote[key], local[key])

    result = run_cli(
        "train", "--tensors", gs("tensors/t.zip"), "--model-kind", "1d", "--epochs", "1",
        "--batch-size", "8", "-O", gs("trained/model"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    names = {blob.name for blob in client.list_blobs(BUCKET, prefix="trained/")}
    assert names == {
        "trained/model.hd5",
        "trained/model.json",
        "trained/model.report.json",
        "trained/model.report.html",
    }
    report = json.loads(client.bucket(BUCKET).blob("trained/model.report.json").download_as_text())
    assert report["data"]["stores"][0]["path"] == gs("tensors/t.zip")
    assert report["outputs"]["weights"]["path"] == gs("trained/model.hd5")
    assert gs("trained/model.hd5") in result.stderr


def test_train_refuses_a_store_given_twice(tmp_path, store_1d):
    """The same store twice, or a store and a link to it, was trained on twice, with copies on
    both sides of the validation split; refused as gather-vcfs and score refuse repeated inputs."""
    link = tmp_path / "link.zip"
    link.symlink_to(store_1d)
    out = tmp_path / "out"
    out.mkdir()
    for second, also in ((store_1d, ""), (link, f"; {store_1d} is the same store")):
        result = run_cli("train", "--tensors", store_1d, second, "--model-kind", "1d",
                         "--epochs", "1", "-O", out / "model")  # fmt: skip
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip().splitlines()[-1] == (
            f"cnnscore: error: {second}: given twice (--tensors{also}): its tensors would be "
            "trained on twice, with copies on both sides of the validation split"
        )
        assert list(out.iterdir()) == []


def test_train_refuses_a_copy_of_a_store_under_another_name(tmp_path, store_1d):
    """A copy of a store (or write-tensors run again on the same inputs) passed the given-twice
    check, which compares files, and its tensors counted twice (found by a report-only review).
    Stores that differ are not read beyond their manifests (the two-store tests train)."""
    copy = tmp_path / "copy.zip"
    shutil.copyfile(store_1d, copy)
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("train", "--tensors", store_1d, copy, "--model-kind", "1d", "--epochs", "1",
                     "-O", out / "model")  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"cnnscore: error: {copy}: holds the same tensors as {store_1d} (a copy, or the same "
        "write-tensors run): each would count twice"
    )
    assert list(out.iterdir()) == []


# --------------------------------------------------------------------------------------------
# what write-tensors and train accepted without a word (review of session 26)


B37_CHR20, HG38_CHR20 = "ID=chr20,length=63025520", "ID=chr20,length=64444167"


def _retitled(source: Path, target: Path, old: str, new: str) -> Path:
    """A bgzip VCF with one header line changed, indexed."""
    with gzip.open(source, "rt") as handle:
        text = handle.read()
    assert old in text
    plain = target.with_suffix("")
    plain.write_text(text.replace(old, new, 1))
    pysam.tabix_index(str(plain), preset="vcf", force=True)
    return target


@pytest.mark.parametrize("which", ["candidates", "truth", "truth, candidates without ##contig"])
def test_write_tensors_refuses_inputs_of_another_build(tmp_path, whole_bed, which):
    """score and filter refused these files; write-tensors encoded every candidate against the
    wrong windows or labelled by position on another genome, and wrote the store."""
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    vcf, truth = SMOKE_VCF, TRUTH_VCF
    if which == "candidates":
        vcf = _retitled(SMOKE_VCF, inputs / "calls.vcf.gz", B37_CHR20, HG38_CHR20)
        says = f"{vcf}: contig chr20 has length 64444167 in the VCF header but 63025520"
    else:  # checked against the reference, which the candidates' header may not describe
        truth = _retitled(TRUTH_VCF, inputs / "truth.vcf.gz", B37_CHR20, HG38_CHR20)
        says = f"{truth}: contig chr20 has length 64444167 in this file but 63025520 in {SMOKE_REF}"
        if which == "truth, candidates without ##contig":
            vcf = inputs / "calls.vcf"
            vcf.write_text(
                "\n".join(
                    line
                    for line in [*header_lines(SMOKE_VCF), *data_lines(SMOKE_VCF)]
                    if not line.startswith("##contig")
                )
                + "\n"
            )
    result = run_cli(
        "write-tensors", "-V", vcf, "-R", SMOKE_REF, "--truth-vcf", truth,
        "--truth-bed", whole_bed, "-O", out / "t", *KEEP_ALL,
    )  # fmt: skip
    assert result.returncode == 1
    (error,) = [line for line in result.stderr.splitlines() if "error" in line]
    assert says in error, error
    assert list(out.iterdir()) == []


def test_a_store_without_every_label_is_warned_of_and_not_trained_on(tmp_path):
    """GIAB's smoke BED holds 49 true calls and no false one: the store was written without a
    word and trained into a model whose AUCs were n/a, published with exit 0."""
    store = tmp_path / "true_only"
    result = write_tensors(store, *KEEP_ALL)
    assert (
        "cnnscore: warning: the store holds no NOT_SNP, NOT_INDEL tensor: train needs every "
        "label, from this store or others given with it (distillation aside)"
    ) in result.stderr.splitlines()
    one_epoch = ("--model-kind", "compact-1d", "--epochs", "1")
    result = run_cli("train", "--tensors", store, *one_epoch, "-O", tmp_path / "m")
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "the training tensors hold no NOT_SNP, NOT_INDEL (NOT_SNP 0, NOT_INDEL 0, SNP 41, "
        "INDEL 3): a model that never saw a label cannot score it; label more candidates (a "
        "wider truth BED, more calls, or more stores)"
    ), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["true_only"]


def test_a_label_the_validation_split_took_whole_is_blamed_on_the_fraction(tmp_path):
    """Two stores, the only NOT_SNP in the second, and --validation-fraction 0.99 holding it out:
    the error named the first store and said the tensors held no NOT_SNP, to label more
    candidates; the stores do hold it, and it is the fraction that left training none."""
    chrom, start, end = WHOLE_REGION
    positions = defaultdict(list)
    for variant, label in expected_labels([WHOLE_REGION]).items():
        positions[label].append(int(variant.split()[0].split(":")[1]))
    # the second store: one NOT_SNP and one SNP (write-tensors refuses a store with no true
    # label); the first: the whole region but every NOT_SNP and that SNP (a row holds (a, b])
    not_snp, snp = min(positions["NOT_SNP"]), positions["SNP"][0]
    taken = sorted({*positions["NOT_SNP"], snp})
    gaps = zip([start, *taken], [*taken, end + 1], strict=True)
    rest = [(chrom, a, b - 1) for a, b in gaps if a < b - 1]
    two = [(chrom, pos - 1, pos) for pos in sorted((not_snp, snp))]
    first, second = tmp_path / "first", tmp_path / "second"
    write_tensors(first, *KEEP_ALL, bed=write_bed(tmp_path / "rest.bed", *rest))
    write_tensors(second, *KEEP_ALL, bed=write_bed(tmp_path / "two.bed", *two))
    assert read_store(first)[0]["counts"]["NOT_SNP"] == 0
    assert read_store(second)[0]["counts"]["NOT_SNP"] == 1
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("train", "--tensors", first, second, "--model-kind", "compact-1d",
                     "--epochs", "1", "--validation-fraction", "0.99", "-O", out / "m")  # fmt: skip
    assert result.returncode == 1, result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error == (
        "cnnscore: error: --validation-fraction: 0.99 left training no NOT_SNP: the stores hold "
        "NOT_SNP 1, all held out for validation; a model that never saw a label cannot score it: "
        "give a smaller --validation-fraction (a label's only tensor stays in training at 0.5 or "
        "less), or label more candidates"
    ), result.stderr
    assert str(first) not in error and str(second) not in error
    assert list(out.iterdir()) == []


_FAIL_IN_THE_REPORT = """
import errno
import cnnscore.training.report as report
def render_html(report_data):
    raise {error}
report.render_html = render_html
"""


@pytest.mark.parametrize(
    ("error", "code", "says"),
    [
        ("KeyboardInterrupt()", 130, "cnnscore: interrupted; no output written"),
        (
            "OSError(errno.EFBIG, 'File too large')",
            1,
            "cnnscore: error: {prefix}: cannot write the model (File too large)",
        ),
    ],
    ids=["interrupt", "a file too large"],
)
def test_train_publishes_its_files_together_or_none(tmp_path, store_1d, error, code, says):
    """The .hd5 and .json were published before the report was rendered: an interrupt or a
    write error then left a model that score loads from a run that said it wrote nothing (and
    a write error other than a full disk was a traceback)."""
    out = tmp_path / "out"
    out.mkdir()
    prefix = out / "m"
    prelude = _FAIL_IN_THE_REPORT.format(error=error)
    one_epoch = ("--model-kind", "compact-1d", "--epochs", "1")
    result = run_cli("train", "--tensors", store_1d, *one_epoch, "-O", prefix, prelude=prelude)
    assert result.returncode == code, result.stderr
    assert result.stderr.strip().splitlines()[-1] == says.format(prefix=prefix)
    assert list(out.iterdir()) == []


def test_sites_without_annotations_or_reads_are_skipped_as_gatk_skips_them(tmp_path):
    """Stored as confident labels before: a record with none of the annotation keys in INFO or
    FORMAT (all-zero annotations) and a site no read covers (the reference alone)."""
    records = data_lines(SMOKE_VCF)[:20]
    no_annotation = "chr20\t20000100\t.\tA\tG\t50\t.\t.\tGT\t0/1"
    no_read = "chr20\t20000200\t.\tA\tG\t50\t.\tMQ=60.00\tGT\t0/1"  # the BAM ends at 10.1 Mb
    vcf = tmp_path / "calls.vcf"
    vcf.write_text("\n".join([*header_lines(SMOKE_VCF), *records, no_annotation, no_read]) + "\n")
    bed = write_bed(tmp_path / "two.bed", WHOLE_REGION, ("chr20", 20_000_000, 20_001_000))
    store = tmp_path / "t"
    result = run_cli(
        "write-tensors", "-V", vcf, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--tensor-type",
        "read_tensor", "--truth-vcf", TRUTH_VCF, "--truth-bed", bed, "-O", store, *KEEP_ALL,
        check=True,
    )  # fmt: skip
    manifest, arrays = read_store(store)
    assert manifest["skipped"]["no_annotations"] == 1 and manifest["skipped"]["no_reads"] == 1
    assert manifest["total"] == 20
    assert not any(str(v).startswith("chr20:2000") for v in arrays["variants"])
    assert "1 with none of the annotation keys, 1 without a read" in result.stderr


def test_a_misspelt_annotation_key_is_warned_of_by_write_tensors(tmp_path):
    """score warned of it; write-tensors stored a column of zeros for the model to learn."""
    keys = ["MQ", "DP", "SOR", "FS", "QDD", "MQRankSum", "ReadPosRankSum"]
    result = write_tensors(tmp_path / "t", "--info-annotation-keys", *keys)
    assert (
        f"cnnscore: warning: QDD: no ##INFO line in {SMOKE_VCF}, so 0.0 wherever a record "
        "lacks the key (GATK's rule); check --info-annotation-keys"
    ) in result.stderr


@pytest.mark.parametrize(
    ("extra", "code", "says"),
    [
        (["-O", "{folder}/"], 1, "{folder}/: names a folder: -O is the model's prefix"),
        (["-O", "{folder}"], 1, "{folder}: names a folder: -O is the model's prefix"),
        (["-O", "{folder}/m", "--seed", "-1"], 2, "--seed: must be between 0 and 4294967295"),
        (["-O", "{folder}/m", "--seed", "4294967296"], 2, "must be between 0 and 4294967295"),
    ],
    ids=["folder/", "folder", "seed -1", "seed 2**32"],
)
def test_train_refuses_a_folder_as_prefix_and_a_seed_numpy_refuses(
    tmp_path, store_1d, extra, code, says
):
    """-O folder/ wrote hidden .hd5/.json files that score could not load; a seed outside
    numpy's range stopped training with a traceback."""
    folder = tmp_path / "models"
    folder.mkdir()
    args = [word.format(folder=folder) for word in extra]
    result = run_cli("train", "--tensors", store_1d, "--model-kind", "compact-1d", *args)
    assert result.returncode == code
    assert says.format(folder=folder) in result.stderr and "Traceback" not in result.stderr
    assert list(folder.iterdir()) == []


def test_a_label_outside_the_channels_is_refused_naming_the_shard(tmp_path, store_1d):
    """A damaged or hand-made shard: an IndexError traceback from the batch reader before."""
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(store_1d) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith(".npz"):
                with np.load(io.BytesIO(data)) as npz:
                    arrays = {key: npz[key] for key in npz.files}
                arrays["labels"][0] = 7
                buffer = io.BytesIO()
                np.savez_compressed(buffer, **arrays)
                data = buffer.getvalue()
            target.writestr(item, data)
    one_epoch = ("--model-kind", "compact-1d", "--epochs", "1")
    result = run_cli("train", "--tensors", damaged, *one_epoch, "-O", tmp_path / "m")
    assert result.returncode == 1
    assert "shard-00000.npz: a label is 7, not one of the 4 output channels" in result.stderr


@pytest.mark.parametrize(
    ("info", "says"),
    [("MQ=60.00", "none of the 2 candidates chosen has a read in the BAM/CRAM: are these the "
                  "reads of these calls?"),
     (".", "none of the candidates kept has any of the annotation keys (MQ DP SOR FS QD "
           "MQRankSum ReadPosRankSum) in its INFO or FORMAT: check --info-annotation-keys")],
    ids=["no read anywhere", "no annotation anywhere"],
)  # fmt: skip
def test_a_store_that_would_be_empty_is_refused(tmp_path, info, says):
    """When every candidate chosen was then skipped (no read, no annotation), write-tensors
    wrote an empty store with exit 0, or blamed the downsampling."""
    records = [f"chr20\t{pos}\t.\tA\tG\t50\t.\t{info}\tGT\t0/1" for pos in (20000100, 20000200)]
    vcf = tmp_path / "calls.vcf"
    vcf.write_text("\n".join([*header_lines(SMOKE_VCF), *records]) + "\n")
    bed = write_bed(tmp_path / "far.bed", ("chr20", 20_000_000, 20_001_000))
    truth = tmp_path / "truth.vcf"  # both true, so that the truth check passes
    with gzip.open(TRUTH_VCF, "rt") as handle:
        truth_header = [line.rstrip("\n") for line in handle if line.startswith("#")]
    truth_records = [line.replace(f"\t{info}\t", "\t.\t") for line in records]
    truth.write_text("\n".join([*truth_header, *truth_records]) + "\n")
    pysam.tabix_index(str(truth), preset="vcf", force=True)
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(
        "write-tensors", "-V", vcf, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--tensor-type",
        "read_tensor", "--truth-vcf", f"{truth}.gz", "--truth-bed", bed, "-O", out / "t",
        *KEEP_ALL,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith(says), result.stderr
    assert list(out.iterdir()) == []
