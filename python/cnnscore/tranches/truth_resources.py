"""Truth resources: which input variants a truth VCF confirms, GATK's way.

FilterVariantTranches (which scores count as truth) and write-tensors (which candidates are
labelled true) must agree on what "the resource has this variant" means, so both use this module:
a variant matches a resource record with the same start that lists one of its ALTs once both are
written over the longer REF (GATK's ``isAlleleInList``). Resources are read through their index,
so memory never holds more than one position's records.
"""

from __future__ import annotations

import gzip
import os
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pysam

from ..encode.variant_type import is_symbolic_allele
from ..errors import InputError
from ..io.index_checks import check_vcf_index_kind, tabix_index_problem
from ..io.locations import INDEX_DELIMITER, local_file_and_index
from ..io.sequence_dictionary import vcf_dictionary
from ..io.tribble_index import MAGIC as TRIBBLE_MAGIC
from ..io.vcf_text import VcfRecord, check_bgzf_end

#: Resource records stepped over one by one before a cursor seeks by the index instead: dense
#: queries stream the resource, sparse ones (a small VCF against dbSNP) jump.
_MAX_STEPS = 64


class InconsistentReferenceError(ValueError):
    """Two records at one start whose REFs have equal length but different bases."""


def normalised_allele(allele: str) -> str:
    """htsjdk upper-cases base alleles on creation; symbolic ones keep their text."""
    return allele if is_symbolic_allele(allele) else allele.upper()


def _extended(allele: str, suffix: str) -> str | None:
    """``Allele.extend`` as GATK's ``createAlleleMapping`` applies it: bases get the extra REF
    suffix, ``*`` maps to itself, symbolic alleles have no mapping."""
    if allele == "*":
        return allele
    if is_symbolic_allele(allele):
        return None
    return allele + suffix


def is_allele_in_list(ref: str, alt: str, other_ref: str, other_alts: Sequence[str]) -> bool:
    """GATKVariantContextUtils.isAlleleInList: is ``alt`` (over ``ref``) among ``other_alts``
    (over ``other_ref``) once both are written over the longer REF? The shorter REF's alleles
    are extended by the longer REF's extra bases (``AC>A`` equals ``ACT>AT`` over ``ACT``).
    Equal-length, different REFs are an error in GATK: raises InconsistentReferenceError."""
    if ref == other_ref:
        return alt in other_alts
    if len(ref) == len(other_ref):
        raise InconsistentReferenceError(f"{ref} vs {other_ref}")
    if len(ref) > len(other_ref):
        suffix = ref[len(other_ref) :]
        return alt in {_extended(other, suffix) for other in other_alts}
    extended = _extended(alt, other_ref[len(ref) :])
    return extended is not None and extended in other_alts


@dataclass(frozen=True)
class ResourceSite:
    pos: int
    ref: str
    alts: tuple[str, ...]


