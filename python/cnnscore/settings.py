"""One declaration per option: a stage's settings are the fields of its options dataclass, each
carrying what a command line needs to know about it (its flags, GATK's spellings, how to parse a
value, its help, whether it holds a path and of which kind).

GATK declares each argument once, as an annotation on the field that holds it, and builds its
parser, help and WDL from those; DeepVariant declares its flags once per stage and hands the core
one options object. Here the stage owns its options class (``scoring/options.py`` and the like),
the command line builds its parser from the fields (``cli/parser.py``), the ``gs://`` layer
reads which fields hold paths, and an error that names a setting is shown under its flag: adding
an option is one field.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: What a path setting holds, which is what the gs:// layer does with it: a VCF (cached with its
#: index), a FASTA or BAM/CRAM (read by range), any other whole file (cached), an output file or
#: folder (staged, uploaded once the command succeeded).
VCF, FASTA, READS, FILE = "vcf", "fasta", "reads", "file"
OUTPUT, OUTPUT_DIR = "output", "output_dir"
PATH_KINDS = (VCF, FASTA, READS, FILE, OUTPUT, OUTPUT_DIR)


@dataclass(frozen=True)
class Flag:
    """How a setting is typed on the command line.

    ``names``: cnnscore's flags, the canonical one first (``-V``, ``--variant``). ``gatk``:
    GATK's names for the same setting where they differ (``--intra-op-threads`` for
    ``--threads``); a subcommand that takes GATK's command lines also takes every long name with
    one dash (``-info-key``), as GATK's parser does (cli.parser). ``switch``: a boolean flag;
    GATK's ``--flag true|false`` form is accepted too. ``repeated``: the flag may be given again,
    each time with one or more values, all kept in order (GATK's ``--snp-tranche 99.9
    --snp-tranche 95`` and ``--snp-tranche 99.9 95`` alike). ``ignored``: accepted for GATK's
    command lines, with this one-line note, and without effect. ``refused``: accepted by the
    parser but stopped with this one line. ``writes``: for an output that is a prefix, the
    suffixes of the files it names (``.json``, ``.html``; a value ending in one is taken as the
    prefix without it), so that what it writes can be told from what it reads. A repeated
    setting's value naming a ``.list`` or ``.args`` file stands for the file's lines, as GATK's
    parser expands them for every collection argument (``-I bams.list``), unless
    ``list_files`` is False (``-L``, ``-XL``: there a ``.list`` is an interval file).
    ``without_reads``: for a GATK engine argument refused because it changes which reads are
    used, the note it gets instead on a command that reads none (filter), where GATK accepts it
    and it changes nothing.
    ``tags``: whether GATK's parser takes a tagged form of the flag (``--resource:hapmap,
    prior=15.0 FILE``), which it does on the arguments whose values are paths (GATKPath,
    FeatureInput); by default those of a VCF, FASTA, reads or output path. The tags are dropped
    with a note (cli.gatk_words).
    """

    names: tuple[str, ...]
    help: str
    parse: Callable[[str], Any] | None = None
    required: bool = False
    repeated: bool = False
    choices: Sequence[Any] | None = None
    path: str | None = None
    switch: bool = False
    inverted: bool = False  # a switch that turns the setting off (--no-dropout)
    metavar: str | None = None
    exclusive: str | None = None  # a group of settings of which at most one may be given
    gatk: tuple[str, ...] = ()
    ignored: str | None = None
    refused: str | None = None
    writes: tuple[str, ...] = ()
    without_reads: str | None = None
    list_files: bool = True
    tags: bool | None = None

    @property
    def takes_tags(self) -> bool:
        """GATK's parser takes ``--name:tag,key=value`` on this flag (see ``tags``)."""
        if self.tags is not None:
            return self.tags
        return self.path in (VCF, FASTA, READS, OUTPUT)

    @property
    def nullable(self) -> bool:
        """The value ``null`` unsets it, as GATK's parser reads ``null`` for a non-primitive
        argument (a path or a string); a number, boolean or choice takes no ``null``."""
        return self.repeated or not (self.switch or self.choices is not None or self.parse)

    @property
    def flag(self) -> str:
        """The flag an error about this setting names: the one declared first (``-I``)."""
        return self.names[0]


