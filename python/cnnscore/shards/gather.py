"""``cnnscore gather-vcfs``: concatenate scored shards, in shard order, into one indexed VCF.

Shards come from ``split-intervals`` in file order, so concatenating them restores input order.
The header is taken once (from the first shard); every shard must carry the same #CHROM line and
define the same INFO, FORMAT, FILTER, ALT and contig lines: a shard scored with another model
(``CNN_1D`` among ``CNN_2D`` shards) or against another reference would otherwise be gathered
under a header that does not describe its records, and filtering would pass them unscored.
Shards scored on different machines may differ in their provenance lines (the precision the
runtime ran and the CPU's instruction sets): every distinct one is kept, so the gathered header
records every configuration that scored part of it.
"""

from __future__ import annotations

from ..errors import InputError
from ..io.locations import first_repeat
from ..io.vcf_output import AtomicVcfWriter
from ..io.vcf_text import VcfReader, VcfRecord, header_contig_rank, listed_before

_PROVENANCE = "##cnnscoreCommandLine=<ID=score,"
_PASS = "##FILTER=<ID=PASS,"
_DEFINITIONS = ("##INFO=", "##FORMAT=", "##FILTER=", "##ALT=", "##contig=")


def _definitions(header: list[str]) -> set[str]:
    """The definitions shards must share, less PASS's: htslib writes it into every BCF header,
    and VCF makes it implicit (so a .bcf and a .vcf.gz shard of one run differ only there)."""
    return {line for line in header if line.startswith(_DEFINITIONS) and not line.startswith(_PASS)}


def _short(line: str) -> str:
    """``##INFO=<ID=CNN_1D,...>``: a definition by its ID."""
    head, comma, _ = line.partition(",")
    return f"{head},...>" if comma else line


def gathered_header(headers: list[list[str]]) -> list[str]:
    """The first shard's header with the distinct score provenance lines of all shards in its
    place (in shard order)."""
    first = headers[0]
    lines = list(dict.fromkeys(line for h in headers for line in h if line.startswith(_PROVENANCE)))
    keep = [line for line in first if not line.startswith(_PROVENANCE)]
    at = next((i for i, line in enumerate(first) if line.startswith(_PROVENANCE)), len(first) - 1)
    return keep[:at] + lines + keep[at:]


def gather_vcfs(inputs: list[str], output: str) -> int:
    """Write the concatenation; returns the number of records."""
    if not inputs:
        raise InputError("no shards given", setting="inputs")
    _refuse_repeats(inputs)
    readers = [VcfReader(path) for path in inputs]
    first = readers[0]
    for reader in readers[1:]:
        if reader.header_lines[-1] != first.header_lines[-1]:
            raise InputError(f"samples differ from {first.path}", path=reader.path)
        ours, theirs = _definitions(reader.header_lines), _definitions(first.header_lines)
        if ours != theirs:
            line = min(ours - theirs) if ours - theirs else min(theirs - ours)
            where = "only this shard" if line in ours else f"only {first.path}"
            raise InputError(
                f"its header differs from the first shard's: {where} has {_short(line)} "
                "(shards of one run share one model and one reference)",
                path=reader.path,
            )
    writer = AtomicVcfWriter(output, source=first.path, header=first.header_lines)
    count = 0
    try:
        writer.write_lines(gathered_header([reader.header_lines for reader in readers]))
        last: tuple[str, int, str] | None = None  # the last record written so far, its shard
        rank = header_contig_rank(first.header_lines)
        done: set[str] = set()  # contigs left behind: a record on one again is out of order
        for reader in readers:
            previous = last  # the previous shards' last record
            for record in reader.records():
                if last and record.chrom != last[0]:
                    done.add(last[0])
                    again = record.chrom in done
                    if again or listed_before(rank, record.chrom, last[0]):
                        _refuse_contig_order(record, last, reader.path, again)
                elif previous and previous[0] == record.chrom and record.pos <= previous[1]:
                    _refuse_order(record, previous, reader.path)
                elif last and record.pos < last[1]:
                    raise InputError(
                        f"comes before the shard's previous record ({last[0]}:{last[1]}): the "
                        "shard is not sorted (sort it, e.g. bcftools sort)",
                        path=reader.path,
                        record=record.label,
                    )
                writer.write_record(record.line, source=reader.path)
                count += 1
                last = (record.chrom, record.pos, reader.path)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return count


def _refuse_repeats(inputs: list[str]) -> None:
    """A shard given twice would write each of its records twice (Picard's GatherVcfs refuses
    it: its first record is not after the previous file's first record); a link to it too."""
    repeat = first_repeat(inputs)
    if repeat:
        path, earlier = repeat
        also = "" if earlier == path else f"; {earlier} is the same file"
        raise InputError(f"given twice (-I{also}): its records would be written twice", path=path)


def _refuse_contig_order(
    record: VcfRecord, last: tuple[str, int, str], path: str, again: bool
) -> None:
    """A record on a contig the gathered output has left behind, or that the header's contig
    order puts before the last record's: shards out of order (Picard's GatherVcfs: "First record
    in file ... is not after first record in previous file")."""
    problem = (
        f"{record.chrom} records were already written before {last[0]}"
        if again
        else f"the header's contig order puts {record.chrom} before {last[0]}"
    )
    raise InputError(
        f"comes after {last[0]}:{last[1]} (in {last[2]}), but {problem}: shards out of order "
        "(give them in the header's contig order)",
        path=path,
        record=record.label,
    )


def _refuse_order(record: VcfRecord, previous: tuple[str, int, str], path: str) -> None:
    """Shards of one VCF hold each position once, in order: a record at or before the previous
    shard's last one means the shards overlap (that record would be written twice) or are out
    of order. split-intervals never cuts between two records at one position."""
    if record.pos == previous[1]:
        problem = f"the previous shard {previous[2]} ends at this position too: shards overlap"
    else:
        problem = (
            f"comes before the previous shard {previous[2]}'s last record "
            f"({previous[0]}:{previous[1]}): shards out of order"
        )
    raise InputError(problem, path=path, record=record.label)
