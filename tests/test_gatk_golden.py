"""GATK's own 2D scores, out of the box: the smoke set scored with no model given (so GATK's
small_2d, shipped in the package) against GATK 4.6.0's scoring of the same 252 calls
(testdata/na12878_chr20_smoke/gatk460_oracle.cnn_2d.vcf.gz), on every fp32 backend of this image
and with both read-tensor encoders. GATK's tolerance for its 2D test is the last printed digit:
max |delta| <= 0.001, and the printed text must be GATK's on at least 250 of 252 records (a score
that falls on a rounding boundary may print one digit apart).

The openvino-tensorflow backend lives in its own image: tests/test_backends_ovtf_image.py holds it
to the same file.
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import (
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
    assert_matches_golden,
    data_lines,
    golden_agreement,
    run_cli,
)


@pytest.mark.parametrize("encoder", ["compiled", "python"])
@pytest.mark.parametrize("backend", ["openvino", "onnxruntime", "tensorflow"])
def test_default_model_reproduces_gatk_460(tmp_path, backend, encoder):
    out = tmp_path / "smoke.cnn_2d.vcf.gz"
    result = run_cli(
        "score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--tensor-type",
        "read_tensor", "--backend", backend, "--encoder", encoder, "--precision", "fp32",
        "--metrics-json", tmp_path / "metrics.json", "-O", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "using GATK's small_2d" in result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert (metrics["backend"], metrics["encoder"]) == (backend, encoder)
    assert metrics["effective_precision"] == "fp32"
    assert_matches_golden(out)


def test_the_golden_comparison_fails_on_a_score_one_digit_off(tmp_path):
    """The check can fail: one record's printed score moved by 0.002 breaks the tolerance."""
    golden_lines = data_lines(SMOKE_VCF.parent / "gatk460_oracle.cnn_2d.vcf.gz")
    fields = golden_lines[100].split("\t")
    items = fields[7].split(";")
    (at,) = [index for index, item in enumerate(items) if item.startswith("CNN_2D=")]
    items[at] = f"CNN_2D={float(items[at].partition('=')[2]) + 0.002:.3f}"
    fields[7] = ";".join(items)
    moved = tmp_path / "moved.vcf"
    moved.write_text("\n".join([*golden_lines[:100], "\t".join(fields), *golden_lines[101:]]))
    worst, identical, count = golden_agreement(moved)
    assert (round(worst, 6), identical, count) == (0.002, 251, 252)
    with pytest.raises(AssertionError, match=re.escape("max |delta| 0.002")):
        assert_matches_golden(moved)
