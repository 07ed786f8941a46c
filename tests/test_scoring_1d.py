"""1D (reference model) runs on GATK's own 1D test input: 472 NA12878 records on b37 chr20.

GATK's 1D weights are not available offline, so the model runs with seeded random weights in
GATK's Keras-2 file layout: the run checks structure (every record present and in order, the key
added, the text format, nothing else changed), not the values GATK expects.
"""

from __future__ import annotations

import re

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


@pytest.fixture(scope="module")
def scored_1d(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score1d")
    architecture = MODELS / "1d_cnn_mix_train_full_bn.json"
    weights = write_random_weights(architecture, folder / "random_1d.hd5", seed=20)
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
        value = info_text(after, "CNN_1D")
        assert re.fullmatch(r"-?\d+\.\d{3}", value)
        assert -16.2 < float(value) < 16.2  # ln(1e-7) bounds the log odds


def test_key_placed_like_gatk_and_header_line(scored_1d):
    first = data_lines(scored_1d)[0].split("\t")[7]
    gatk_first = data_lines(EXPECTED)[0].split("\t")[7]
    keys = [i.partition("=")[0] for i in first.split(";")]
    gatk_keys = [i.partition("=")[0] for i in gatk_first.split(";")]
    assert keys == gatk_keys  # CNN_1D between BaseQRankSum and ClippingRankSum, as GATK wrote it
    assert INFO_HEADER_LINES["CNN_1D"] in header_lines(scored_1d)
    assert INFO_HEADER_LINES["CNN_1D"] in header_lines(EXPECTED)  # GATK's own header text


def test_scores_vary_across_records(scored_1d):
    values = {info_text(line, "CNN_1D") for line in data_lines(scored_1d)}
    assert len(values) > 50  # the tensors differ per record, so the random model's outputs do


def test_filter_symbolic_and_sv_drops_those_records_from_the_output(tmp_path):
    import pysam

    with pysam.FastaFile(str(REFERENCE)) as fasta:
        base = fasta.fetch("20", 69_999, 70_000).upper()
        long_insertion = base + "ACGT" * 40  # 160 inserted bases: structural for htsjdk
    header = [h for h in header_lines(INPUT)]
    records = data_lines(INPUT)[:2] + [
        f"20\t70000\t.\t{base}\t<DEL>\t50\tPASS\tEND=70100",
        f"20\t70000\t.\t{base}\t{long_insertion}\t50\tPASS\tDP=10",
        data_lines(INPUT)[2],
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
    assert kept == [everything[0], everything[1], everything[4]]