def setting(*names: str, help: str, default: Any = None, **flag: Any) -> Any:  # noqa: A002
    """A dataclass field declared with its command-line flag (see :class:`Flag`). Lists are
    stored as tuples, so an options object stays immutable and its defaults are safe to share."""
    if flag.get("path") is not None and flag["path"] not in PATH_KINDS:
        raise ValueError(f"unknown path kind {flag['path']!r}")
    if flag.get("repeated") and default is None:
        default = ()
    return dataclasses.field(default=default, metadata={"flag": Flag(names, help, **flag)})


def declared(options_class: type) -> list[tuple[dataclasses.Field, Flag]]:
    """The fields of ``options_class`` that are command-line settings, in declaration order."""
    return [
        (f, f.metadata["flag"]) for f in dataclasses.fields(options_class) if "flag" in f.metadata
    ]


def path_kinds(options_class: type) -> dict[str, str]:
    """Setting name -> path kind, for the settings that hold paths (the gs:// layer's table)."""
    return {f.name: flag.path for f, flag in declared(options_class) if flag.path}


def prefix_suffixes(options_class: type) -> dict[str, tuple[str, ...]]:
    """Setting name -> the suffixes a prefix output writes (:class:`Flag` ``writes``)."""
    return {f.name: flag.writes for f, flag in declared(options_class) if flag.writes}


def flag_of(options_class: type, name: str) -> str | None:
    """The flag that sets ``name``, for errors that name a setting in the stage's terms."""
    for f, flag in declared(options_class):
        if f.name == name:
            return flag.flag
    return None


# ------------------------------------------------------------------------------ value parsers


def true_or_false(text: str) -> bool:
    """GATK's boolean values: Barclay's StrictBooleanConverter takes true, false, T and F, in
    any case."""
    lowered = text.lower()
    if lowered not in ("true", "false", "t", "f"):
        raise argparse.ArgumentTypeError(f"'{text}' is not true or false")
    return lowered in ("true", "t")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def thread_count(text: str) -> int:
    """A thread count as GATK's thread arguments take it: 0 (its default) to 4096."""
    value = int(text)
    if not 0 <= value <= 4096:
        raise argparse.ArgumentTypeError("must be 0..4096")
    return value


def seed_int(text: str) -> int:
    """A random generator's seed: numpy's take 0 to 2**32 - 1 (others stopped training with a
    traceback)."""
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError("must be between 0 and 4294967295")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError("must be a number, 0 or more")
    return value


def finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError("must be a finite number")
    return value


def folder_or_off(text: str) -> str:
    """A folder, or ``off`` in any case, given as ``off`` (``OFF`` made a folder of that name)."""
    return "off" if text.lower() == "off" else text


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be a fraction between 0 and 1")
    return value


# ------------------------------------------------------------- settings several stages share


def intervals_setting(
    help: str = "chr, chr:start-end, chr:start+, a BED, .interval_list, .list/.intervals of "  # noqa: A002
    "those strings, or a VCF; repeatable (combined by --interval-set-rule)",
) -> Any:
    return setting("-L", "--intervals", repeated=True, path=FILE, list_files=False, help=help)


def exclude_intervals_setting() -> Any:
    return setting(
        "-XL",
        "--exclude-intervals",
        repeated=True,
        list_files=False,
        path=FILE,
        help="bases taken out of the intervals (GATK's -XL): a record is left out when none of "
        "its span remains; repeatable",
    )


def interval_padding_setting() -> Any:
    return setting(
        "-ip",
        "--interval-padding",
        default=0,
        parse=non_negative_int,
        help="bases added on each side of every -L interval (GATK's -ip; default 0)",
    )


def interval_exclusion_padding_setting() -> Any:
    return setting(
        "-ixp",
        "--interval-exclusion-padding",
        default=0,
        parse=non_negative_int,
        help="bases added on each side of every -XL interval (GATK's -ixp; default 0)",
    )


def interval_merging_rule_setting() -> Any:
    return setting(
        "-imr",
        "--interval-merging-rule",
        choices=("ALL", "OVERLAPPING_ONLY"),
        ignored="each record overlapping the intervals is read once, whichever rule",
        help="GATK's rule for merging abutting intervals: accepted, no effect on the records",
    )


def interval_set_rule_setting() -> Any:
    return setting(
        "-isr",
        "--interval-set-rule",
        default="UNION",
        choices=("UNION", "INTERSECTION"),
        help="how several -L combine: UNION (default) or INTERSECTION, as GATK",
    )


