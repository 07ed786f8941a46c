"""io/fasta_index.py: a .fai is checked against the FASTA beside it, plain or bgzip, on FASTAs
that samtools (here pysam.faidx, the same htslib code) indexed, and on indexes of other ones."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pysam
import pytest

from cnnscore.errors import InputError
from cnnscore.io.reference import Reference

#: three contigs: one longer than a line, one shorter, one ending at a line's end
SEQUENCES = {"chrA": "ACGTN" * 37 + "AC", "chrB": "GATTACA", "chrC": "T" * 120}


def write_fasta(path: Path, width: int, *, headers: dict[str, str] | None = None,
                newline: str = "\n", last_newline: bool = True) -> Path:  # fmt: skip
    lines = []
    for name, bases in SEQUENCES.items():
        lines.append(f">{name}{(headers or {}).get(name, '')}")
        lines += [bases[i : i + width] for i in range(0, len(bases), width)]
    path.write_bytes((newline.join(lines) + (newline if last_newline else "")).encode())
    return path


def indexed(path: Path, bgzip: bool) -> Path:
    if bgzip:
        pysam.tabix_compress(str(path), f"{path}.gz", force=True)
        path = Path(f"{path}.gz")
    pysam.faidx(str(path))
    return path


@pytest.mark.parametrize("bgzip", [False, True])
@pytest.mark.parametrize(
    "options",
    [
        {"width": 60},
        {"width": 7, "headers": {"chrA": " a description", "chrC": "\tAC:X"}},
        {"width": 50, "newline": "\r\n"},
        {"width": 60, "last_newline": False},
    ],
)
def test_its_own_index_fits(tmp_path, bgzip, options):
    fasta = indexed(write_fasta(tmp_path / "ref.fa", **options), bgzip)
    reference = Reference(str(fasta))
    assert reference.lengths == {name: len(bases) for name, bases in SEQUENCES.items()}
    assert reference.bases("chrA", 1, 8) == b"ACGTNACG"
    reference.close()


@pytest.mark.parametrize("bgzip", [False, True])
def test_an_index_of_the_same_sequences_at_another_width_is_refused(tmp_path, bgzip):
    fasta = indexed(write_fasta(tmp_path / "ref.fa", 60), bgzip)
    other = indexed(write_fasta(tmp_path / "other.fa", 70), bgzip)
    shutil.copyfile(f"{other}.fai", f"{fasta}.fai")  # names and lengths agree, lines do not
    with pytest.raises(InputError, match="index does not fit it: contig chr"):
        Reference(str(fasta))


def test_an_index_of_a_renamed_contig_is_refused(tmp_path):
    fasta = indexed(write_fasta(tmp_path / "ref.fa", 60), bgzip=False)
    index = Path(f"{fasta}.fai")
    index.write_text(index.read_text().replace("chrB", "chrX"))
    with pytest.raises(InputError, match="contig chrX should start after the line '>chrX'"):
        Reference(str(fasta))


def test_a_damaged_bgzip_fasta_or_gzi_is_named_for_what_it_is(tmp_path):
    """The check reads the FASTA where the index points: a corrupt block there, or a .gzi whose
    block offsets cannot be, is said as such, not blamed on the .fai."""
    fasta = indexed(write_fasta(tmp_path / "ref.fa", 60), bgzip=True)
    good = fasta.read_bytes()
    damaged = bytearray(good)
    damaged[40:60] = bytes(20)  # inside the first block's deflate data
    fasta.write_bytes(bytes(damaged))
    with pytest.raises(InputError, match="cannot be read around contig chr[ABC] "):
        Reference(str(fasta))
    fasta.write_bytes(good)
    gzi = Path(f"{fasta}.gzi")
    gzi.write_bytes((2).to_bytes(8, "little") + b"".join(
        value.to_bytes(8, "little") for value in (100, 5000, 200, 10)
    ))  # fmt: skip
    with pytest.raises(InputError, match="gzi index cannot be read .*out of order"):
        Reference(str(fasta))


def test_a_bgzip_fasta_without_its_gzi_is_refused_and_its_folder_left_alone(tmp_path):
    """htslib builds a missing .gzi into the reference's folder, and pysam crashed (a
    segmentation fault) where that folder was read-only; GATK refuses such a reference. Also in
    the WDL's form, the .fai attached by name and no .gzi given."""
    fasta = indexed(write_fasta(tmp_path / "ref.fa", 60), bgzip=True)
    Path(f"{fasta}.gzi").unlink()
    before = sorted(tmp_path.iterdir())
    for given in (str(fasta), f"{fasta}##idx##{fasta}.fai"):
        with pytest.raises(InputError, match=r"bgzip-compressed but has no \.gzi index"):
            Reference(given)
    assert sorted(tmp_path.iterdir()) == before


def test_a_plain_gzip_fasta_is_told_from_a_bgzip_one(tmp_path):
    """A plain gzip FASTA cannot be read by position (htslib refuses to index it): said as such,
    not as a bgzip FASTA missing its .gzi, whose remedy (samtools faidx) would fail on it."""
    plain = write_fasta(tmp_path / "ref.fa", 60)
    pysam.faidx(str(plain))
    zipped = tmp_path / "ref.fa.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    shutil.copyfile(f"{plain}.fai", f"{zipped}.fai")
    with pytest.raises(InputError, match="compressed with plain gzip, .* recompress it with bgzip"):
        Reference(str(zipped))
