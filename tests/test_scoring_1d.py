"""1D (reference model) runs on GATK's own 1D test input: 472 NA12878 records on b37 chr20.

GATK's 1D weights are not available offline, so the model runs with seeded random weights in
GATK's Keras-2 file layout: the runs check structure (every record present and in order, the key
added, the text format, nothing else changed), and the printed scores against the same network
evaluated in float64 by tests/network_float64.py (written from GATK's description of the model,
not from cnnscore's inference code), not the values GATK expects.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from cnnscore.io.vcf_output import INFO_HEADER_LINES
from conftest import (
    GATK_1D,
    MODELS,
    data_lines,
    header_lines,
    info_text,
    run_cli,
    write_random_weights,
)

INPUT = GATK_1D / "input.hc_vqsr.vcf.gz"
EXPECTED = GATK_1D / "expected.cnn_1d.vcf.gz"
REFERENCE = GATK_1D / "ref.b37.20_1-1M.fa.gz"
ARCHITECTURE = MODELS / "1d_cnn_mix_train_full_bn.json"


@pytest.fixture(scope="module")
def random_1d(tmp_path_factory):
    """GATK's 1D architecture with seeded random weights (the .hd5)."""
    folder = tmp_path_factory.mktemp("random1d")
    return write_random_weights(ARCHITECTURE, folder / "random_1d.hd5", seed=20)


@pytest.fixture(scope="module")
def scored_1d(tmp_path_factory, random_1d):
    folder = tmp_path_factory.mktemp("score1d")
    architecture, weights = ARCHITECTURE, random_1d
    output = folder / "out.vcf"
    run_cli(
        "score",
        "-V",
        INPUT,
        "-R",
        REFERENCE,
        "--architecture",
        architecture,
        "--weights",
        weights,
        "-O",
        output,
        "--metrics-json",
        folder / "m.json",
        check=True,
    )
    return output


def info_without(info: str, key: str) -> str:
    return ";".join(item for item in info.split(";") if not item.startswith(key + "="))


def test_every_record_present_in_order_with_cnn_1d(scored_1d):
    inputs, outputs = data_lines(INPUT), data_lines(scored_1d)
    expected = data_lines(EXPECTED)
    assert len(inputs) == len(outputs) == len(expected) == 472
    for before, after, gatk in zip(inputs, outputs, expected, strict=True):
        b, a, g = before.split("\t"), after.split("\t"), gatk.split("\t")
        assert a[:5] == g[:5]  # same CHROM POS ID REF ALT as GATK's expected output, same order
        assert a[:7] + a[8:] == b[:7] + b[8:]  # nothing but INFO changed
        assert info_without(a[7], "CNN_1D") == b[7]
        assert re.fullmatch(r"-?\d+\.\d{3}", info_text(after, "CNN_1D"))


def test_key_placed_like_gatk_and_header_line(scored_1d):
    first = data_lines(scored_1d)[0].split("\t")[7]
    gatk_first = data_lines(EXPECTED)[0].split("\t")[7]
    keys = [i.partition("=")[0] for i in first.split(";")]
    gatk_keys = [i.partition("=")[0] for i in gatk_first.split(";")]
    assert keys == gatk_keys  # CNN_1D between BaseQRankSum and ClippingRankSum, as GATK wrote it
    assert INFO_HEADER_LINES["CNN_1D"] in header_lines(scored_1d)
    assert INFO_HEADER_LINES["CNN_1D"] in header_lines(EXPECTED)  # GATK's own header text