class ResourceCursor:
    """One truth resource, read through its tabix/CSI index, answering "which records start at
    chrom:pos?". Queries in file order step forward through one open iterator; a query behind the
    cursor, on another contig, or far ahead seeks by the index, so any input order is correct and
    memory never holds more than the records at one position.

    The index is the one attached with htslib's ``VCF##idx##INDEX`` (the workflow passes each
    resource so, as Cromwell may localise an index away from its VCF), else ``VCF.tbi``/``.csi``
    beside it; either way it must belong to the VCF (``io.index_checks``)."""

    def __init__(self, location: str):
        path, attached = local_file_and_index(location, "resource VCF does not exist")
        self.path = path
        if _is_bcf(path):
            raise InputError(
                "BCF resources are not supported: convert with `bcftools view -Oz` and index it",
                path=path,
            )
        self._copy: tempfile.TemporaryDirectory | None = None
        try:
            self._open(path, attached)
        except BaseException:
            if self._copy is not None:  # an unsorted resource, a full disk, Ctrl-C: not left
                self._copy.cleanup()
            raise
        self._contigs = set(self._tabix.contigs)
        self._lines: Iterator[str] = iter(())
        self._head: ResourceSite | None = None
        self._query: tuple[str, int] | None = None
        self._found: list[ResourceSite] = []

    def _open(self, path: str, attached: str | None) -> None:
        """``self._tabix``, through the index beside the VCF or attached to its name; a
        plain-text VCF through a bgzip copy of it in ``self._copy``, with a tabix index."""
        read, index = path, attached
        if _is_plain_text(path):
            _check_tribble_index(path, attached or path + TRIBBLE_SUFFIX)
            self._copy = tempfile.TemporaryDirectory(prefix="cnnscore-resource-")
            read, index = _bgzip_copy(path, self._copy.name), None
        else:
            beside = (path + s for s in (".tbi", ".csi") if os.path.isfile(path + s))
            index = attached or next(beside, None)
            if index is None:
                raise InputError(
                    "resource VCF has no index (.tbi or .csi beside it, or attached as "
                    f"VCF{INDEX_DELIMITER}INDEX): bgzip it and run `tabix -p vcf` on it",
                    path=path,
                )
            check_vcf_index_kind(path, index)
            check_bgzf_end(path)  # cut between blocks: its index still answers, sites missing
        try:
            self._tabix = pysam.TabixFile(read, index=index, encoding="utf-8")  # VCF 4.3's text
        except NotImplementedError:  # htslib cannot seek in plain gzip
            raise InputError(
                "resource is gzip- but not bgzip-compressed: recompress it with bgzip", path=path
            ) from None
        except (OSError, ValueError) as err:
            raise InputError(
                f"cannot read the resource as a bgzip VCF with its index ({err})", path=path
            ) from None
        problem = tabix_index_problem(self._tabix, index)
        if problem:
            self._tabix.close()
            raise InputError(problem, path=path)

    def close(self) -> None:
        self._tabix.close()
        if self._copy is not None:
            self._copy.cleanup()

    def sequence_dictionary(self) -> dict[str, int | None] | None:
        """The resource's dictionary as GATK reads it: its ##contig lines, else the contigs its
        index lists (``io.sequence_dictionary``)."""
        try:
            header = list(self._tabix.header)
        except UnicodeDecodeError as err:
            raise InputError(
                f"the header is not UTF-8 text ({err.reason} at byte {err.start} of a line)",
                path=self.path,
            ) from None
        return vcf_dictionary(header, lambda: self._tabix.contigs, self.path)

    def at(self, chrom: str, pos: int) -> list[ResourceSite]:
        """Resource records whose POS is ``pos`` on ``chrom``, in file order."""
        if self._query == (chrom, pos):
            return self._found
        if self._query is None or self._query[0] != chrom or pos < self._query[1]:
            self._seek(chrom, pos)
        self._query = (chrom, pos)
        self._step_to(chrom, pos)
        found = []
        while self._head is not None and self._head.pos == pos:
            found.append(self._head)
            self._advance()
        self._found = found
        return found

    def _step_to(self, chrom: str, pos: int) -> None:
        for _ in range(_MAX_STEPS):
            if self._head is None or self._head.pos >= pos:
                return
            self._advance()
        if self._head is not None and self._head.pos < pos:
            self._seek(chrom, pos)
        while self._head is not None and self._head.pos < pos:  # records spanning pos
            self._advance()

    def _seek(self, chrom: str, pos: int) -> None:
        if chrom not in self._contigs:
            self._lines = iter(())
        else:
            try:
                self._lines = self._tabix.fetch(chrom, max(pos - 1, 0))
            except (OSError, ValueError) as err:
                raise InputError(f"resource index is unusable ({err})", path=self.path) from None
        self._advance()

    def _advance(self) -> None:
        try:
            line = next(self._lines, None)
        except (OSError, ValueError) as err:
            raise InputError(f"resource VCF is corrupt ({err})", path=self.path) from None
        self._head = None if line is None else self._parse(line)

    def _parse(self, line: str) -> ResourceSite:
        columns = line.split("\t", 5)
        try:
            _chrom, pos, _id, ref, alt = columns[:5]
            position = int(pos)
        except ValueError:
            raise InputError(f"malformed record '{line[:60]}'", path=self.path) from None
        alts = () if alt == "." else tuple(normalised_allele(a) for a in alt.split(","))
        return ResourceSite(position, ref.upper(), alts)


