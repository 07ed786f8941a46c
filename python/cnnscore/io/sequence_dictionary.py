"""GATK's sequence-dictionary check between two VCFs: are they on the same reference?

GATK compares every feature input's dictionary with the driving VCF's at start-up
(``GATKTool.validateSequenceDictionaries`` -> ``SequenceDictionaryUtils.validateDictionaries``,
standard settings: no superset or order required). A dictionary is the ``##contig`` lines
(``VCFHeader.getSequenceDictionary``; a line without a length has an unknown one), or, where a
file has none, the contigs its index lists, every length unknown
(``FeatureDataSource.getSequenceDictionary``); a file with neither has none, and nothing is
checked against it. Two dictionaries are refused when they share no contig name, or when a shared
contig has two known lengths that differ (a length of 0 is htsjdk's "unknown" too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import InputError
from .vcf_text import contig_length, header_contigs


def vcf_dictionary(
    header_lines: Sequence[str], index_contigs: Callable[[], Sequence[str]], path: str
) -> dict[str, int | None] | None:
    """The dictionary GATK reads for a VCF, contig -> length (None where the file does not say):
    its ``##contig`` lines, else the contigs its index lists (``index_contigs()``, asked only
    then; empty for an unindexed file), else None. A length that is not a number is refused, as
    htsjdk's ``Integer.parseInt`` refuses it."""
    contigs = header_contigs(header_lines)
    if not contigs:
        return {name: None for name in index_contigs()} or None
    return {
        name: None if length is None else contig_length(name, length, path)
        for name, length in contigs.items()
    }


def check_same_reference(
    dictionary: dict[str, int | None] | None,
    path: str,
    best: dict[str, int | None] | None,
    best_path: str,
) -> None:
    """Refuse ``path`` as GATK refuses a feature file whose dictionary does not fit the driving
    VCF's (``best``, read from ``best_path``); one line, naming the contig and both lengths."""
    if dictionary is None or best is None:
        return
    common = [name for name in best if name in dictionary]
    if not common:
        raise InputError(
            f"no contig in common with {best_path} ({_names(dictionary)} in this file, "
            f"{_names(best)} there): the two are on different reference builds or name contigs "
            "differently (GATK refuses them: no overlapping contigs)",
            path=path,
        )
    for name in common:
        length, best_length = dictionary[name], best[name]
        if length and best_length and length != best_length:
            raise InputError(
                f"contig {name} has length {length} in this file but {best_length} in "
                f"{best_path}: the two are on different reference builds (GATK refuses them: "
                "same contig name, different lengths)",
                path=path,
            )


def _names(dictionary: dict[str, int | None]) -> str:
    names = list(dictionary)
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def check_header_on_reference(
    contig_lengths: dict[str, int], path: str, reference: dict[str, int], reference_path: str
) -> None:
    """A VCF header's ``##contig`` lengths against the reference's: a contig of another length
    is another build, whose records would be read against the wrong bases (GATK's dictionary
    check refuses it). Contigs the reference lacks are left to the records that use them."""
    for contig, length in contig_lengths.items():
        if contig in reference and reference[contig] != length:
            raise InputError(
                f"contig {contig} has length {length} in the VCF header but "
                f"{reference[contig]} in the reference {reference_path}",
                path=path,
            )