def requester_pays_setting() -> Any:
    return setting(
        "--requester-pays-project",
        gatk=("--gcs-project-for-requester-pays",),
        help="Google Cloud project billed for gs:// reads and writes of requester-pays buckets "
        "(credentials: Application Default Credentials)",
    )


def command_line_header_setting() -> Any:
    return setting(
        "--add-output-vcf-command-line",
        default=True,
        switch=True,
        help="write the ##cnnscoreCommandLine header line (GATK's --add-output-vcf-command-line;"
        " default true; `false` leaves it out)",
    )


def output_index_setting() -> Any:
    return setting(
        "--create-output-variant-index",
        "-OVI",
        default=True,
        switch=True,
        help="index the output (.tbi, .csi, or .idx for plain VCF; default true, as GATK)",
    )


def tmp_dir_setting() -> Any:
    return setting(
        "--tmp-dir",
        path=None,
        tags=True,  # GATK's GATKPath
        help="folder for temporary files (GATK's --tmp-dir; default the system's); outputs are "
        "still written beside themselves and renamed when complete",
    )


def verbosity_settings() -> tuple[Any, Any]:
    """GATK's logging switches: accepted, with a note; cnnscore prints only its own lines."""
    note = "cnnscore prints only its own summary, progress and error lines"
    return (
        setting(
            "--verbosity",
            choices=("ERROR", "WARNING", "INFO", "DEBUG"),
            ignored=note,
            help="GATK's log level: accepted, no effect",
        ),
        setting(
            "--QUIET",
            switch=True,
            default=False,
            ignored=note,
            help="GATK's --QUIET: accepted, no effect",
        ),
    )


# ------------------------------------------------------------- GATK's engine arguments


def zero_only(text: str) -> int:
    """GATK's --max-variants-per-shard: 0 (its default) writes one output, as cnnscore does."""
    if int(text) != 0:
        raise argparse.ArgumentTypeError(
            "a nonzero value makes GATK write the output in shards of that many variants; "
            "cnnscore writes one output (cnnscore split-intervals and gather-vcfs shard a run)"
        )
    return 0


_NO_BAM = "these tools write no BAM"
_GS_READS = (
    "cnnscore reads gs:// paths through its own cache and range reads, not GATK's prefetcher"
)
_NOT_IMPLEMENTED = "a GATK engine argument cnnscore does not implement:"
_READ_FILTERS = "which reads reach the 2D tensors, and so the CNN_2D scores"
_NO_READS = (
    "no reads are read here (filter, or score of the 1D reference tensor), so GATK's read "
    "filters and validation act on none"
)