#: The Tribble index GATK's IndexFeatureFile (and a GATK run's plain .vcf output) puts beside a
#: plain-text VCF; htslib reads no such index
TRIBBLE_SUFFIX = ".idx"


def _is_plain_text(path: str) -> bool:
    """Neither gzip nor BGZF (whose files start 1f 8b): a plain-text VCF."""
    try:
        with open(path, "rb") as handle:
            return handle.read(2) != b"\x1f\x8b"
    except OSError:
        return False  # TabixFile reports it


def _check_tribble_index(path: str, index: str) -> None:
    """GATK queries a plain-text resource through its Tribble index and refuses one without:
    so does cnnscore, though it reads such a resource through a compressed copy of its own."""
    try:
        with open(index, "rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError:
        raise InputError(
            "resource VCF is plain text and has no index (GATK's Tribble .idx beside it, or "
            f"attached as VCF{INDEX_DELIMITER}INDEX): bgzip it and run `tabix -p vcf` on it, "
            "or `gatk IndexFeatureFile` for the .idx",
            path=path,
        ) from None
    except OSError as err:
        raise InputError(f"cannot read its index {index} ({err.strerror})", path=path) from None
    if magic != TRIBBLE_MAGIC:
        raise InputError(
            f"{index} is not a Tribble index (.idx), the index of a plain-text VCF", path=path
        )


def _bgzip_copy(path: str, folder: str) -> str:
    """A bgzip copy of a plain-text resource in ``folder``, with its tabix index: htslib reads
    no Tribble index, and a position query needs one (dbSNP's plain VCF: 10 GB to step
    through otherwise). Said on stderr, with its cost, as the copy takes a while."""
    started = time.monotonic()
    copy = os.path.join(folder, "resource.vcf.gz")
    try:
        pysam.tabix_compress(path, copy)
        pysam.tabix_index(copy, preset="vcf")
    except (OSError, ValueError) as err:
        raise InputError(
            f"cannot index a compressed copy of the plain-text resource ({err}): is it a VCF "
            "sorted by position?",
            path=path,
        ) from None
    print(
        f"cnnscore: note: {path} is plain text: read through a bgzip copy with a tabix index "
        f"made in {folder} ({time.monotonic() - started:.1f} s; bgzip and tabix it once to "
        "skip this)",
        file=sys.stderr,
    )
    return copy


def _is_bcf(path: str) -> bool:
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read(3) == b"BCF"
    except (OSError, EOFError, zlib.error):
        return False  # not gzip at all: TabixFile reports it


def matches_truth(record: VcfRecord, cursors: list[ResourceCursor], role: str) -> bool:
    """GATK's resource test, in its order: resources as given, their records at the variant's
    start, then the variant's alts; the first match wins (so a later inconsistency is moot).
    ``role`` names the variant's file in the error (``input``, ``candidates``)."""
    alts = [normalised_allele(alt) for alt in record.alts]
    for cursor in cursors:
        for site in cursor.at(record.chrom, record.pos):
            for alt in alts:
                try:
                    if is_allele_in_list(record.ref, alt, site.ref, site.alts):
                        return True
                except InconsistentReferenceError:
                    raise InputError(
                        f"inconsistent references at the same position: {record.ref} in the "
                        f"{role} vs {site.ref} in the resource",
                        path=cursor.path,
                        record=record.label,
                    ) from None
    return False
