"""The 2D read tensor, quirk by quirk (spec §5 and the §13 checklist), on hand-built reads.

Each expectation is written out by hand from the spec's rules, not computed by the encoder.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnscore.encode.compact import CompactTensors
from cnnscore.encode.read_tensor import (
    aligned_read,
    insertion_map,
    read_tensor,
    reference_row,
    rows_at_height,
    sort_character,
    sorted_reads,
)
from cnnscore.encode.reads import ReadData

POS = 1000
WSTART = POS - 64  # column 0 of the tensor
W = 128
M, I, D, N, S, H = 0, 1, 2, 3, 4, 5  # noqa: E741


def make_read(
    seq: str, cigar, ustart: int, *, qual=30, reverse=False, mate_reverse=False, first=True, mq=60
) -> ReadData:
    quals = (
        np.full(len(seq), qual, dtype=np.uint8) if np.isscalar(qual) else np.array(qual, np.uint8)
    )
    return ReadData(seq.encode(), quals, tuple(cigar), reverse, mate_reverse, first, mq, ustart)


def row_text(read: ReadData, inserts=None) -> str:
    seq, _ = aligned_read(read, WSTART, inserts or {}, W)
    return seq[:W].decode()


REF = b"ACGT" * 32


# --- §5.2 coordinates: POS is column 64 --------------------------------------------------------
def test_variant_position_is_column_64():
    read = make_read("A" * 100, [(M, 100)], ustart=POS)  # starts at the variant
    tensor = read_tensor([read], POS, "SNP", REF)
    filled = np.flatnonzero(tensor[0, :, :4].sum(axis=1) > 0)
    assert filled[0] == 64 and filled[-1] == 127  # truncated at the window end


# --- §5.3 insertion map ------------------------------------------------------------------------
def test_insertion_map_keys_cursor_units_and_keeps_longest():
    a = make_read("A" * 60, [(M, 20), (I, 2), (M, 38)], ustart=WSTART)  # key 20
    b = make_read("A" * 60, [(M, 20), (I, 5), (M, 35)], ustart=WSTART)  # key 20, longer
    c = make_read("A" * 60, [(S, 5), (M, 10), (I, 1), (M, 44)], ustart=WSTART - 7)  # 15 - 7 = 8
    assert insertion_map([a, b, c], WSTART, W) == {20: 5, 8: 1}


def test_insertion_map_cursor_ignores_hard_clips_and_skips():
    # H and N do not advance GATK's cursor, so the insertion key is 10 (M only), not 10 + 3 + 4.
    read = make_read("A" * 40, [(H, 3), (M, 5), (N, 4), (M, 5), (I, 2), (M, 28)], ustart=WSTART)
    assert insertion_map([read], WSTART, W) == {10: 2}


def test_insertion_map_skips_reads_a_window_or_more_away():
    far = make_read("A" * 60, [(M, 20), (I, 3), (M, 37)], ustart=WSTART - 128)  # d = 128
    near = make_read("A" * 60, [(M, 20), (I, 3), (M, 37)], ustart=WSTART - 127)  # d = 127
    assert insertion_map([far], WSTART, W) == {}
    assert insertion_map([near], WSTART, W) == {20 - 127: 3}


# --- §5.4 sort order ---------------------------------------------------------------------------
def test_snp_sort_character_is_base_at_pos_minus_unclipped_start():
    read = make_read("ACGTTGCA", [(M, 8)], ustart=POS - 2)
    assert sort_character(read, POS, "SNP") == "G"  # index POS - ustart = 2
    assert sort_character(make_read("AC", [(M, 2)], ustart=POS - 50), POS, "SNP") == "C"  # clamped
    assert sort_character(make_read("", [], ustart=POS), POS, "SNP") == "Z"


def test_indel_sort_character_walks_all_cigar_ops():
    # v = POS - ustart + 1 = 3; cumulative lengths 2 (S), 6 (M): first > 3 is M -> seq[3]
    read = make_read("AACGTT", [(S, 2), (M, 4)], ustart=POS - 2)
    assert sort_character(read, POS, "INDEL") == "G"
    # cumulative 3 (M) then 5 (D): first > 3 is the D -> its letter
    deletion = make_read("AAAC", [(M, 3), (D, 2), (M, 1)], ustart=POS - 2)
    assert sort_character(deletion, POS, "INDEL") == "D"
    assert sort_character(deletion, POS, "OTHER") == "D"  # OTHER takes the indel path
    short = make_read("AA", [(M, 2)], ustart=POS - 5)  # no op reaches v = 6
    assert sort_character(short, POS, "INDEL") == "Y"


def test_rows_sorted_stably_by_start_then_sort_character():
    r1 = make_read("T" * 80, [(M, 80)], ustart=POS - 10)
    r2 = make_read("A" * 80, [(M, 80)], ustart=POS - 30)
    r3 = make_read("T" * 80, [(M, 80)], ustart=POS - 20)
    r4 = make_read("A" * 80, [(M, 80)], ustart=POS - 5)
    assert sorted_reads([r1, r2, r3, r4], POS, "SNP") == [r2, r4, r3, r1]


# --- §5.5 per-read strings ---------------------------------------------------------------------
def test_read_is_truncated_to_the_window_before_the_shift():
    seq = "C" * 128 + "G" * 22  # 150 bases; the G's would fall inside the window after the shift
    read = make_read(seq, [(M, 150)], ustart=WSTART - 50)  # d = 50
    assert row_text(read) == "C" * 78  # seq[:128][50:]; bases 128..149 are lost, as in GATK


def test_read_right_of_window_start_is_prefixed_with_skip_marks():
    read = make_read("ACGT", [(M, 4)], ustart=WSTART + 3)
    assert row_text(read) == "~~~ACGT"


def test_pads_are_applied_from_the_highest_key_down_on_the_unpadded_string():
    seq = "A" * 10 + "C" * 10 + "G" * 10
    read = make_read(seq, [(M, 10), (D, 2), (M, 10), (D, 3), (M, 10)], ustart=WSTART)
    # own pads: key 10 -> 2, key 22 (cursor moved by the first D) -> 3; key 22 is applied first,
    # to the unpadded string, so the second deletion lands 2 columns right of where it belongs.
    assert row_text(read) == "A" * 10 + "**" + "C" * 10 + "GG" + "***" + "G" * 8


def test_other_reads_insertions_pad_this_read_and_own_insertion_reduces_pad():
    inserts = {20: 5}
    plain = make_read("A" * 40, [(M, 40)], ustart=WSTART)
    assert row_text(plain, inserts) == "A" * 20 + "*****" + "A" * 20
    with_insert = make_read("A" * 20 + "TT" + "A" * 18, [(M, 20), (I, 2), (M, 18)], ustart=WSTART)
    assert row_text(with_insert, inserts) == "A" * 20 + "***" + "TT" + "A" * 18


def test_pad_with_key_below_one_is_prepended_before_the_skip_prefix():
    # An insertion at key -5 (before the window) in another read; this read starts 10 columns in.
    read = make_read("C" * 20, [(M, 20)], ustart=WSTART + 10)
    assert row_text(read, {-5: 3}) == "***" + "~" * 10 + "C" * 20


def test_qualities_follow_the_string_edits():
    read = make_read("ACGT", [(M, 2), (D, 1), (M, 2)], ustart=WSTART + 2, qual=[10, 20, 30, 40])
    seq, qual = aligned_read(read, WSTART, {}, W)
    assert seq == b"~~AC*GT"
    assert list(qual) == [0, 0, 10, 20, 0, 30, 40]


# --- §5.5 filling the row ----------------------------------------------------------------------
def test_p_hot_qualities_and_pad_channel():
    read = make_read("AC", [(M, 1), (D, 1), (M, 1)], ustart=WSTART, qual=[30, 0])
    tensor = read_tensor([read], POS, "SNP", REF)
    np.testing.assert_allclose(
        tensor[0, 0, :5], [0.999, 0.001 / 3, 0.001 / 3, 0.001 / 3, 0], rtol=1e-6
    )
    np.testing.assert_array_equal(tensor[0, 1, :5], [0, 0, 0, 0, 1])  # the deletion
    np.testing.assert_allclose(tensor[0, 2, :5], [1 / 3, 0, 1 / 3, 1 / 3, 0], rtol=1e-6)  # q = 0


def test_ambiguous_read_base_uses_gatks_table_and_ignores_quality():
    read = make_read("RN", [(M, 2)], ustart=WSTART, qual=[2, 40])
    tensor = read_tensor([read], POS, "SNP", REF)
    np.testing.assert_allclose(tensor[0, 0, :4], [0.5, 0, 0, 0.5])  # GATK's R (not IUPAC's A/G)
    np.testing.assert_allclose(tensor[0, 1, :4], [0.25] * 4)


def test_unknown_read_symbol_is_an_error():
    with pytest.raises(ValueError, match="unknown symbol '='"):
        read_tensor([make_read("A=A", [(M, 3)], ustart=WSTART)], POS, "SNP", REF)


def test_flags_cover_first_to_last_column_half_open():
    read = make_read(
        "A" * 10, [(M, 10)], ustart=WSTART + 5, reverse=True, mate_reverse=True, first=False, mq=255
    )
    tensor = read_tensor([read], POS, "SNP", REF)
    flags = tensor[0, :, 10:15]
    expected = np.zeros((W, 5), np.float32)
    expected[5:14] = [1, 1, 0, 1, 255 / 60]  # columns 5..13: the last filled column (14) excluded
    np.testing.assert_allclose(flags, expected)
    assert flags[5, 4] == pytest.approx(4.25)  # MQ / 60, not clipped


def test_single_column_read_gets_no_flags_and_unpaired_read_is_not_first():
    single = make_read("A", [(M, 1)], ustart=WSTART + 7, first=False)
    pair = make_read("A" * 4, [(M, 4)], ustart=WSTART, first=False)
    tensor = read_tensor([single, pair], POS, "INDEL", REF)
    rows = {int(np.flatnonzero(tensor[r, :, :4].sum(1))[0]): r for r in range(2)}
    assert tensor[rows[7], :, 10:15].sum() == 0
    np.testing.assert_allclose(tensor[rows[0], 0:3, 13], 1.0)  # not-first-of-pair over [0, 3)
    assert tensor[rows[0], 3, 13] == 0


def test_flags_span_includes_prepended_pad_in_column_zero():
    read = make_read("C" * 5, [(M, 5)], ustart=WSTART + 10, reverse=True)
    inserts = {-5: 2}
    tensor = read_tensor([read], POS, "SNP", REF)
    assert tensor[0, 0, 10] == 0  # without the pad, flags start at column 10
    # With another read's insertion before the window, '*' lands in columns 0-1 (before the '~'),
    # so this read's flag range starts at column 0.
    other = make_read("G" * 60, [(M, 10), (I, 2), (M, 48)], ustart=WSTART - 15)  # key 10 - 15
    assert insertion_map([other], WSTART, W) == {-5: 2} == inserts
    tensor = read_tensor([read, other], POS, "SNP", REF)
    row = 0 if tensor[0, 12, 1] > 0 else 1
    np.testing.assert_array_equal(tensor[row, 0:2, 4], [1, 1])
    np.testing.assert_array_equal(tensor[row, 0:16, 10], 1.0)  # [0, last=16)


def test_a_read_starting_at_zero_is_cut_to_other_reads_pads_and_sorts_by_that_start():
    """GATK sends start 0 for an unmapped read placed beside its mate (test_encode_reads): d is
    the whole window start, so the shift leaves nothing of it but the pileup's pads, which land
    at column 0; it sorts by start 0 among reads of its sort character."""
    unmapped = make_read("ACGTA" * 10, [], ustart=0, mq=0)
    assert row_text(unmapped) == ""
    assert row_text(unmapped, {20: 3, -4: 2}) == "*****"
    assert sort_character(unmapped, POS, "SNP") == "A"  # SEQ[clamp(POS - 0)]: its last base
    assert sort_character(unmapped, POS, "INDEL") == "Y"  # no CIGAR op reaches POS + 1
    mapped = make_read("A" * 80, [(M, 80)], ustart=POS - 10)
    assert sorted_reads([mapped, unmapped], POS, "SNP") == [unmapped, mapped]
    inserted = make_read("A" * 80, [(M, 30), (I, 3), (M, 47)], ustart=WSTART)  # key 30
    tensor = read_tensor([unmapped, inserted], POS, "INDEL", REF)  # 'A' < 'Y': inserted first
    np.testing.assert_array_equal(tensor[1, :3, 4], 1.0)  # the pads, at columns 0-2
    assert tensor[1, :, :4].sum() == 0 and tensor[1, 3:, 4].sum() == 0
    np.testing.assert_array_equal(tensor[1, :2, 12], 1.0)  # first of pair over [first 0, last 2)
    assert tensor[1, 2:, 10:15].sum() == 0


# --- §5.6 reference channels -------------------------------------------------------------------
def test_reference_channels_on_every_row_with_pileup_insertion_pads():
    inserted = make_read("A" * 30, [(M, 3), (I, 2), (M, 25)], ustart=WSTART)
    tensor = read_tensor([inserted], POS, "SNP", b"ACGTN" + b"\x00" * 123, read_limit=4)
    assert reference_row(b"ACGTN", {3: 2}, W) == b"ACG**TN"
    for row in range(4):  # rows without reads carry the reference too
        np.testing.assert_array_equal(tensor[row, 0, 5:10], [1, 0, 0, 0, 0])
        np.testing.assert_array_equal(tensor[row, 3, 5:10], [0, 0, 0, 0, 1])  # '*'
        np.testing.assert_array_equal(tensor[row, 5, 5:10], [0, 0, 0, 1, 0])  # T after the pads
        np.testing.assert_allclose(tensor[row, 6, 5:9], [0.25] * 4)  # N
        assert tensor[row, 7:, 5:10].sum() == 0  # NUL bytes are ignored


def test_negative_reference_key_prepends():
    assert reference_row(b"ACGT", {-2: 1, 2: 1}, W) == b"*AC*GT"


def test_empty_pileup_is_reference_only():
    tensor = read_tensor([], POS, "SNP", REF)
    assert tensor[:, :, :5].sum() == 0 and tensor[:, :, 10:].sum() == 0
    assert tensor[:, :, 5:9].sum() == 128 * 128


def test_compact_tensor_is_the_full_one_cut_after_the_first_empty_row():
    """The encoder sends compact tensors; restoring the height must give the full tensor bit for
    bit, and a ragged chunk of different heights must give each at any height."""
    reads = [
        make_read("A" * 60, [(M, 60)], ustart=WSTART + 3, reverse=True),
        make_read("C" * 40, [(M, 20), (I, 2), (M, 18)], ustart=WSTART + 30, mq=20),
        make_read("G" * 50, [(M, 50)], ustart=WSTART + 50, first=False),
    ]
    reference = b"ACGTN" * 25 + b"ACG"
    for count, limit in [(0, 128), (1, 128), (3, 128), (3, 3), (3, 2)]:
        full = read_tensor(reads[:count], POS, "SNP", reference, read_limit=limit)
        compact = read_tensor(reads[:count], POS, "SNP", reference, read_limit=limit, compact=True)
        assert compact.shape[0] == min(count + 1, limit)
        np.testing.assert_array_equal(rows_at_height(compact[None], limit)[0], full)
        np.testing.assert_array_equal(rows_at_height(full[None], 2)[0], full[:2])
    tall = read_tensor(reads, POS, "SNP", reference, compact=True)
    short = read_tensor(reads[:1], POS, "SNP", reference, compact=True)
    chunk = CompactTensors([short, tall])
    assert chunk.shape == (2, 4, W, 15) and list(chunk.heights) == [2, 4]
    np.testing.assert_array_equal(
        chunk.at_height(128)[0], read_tensor(reads[:1], POS, "SNP", reference)
    )
    np.testing.assert_array_equal(chunk.at_height(128, np.array([1]))[0],
                                  read_tensor(reads, POS, "SNP", reference))  # fmt: skip
    np.testing.assert_array_equal(chunk.at_height(3)[1], tall[:3])
    np.testing.assert_array_equal(chunk.at_height(3)[0], np.stack([short[0], short[1], short[1]]))