def test_scores_are_the_network_evaluated_in_float64(scored_1d, random_1d):
    """Every printed CNN_1D against GATK's log odds of the same network and weights computed in
    float64 outside cnnscore's inference code (tests/network_float64.py reads the .hd5 with h5py
    and the JSON's labels), formatted as GATK does ('{0:.3f}'): the printed value is at most half
    a unit of the last digit from the exact one (plus float32 error), and the text is the same on
    at least 99% of the 472 records (a float32 value within ~1e-6 of a rounding boundary may
    round the other way). The inputs are cnnscore's encoding (the reference window and the
    annotations; the encoders have their own tests); SNP sites take the SNP log odds, INDEL sites
    the INDEL one, other sites the larger."""
    from network_float64 import gatk_1d_log_odds

    from cnnscore.io.vcf_text import VcfReader
    from cnnscore.models.spec import DEFAULT_ANNOTATION_KEYS
    from cnnscore.scoring.pipeline import Encoder, EncoderConfig

    config = EncoderConfig(str(INPUT), str(REFERENCE), (), "reference", DEFAULT_ANNOTATION_KEYS,
                           128, 128, "run", "python")  # fmt: skip
    encoder = Encoder(config)
    try:
        chunk = encoder.encode_chunk(list(VcfReader(str(INPUT)).records()))
    finally:
        encoder.close()
    snp, indel = gatk_1d_log_odds(random_1d, ARCHITECTURE, chunk.tensors, chunk.annotations)
    kinds = chunk.type_labels
    exact = np.array([s if kind == "SNP" else i if kind == "INDEL" else max(s, i)
                      for s, i, kind in zip(snp, indel, kinds, strict=True)])  # fmt: skip
    printed = [info_text(line, "CNN_1D") for line in data_lines(scored_1d)]
    assert len(printed) == len(exact) == 472
    expected = [f"{value:.3f}" for value in exact]
    # the comparison has power: the random model's scores are spread, not saturated at ln(1e-7)
    assert len(set(expected)) >= 400 and np.abs(exact).max() < 15
    worst_text = max(abs(float(a) - float(b)) for a, b in zip(printed, expected, strict=True))
    worst = np.abs(np.array(printed, np.float64) - exact).max()
    identical = sum(a == b for a, b in zip(printed, expected, strict=True))
    assert worst_text <= 0.001 + 1e-9, f"max |delta| {worst_text} against float64"
    assert worst <= 0.0005 + 1e-5, f"printed values {worst} from the float64 log odds"
    assert identical >= 0.99 * 472, f"only {identical} of 472 texts are float64's"


def test_filter_symbolic_and_sv_drops_those_records_from_the_output(tmp_path):
    import pysam

    with pysam.FastaFile(str(REFERENCE)) as fasta:
        base = fasta.fetch("20", 69_999, 70_000).upper()
        long_insertion = base + "ACGT" * 40  # 160 inserted bases: structural for htsjdk
    header = [h for h in header_lines(INPUT)]
    records = data_lines(INPUT)[:3] + [  # in order: the .vcf output's .idx needs it
        f"20\t70000\t.\t{base}\t<DEL>\t50\tPASS\tEND=70100\tGT\t0/1",
        f"20\t70000\t.\t{base}\t{long_insertion}\t50\tPASS\tDP=10\tGT\t0/1",
    ]
    small = tmp_path / "small.vcf"
    small.write_text("\n".join(header + records) + "\n")
    architecture = MODELS / "1d_cnn_mix_train_full_bn.json"
    weights = write_random_weights(architecture, tmp_path / "w.hd5", seed=3)
    common = [
        "score",
        "-V",
        small,
        "-R",
        REFERENCE,
        "--architecture",
        architecture,
        "--weights",
        weights,
    ]
    run_cli(*common, "-O", tmp_path / "all.vcf", check=True)
    run_cli(*common, "-O", tmp_path / "kept.vcf", "--filter-symbolic-and-sv", check=True)
    everything, kept = data_lines(tmp_path / "all.vcf"), data_lines(tmp_path / "kept.vcf")
    assert len(everything) == 5 and all("CNN_1D=" in line for line in everything)
    assert kept == everything[:3]


def test_an_annotation_key_the_vcf_never_declares_is_warned_of(tmp_path, random_1d):
    """GATK scores a key no record has as 0.0 without a word, so a misspelt key changes every
    score silently: the same scores here (GATK's rule), with one warning naming the keys."""
    common = ["score", "-V", INPUT, "-R", REFERENCE, "--architecture", ARCHITECTURE,
              "--weights", random_1d, "-L", "20:60000-100000"]  # fmt: skip
    plain = run_cli(*common, "-O", tmp_path / "plain.vcf", check=True)
    assert "no ##INFO line" not in plain.stderr  # GATK's seven keys, all declared
    keys = ["MQ", "DP", "SOR", "FS", "QD", "MQRankSum", "ReadPosRankSumm"]
    misspelt = run_cli(*common, "-O", tmp_path / "misspelt.vcf", "--info-annotation-keys", *keys,
                       check=True)  # fmt: skip
    warnings = [line for line in misspelt.stderr.splitlines() if "no ##INFO line" in line]
    assert warnings == [
        f"cnnscore: warning: ReadPosRankSumm: no ##INFO line in {INPUT}, so 0.0 wherever a "
        "record lacks the key (GATK's rule); check --info-annotation-keys"
    ]
    assert data_lines(tmp_path / "misspelt.vcf") != data_lines(tmp_path / "plain.vcf")