@dataclass(frozen=True)
class GatkEngineOptions:
    """The arguments every GATK tool inherits (CommandLineProgram, GATKTool) that are not in
    the stages' own options: taken by ``score`` and ``filter`` alike (cli.parser). Those without
    an effect on these tools' output are noted; those that change it are refused, each with the
    reason, rather than left to a bare "unrecognized arguments"."""

    use_jdk_deflater: bool = setting(
        "--use-jdk-deflater", "-jdk-deflater", switch=True, default=False,
        ignored="cnnscore runs no JVM: htslib compresses the output",
        help="GATK's JDK deflater switch: accepted, no effect",
    )  # fmt: skip
    use_jdk_inflater: bool = setting(
        "--use-jdk-inflater", "-jdk-inflater", switch=True, default=False,
        ignored="cnnscore runs no JVM: htslib decompresses the inputs",
        help="GATK's JDK inflater switch: accepted, no effect",
    )  # fmt: skip
    cloud_prefetch_buffer: int | None = setting(
        "--cloud-prefetch-buffer", "-CPB", parse=int, ignored=_GS_READS,
        help="GATK's gs:// prefetch buffer (MB): accepted, no effect",
    )  # fmt: skip
    cloud_index_prefetch_buffer: int | None = setting(
        "--cloud-index-prefetch-buffer", "-CIPB", parse=int, ignored=_GS_READS,
        help="GATK's gs:// index prefetch buffer (MB): accepted, no effect",
    )  # fmt: skip
    disable_bam_index_caching: bool = setting(
        "--disable-bam-index-caching", "-DBIC", switch=True, default=False,
        ignored="cnnscore keeps no BAM index cache to disable; the reads are the same",
        help="GATK's BAM index caching switch: accepted, no effect",
    )  # fmt: skip
    create_output_bam_index: bool = setting(
        "--create-output-bam-index", "-OBI", switch=True, default=True, ignored=_NO_BAM,
        help="GATK's BAM index switch: accepted, no effect",
    )  # fmt: skip
    create_output_bam_md5: bool = setting(
        "--create-output-bam-md5", "-OBM", switch=True, default=False, ignored=_NO_BAM,
        help="GATK's BAM MD5 switch: accepted, no effect",
    )  # fmt: skip
    add_output_sam_program_record: bool = setting(
        "--add-output-sam-program-record", switch=True, default=True, ignored=_NO_BAM,
        help="GATK's @PG record switch: accepted, no effect",
    )  # fmt: skip
    disable_sequence_dictionary_validation: bool = setting(
        "--disable-sequence-dictionary-validation", switch=True, default=False,
        ignored="cnnscore's own contig checks stay on (score refuses a VCF contig whose length "
        "differs from the reference's, filter a resource on another reference than the input)",
        help="GATK's dictionary validation switch: accepted, cnnscore's contig checks stay on",
    )  # fmt: skip
    gatk_config_file: str | None = setting(
        "--gatk-config-file", ignored="cnnscore reads no GATK configuration file",
        help="GATK's configuration file: accepted, not read",
    )  # fmt: skip
    max_variants_per_shard: int = setting(
        "--max-variants-per-shard", parse=zero_only, default=0,
        ignored="0, GATK's default, writes one output, as cnnscore does",
        help="GATK's output sharding: 0 accepted (no effect), any other value refused",
    )  # fmt: skip
    sites_only_vcf_output: bool = setting(
        "--sites-only-vcf-output", switch=True, default=False,
        refused=f"{_NOT_IMPLEMENTED} GATK would leave the samples' columns out of the output",
        help="GATK's sites-only output: refused",
    )  # fmt: skip
    create_output_variant_md5: bool = setting(
        "--create-output-variant-md5", "-OVM", switch=True, default=False,
        refused=f"{_NOT_IMPLEMENTED} GATK would also write OUTPUT.md5 (run md5sum on the output)",
        help="GATK's output MD5 file: refused",
    )  # fmt: skip
    read_filters: tuple[str, ...] = setting(
        "--read-filter", "-RF", repeated=True, list_files=False,
        refused=f"{_NOT_IMPLEMENTED} a read filter would change {_READ_FILTERS}",
        without_reads=_NO_READS,
        help="GATK's read filters: refused (a note where no reads are read)",
    )  # fmt: skip
    disable_read_filters: tuple[str, ...] = setting(
        "--disable-read-filter", "-DF", repeated=True, list_files=False,
        refused=f"{_NOT_IMPLEMENTED} disabling a read filter would change {_READ_FILTERS}",
        without_reads=_NO_READS,
        help="GATK's read filters disabled by name: refused (a note where no reads are read)",
    )  # fmt: skip
    disable_tool_default_read_filters: bool = setting(
        "--disable-tool-default-read-filters", switch=True, default=False,
        refused=f"{_NOT_IMPLEMENTED} dropping GATK's read filters would change {_READ_FILTERS}",
        without_reads=_NO_READS,
        help="GATK's switch disabling its default read filters: refused (a note where no reads "
        "are read)",
    )  # fmt: skip
    read_validation_stringency: str = setting(
        "--read-validation-stringency", "-VS", choices=("STRICT", "LENIENT", "SILENT"),
        default="SILENT",  # GATK's (ReadConstants): given as such, it changes nothing
        refused=f"{_NOT_IMPLEMENTED} htsjdk's read validation decides which malformed reads "
        "stop GATK; cnnscore reads through htslib and stops on a read it cannot encode",
        without_reads=_NO_READS,
        help="GATK's read validation stringency: refused (a note where no reads are read)",
    )  # fmt: skip
    lenient: bool = setting(
        "--lenient", "-LE", switch=True, default=False,
        refused=f"{_NOT_IMPLEMENTED} GATK would read malformed VCF records leniently; cnnscore "
        "stops on one with a line naming it",
        help="GATK's lenient VCF reading: refused",
    )  # fmt: skip
    sequence_dictionary: str | None = setting(
        "--sequence-dictionary", tags=True,
        refused=f"{_NOT_IMPLEMENTED} GATK would take the contigs' order and lengths from this "
        ".dict instead of the inputs'",
        help="GATK's master sequence dictionary: refused",
    )  # fmt: skip
