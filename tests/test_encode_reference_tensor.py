"""The 1D reference window and tensor, and the annotation vector (spec §4, checklist items 1-3)."""

from __future__ import annotations

import numpy as np
import pysam
import pytest

from cnnscore.encode.reference_tensor import annotation_vector, reference_tensor
from cnnscore.errors import InputError
from cnnscore.io.reference import Reference

# A 300-base contig: position p (1-based) holds SEQ[p-1]; lower case and IUPAC codes included.
SEQ = ("ACGT" * 10 + "acgtRYKMN" + "T" * 51) * 3  # 300 bases


@pytest.fixture
def reference(tmp_path):
    fasta = tmp_path / "tiny.fa"
    fasta.write_text(">tiny\n" + "\n".join(SEQ[i : i + 60] for i in range(0, 300, 60)) + "\n")
    pysam.faidx(str(fasta))
    ref = Reference(str(fasta))
    yield ref
    ref.close()


def gatk_bases(first: int, last: int) -> bytes:
    """Hand conversion: upper-case, every non-ACGT to N."""
    text = SEQ[first - 1 : last].upper()
    return "".join(c if c in "ACGT" else "N" for c in text).encode()


def test_window_centres_first_ref_base_at_index_64(reference):
    window = reference.window("tiny", 150, 150)
    assert window == gatk_bases(86, 213)
    assert window[64:65] == gatk_bases(150, 150)


def test_window_upper_cases_and_turns_iupac_into_n(reference):
    window = reference.window("tiny", 110, 110)  # covers 46..173: 'acgtRYKMN' at 41-49, 141-149
    assert b"a" not in window and b"R" not in window
    assert window == gatk_bases(46, 173)


def test_window_near_contig_start_is_not_centred_and_nul_padded(reference):
    # start 10, SNP: GATK takes [1, 74] and NUL-pads to 128; the variant sits at index 9.
    window = reference.window("tiny", 10, 10)
    assert window == gatk_bases(1, 74) + b"\x00" * 54
    # a 5-base REF at the same start brings 4 more bases: [1, 14 + 64]
    assert reference.window("tiny", 10, 14) == gatk_bases(1, 78) + b"\x00" * 50


def test_window_near_contig_end_has_trailing_nuls(reference):
    window = reference.window("tiny", 290, 290)
    assert window == gatk_bases(226, 300) + b"\x00" * 53


def test_reference_tensor_one_hot_ambiguity_and_nul_stop():
    tensor = reference_tensor(b"ACGTNRK\x00A" + b"\x00" * 119)
    assert tensor.shape == (128, 4) and tensor.dtype == np.float32
    np.testing.assert_array_equal(tensor[:4], np.eye(4))
    np.testing.assert_allclose(tensor[4], [0.25] * 4)
    np.testing.assert_allclose(tensor[5], [0.5, 0, 0, 0.5])  # GATK's R, permuted vs IUPAC
    np.testing.assert_allclose(tensor[6], [0, 0, 0.5, 0.5])
    assert tensor[7:].sum() == 0  # the A after the first NUL is never read


def test_gatk_ambiguity_table_values():
    codes = b"KMRYSWBVHDXN"
    tensor = reference_tensor(codes)
    expected = [
        [0, 0, .5, .5], [.5, .5, 0, 0], [.5, 0, 0, .5], [0, .5, .5, 0], [0, .5, 0, .5],
        [.5, 0, .5, 0], [0, .333, .333, .334], [.333, .333, 0, .334], [.333, .333, .334, 0],
        [.333, 0, .333, .334], [.25] * 4, [.25] * 4,
    ]  # fmt: skip
    np.testing.assert_allclose(tensor, np.array(expected, np.float32))


def test_reference_tensor_rejects_unknown_characters():
    with pytest.raises(ValueError, match="unknown reference base '-'"):
        reference_tensor(b"AC-T")


KEYS = ("MQ", "DP", "SOR", "FS", "QD", "MQRankSum", "ReadPosRankSum")


def test_annotation_vector_order_absent_and_nan():
    info = {"DP": "35", "MQ": "60.00", "QD": "nan", "FS": "-1.5e1", "DB": None}
    vector = annotation_vector(info, KEYS, path="x.vcf", record="chr1:5 A>C")
    np.testing.assert_array_equal(vector, np.array([60, 35, 0, -15, 0, 0, 0], np.float32))


@pytest.mark.parametrize("value", [".", "1,2", None])
def test_annotation_vector_rejects_values_gatk_cannot_parse(value):
    with pytest.raises(InputError) as caught:
        annotation_vector({"MQ": value}, KEYS, path="in.vcf", record="chr1:5 A>C")
    message = str(caught.value)
    assert message.startswith("in.vcf: record chr1:5 A>C: annotation MQ")
