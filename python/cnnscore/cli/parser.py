"""The command line's grammar, built from the stages' declared settings (``settings.py``).

Each subcommand is one stage's options class: its fields carry their flags, GATK's spellings,
parsers and help, so this module only lays them out as argparse parsers and turns what argparse
parsed back into that class. Nothing here names an option but :class:`CommonOptions`'s
(``--verbose`` on every subcommand; the gs:// pair on those that read files).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..errors import InputError
from ..gcs.client import DEFAULT_MAX_RETRIES
from ..models.options import ModelsFetchOptions, ModelsListOptions
from ..models.spec import REFERENCE
from ..scoring.options import ScoreOptions
from ..settings import (
    READS,
    GatkEngineOptions,
    declared,
    non_negative_int,
    path_kinds,
    requester_pays_setting,
    setting,
    true_or_false,
)
from ..shards.options import GatherOptions, SplitOptions
from ..training.options import TrainOptions, WriteTensorsOptions
from ..tranches.options import FilterOptions
from ..validate.options import CompareOptions
from .gatk_words import WordError, drop_java_options, drop_tags, expand_argument_files


@dataclass(frozen=True)
class CommonOptions:
    """What every subcommand takes (``--verbose``), and every one that reads files (gs://)."""

    verbose: bool = setting(
        "--verbose",
        switch=True,
        default=False,
        help="also show the libraries' own log lines (TensorFlow, OpenVINO, ONNX Runtime), "
        "normally held back; or set CNNSCORE_LIBRARY_LOGS=1",
    )
    requester_pays_project: str | None = requester_pays_setting()
    gcs_max_retries: int = setting(
        "--gcs-max-retries",
        gatk=("-gcs-retries",),
        default=DEFAULT_MAX_RETRIES,
        parse=non_negative_int,
        help="how often one gs:// request is tried again after a transient failure (HTTP "
        "408/429/5xx, a refused, reset or cut connection), waiting 1, 2, 4 ... 32 s between "
        f"tries (GATK's --gcs-max-retries; default {DEFAULT_MAX_RETRIES}: about eight minutes)",
    )


@dataclass(frozen=True)
class Command:
    """One subcommand: its name(s) as typed and the options class it fills."""

    name: str  # "score", or "models fetch" for a nested one
    options: type
    help: str
    description: str | None = None
    remote: bool = True  # takes gs:// paths (and so --requester-pays-project)
    #: takes GATK's command lines: every name after one dash or two, as GATK's parser
    #: (Barclay) takes any argument name (GATK's WDL writes -resource), GATK's engine
    #: arguments, ``null`` and the words gatk_words reads (tags, --arguments_file)
    gatk: bool = False
    aliases: tuple[str, ...] = ()  # GATK's tool name first (cnnscore CNNScoreVariants ...)


COMMANDS = (
    Command(
        "score",
        ScoreOptions,
        "annotate a VCF with CNN_1D or CNN_2D scores (GATK CNNScoreVariants)",
        "Score every record of a VCF with a GATK CNN model and write it with INFO CNN_1D "
        "(reference model) or CNN_2D (read-tensor model).",
        gatk=True,
        aliases=("CNNScoreVariants",),
    ),
    Command(
        "split-intervals",
        SplitOptions,
        "cut a VCF into interval-list shards of about equal record counts (for scatter)",
    ),
    Command(
        "gather-vcfs",
        GatherOptions,
        "concatenate scored shards, in the order given, into one indexed VCF",
    ),
    Command(
        "filter",
        FilterOptions,
        "tranche-filter a scored VCF by truth sensitivity (GATK FilterVariantTranches)",
        "Filter SNPs and indels whose score is at or below the score that keeps the given "
        "sensitivity to the resource-confirmed variants, as GATK FilterVariantTranches.",
        gatk=True,
        aliases=("FilterVariantTranches",),
    ),
    Command(
        "compare",
        CompareOptions,
        "score differences, classification concordance and speed between two runs",
        "Match two scored VCFs by CHROM/POS/REF/ALT and report how their scores differ; "
        "writes PREFIX.json and PREFIX.html and prints a short table.",
    ),
    Command(
        "write-tensors",
        WriteTensorsOptions,
        "labelled training tensors from candidates, a truth VCF and its BED "
        "(GATK CNNVariantWriteTensors)",
        "Label each candidate in the truth BED as SNP/INDEL (matches the truth) or "
        "NOT_SNP/NOT_INDEL, encode it as cnnscore score does, and write a tensor store (a "
        "folder, or one .zip) for cnnscore train.",
    ),
    Command(
        "train",
        TrainOptions,
        "train a GATK CNN architecture on tensor stores (GATK CNNVariantTrain)",
        "Fit a 1D or 2D GATK architecture to cnnscore write-tensors output, with a seeded "
        "validation split and early stopping; writes PREFIX.hd5 + PREFIX.json (loadable by "
        "cnnscore score) and PREFIX.report.html/.json.",
    ),
    Command(
        "models list",
        ModelsListOptions,
        "the models score --model knows, whether each is here, its sha256, the defaults",
        "List GATK's and cnnscore's models by name: tensor type, whether it is the default "
        "when no model is given, whether it is shipped with cnnscore, cached or missing, the "
        "weights' path here and their sha256.",
        remote=False,
    ),
    Command(
        "models fetch",
        ModelsFetchOptions,
        "download GATK's CNN model files, verify their sha256 and cache them",
        "Fetch GATK's .json/.hd5 model pairs from GitHub's LFS media at a GATK tag (or a "
        "mirror), verify size and sha256 against GATK's LFS pointers, and cache them.",
        remote=False,
    ),
)
BY_NAME = {name: c for c in COMMANDS for name in (c.name, *c.aliases)}
#: the group GATK-only settings are listed under in --help
GATK_ONLY_GROUP = "accepted for GATK's command lines"


class _Null:
    """What Barclay's ``null`` stands for: the setting unset (its default), for an optional
    setting that holds a path or a string."""

    def __repr__(self) -> str:
        return "null"


NULL, NULL_WORD = _Null(), "null"


def _null_aware(convert: Callable[[str], Any], flag: Any) -> Callable[[str], Any]:
    """``convert``, but the word ``null`` read as GATK's parser reads it (Barclay's
    NamedArgumentDefinition): :data:`NULL` where the setting may be unset, refused for a
    required setting and for a number, boolean or choice (a Java primitive there)."""

    def read(text: str) -> Any:
        if text != NULL_WORD:
            return convert(text)
        if flag.required:
            raise argparse.ArgumentTypeError("null: a value is required (GATK refuses null here)")
        if not flag.nullable:
            raise argparse.ArgumentTypeError(
                "null: not a nullable argument (a number, true/false or a choice; GATK refuses "
                "null here too)"
            )
        return NULL

    read.__name__ = getattr(convert, "__name__", "value")
    return read


class _Repeated(argparse.Action):
    """A repeated setting: each value added in order; ``null`` drops those before it (and the
    default), as in GATK."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        for value in values:
            if value is NULL:
                items = []
            else:
                items.append(value)
        setattr(namespace, self.dest, items)


class _GivenOnce(argparse.Action):
    """A setting that takes one value, refused when given twice: argparse would keep the last
    silently (``-O a.vcf ... -O b.vcf`` writes b), where GATK's parser stops."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = namespace.__dict__.setdefault("_given_once", set())
        if self.dest in given:
            parser.error(f"{option_string}: given more than once (one value only)")
        given.add(self.dest)
        setattr(namespace, self.dest, values)


#: a value of a repeated setting ending so names a file of values, one per line (Barclay's
#: expansion files; blank lines and lines starting with # are skipped, as there)
LIST_FILE_SUFFIXES = (".list", ".args")


def _expanding(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """``convert``, but a value naming a local .list/.args file gives the list of its lines,
    each converted (flattened by options_from); argparse shows a failure as one usage line."""

    def expand(text: str) -> Any:
        if not text.endswith(LIST_FILE_SUFFIXES) or "://" in text:
            return convert(text)
        try:
            with open(text, encoding="utf-8") as handle:
                lines = [line.strip() for line in handle]
        except (OSError, UnicodeDecodeError) as err:
            reason = getattr(err, "strerror", None) or str(err)
            raise argparse.ArgumentTypeError(
                f"{text}: cannot read this list file ({reason})"
            ) from None
        values = []
        for number, line in enumerate(lines, 1):
            if line and not line.startswith("#"):
                try:
                    values.append(convert(line))
                except (ValueError, TypeError, argparse.ArgumentTypeError) as err:
                    raise argparse.ArgumentTypeError(f"{text}: line {number}: {err}") from None
        return values

    expand.__name__ = getattr(convert, "__name__", "value")  # argparse names the type so
    return expand


def _add_settings(
    parser: argparse.ArgumentParser,
    options_class: type,
    only: tuple[str, ...] | None = None,
    one_dash: bool = False,
) -> None:
    groups: dict[str, argparse._ActionsContainer] = {}
    gatk_only = next((group for group in parser._action_groups if group.title == GATK_ONLY_GROUP),
                     None) or parser.add_argument_group(GATK_ONLY_GROUP)  # fmt: skip
    settings = [(f, flag) for f, flag in declared(options_class) if only is None or f.name in only]
    members: dict[str, list] = {}
    for _, flag in settings:
        if flag.exclusive:
            members.setdefault(flag.exclusive, []).append(flag)
    for field, flag in settings:
        target: argparse._ActionsContainer = parser
        if flag.ignored or flag.refused:
            target = gatk_only
        if flag.exclusive:
            if flag.exclusive not in groups:
                required = any(member.required for member in members[flag.exclusive])
                groups[flag.exclusive] = parser.add_mutually_exclusive_group(required=required)
            target = groups[flag.exclusive]
        positional = not flag.names[0].startswith("-")
        kwargs: dict = {"help": flag.help}
        if not positional:
            kwargs.update(dest=field.name, default=None)
            if flag.required and not flag.exclusive:
                kwargs["required"] = True
        if not positional and not flag.repeated:
            kwargs["action"] = _GivenOnce
        if flag.switch:
            kwargs.update(nargs="?", const=True, type=true_or_false, metavar="true|false")
        else:
            kwargs["type"] = flag.parse or str
            if flag.repeated:
                kwargs.update(action=_Repeated, nargs="+")
                if flag.list_files:
                    kwargs["type"] = _expanding(kwargs["type"])
            if flag.choices is not None:
                kwargs["choices"] = flag.choices
            if flag.choices is None and not positional:
                kwargs["metavar"] = flag.metavar or flag.flag.lstrip("-").upper().replace("-", "_")
        names = [field.name] if positional else [*flag.names, *flag.gatk]
        if one_dash and not positional:
            names += [name[1:] for name in names if name.startswith("--")]
            names += [f"-{name}" for name in names if not name.startswith("--")]  # --V, --OVI
            kwargs["type"] = _null_aware(kwargs["type"], flag)
        action = target.add_argument(*dict.fromkeys(names), **kwargs)
        action.setting = flag  # for the tags gatk_words drops


class _OneLineErrors(argparse.ArgumentParser):
    """A command-line mistake is one ``cnnscore: error:`` line, as every other error is, not the
    whole usage text (``--help`` gives that); exit status 2, argparse's, as before. Subcommand
    parsers are made of the same class (argparse's ``add_subparsers`` default)."""

    #: the GATK tool a subcommand's parser reads the command lines of (gatk_words), if any
    gatk_tool: str | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # argparse takes -1 and -0.5 as values but reads -1e-3 as a flag ("expected one
        # argument" after --snp-cutoff): numbers in exponent form are values too (no flag of
        # cnnscore's or GATK's looks like one)
        self._negative_number_matcher = re.compile(r"^-(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")

    def error(self, message: str):
        self.exit(2, f"cnnscore: error: {self.prog}: {message} (see {self.prog} --help)\n")

    def parse_known_args(self, args=None, namespace=None):
        """A subcommand's parser refuses a word it does not know itself, so the line names the
        subcommand and the help that lists its flags (argparse would hand the word up to the
        top-level parser, whose line names ``cnnscore`` and ``cnnscore --help``). Such a word is
        named before any required setting found missing: ``--V x`` or a misspelt ``--varaint
        x`` is the mistake, not the missing ``-V``."""
        words = list(sys.argv[1:] if args is None else args)
        try:
            words, notes = self._gatk_words(words)
        except WordError as err:
            self.error(str(err))
        leaf = self._subparsers is None
        required = [a for a in self._actions if a.required and a.option_strings] if leaf else []
        self._unmarked = required  # still shown as required by -h meanwhile (format_help)
        for action in required:
            action.required = False
        try:
            namespace, extras = super().parse_known_args(words, namespace)
        finally:
            for action in required:
                action.required = True
            self._unmarked = []
        if extras and leaf:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        missing = [a for a in required if getattr(namespace, a.dest, None) is None]
        if missing:
            names = ", ".join(argparse._get_action_name(a) or a.dest for a in missing)
            self.error(f"the following arguments are required: {names}")
        namespace._notes = list(dict.fromkeys(notes + getattr(namespace, "_notes", [])))
        return namespace, extras

    _unmarked: list = []

    def format_help(self) -> str:
        """The help, -h given amid parsing included, with the required settings shown as such
        (parse_known_args unmarks them while it reads)."""
        for action in self._unmarked:
            action.required = True
        try:
            return super().format_help()
        finally:
            for action in self._unmarked:
                action.required = False

    def _gatk_words(self, words: list[str]) -> tuple[list[str], list[str]]:
        """The words GATK's parser would read, and the notes on what was dropped
        (gatk_words): at the top, a leading --java-options; in a GATK subcommand, its
        --java-options, --arguments_file files and tags."""
        if self.prog == "cnnscore":
            return drop_java_options(words, leading_only=True)
        if self.gatk_tool is None:
            return words, []
        words, notes = drop_java_options(words)
        words = expand_argument_files(words)
        words, tag_notes = drop_tags(words, self._takes_tags, self.gatk_tool)
        return words, notes + tag_notes

    def _takes_tags(self, name: str) -> bool | None:
        action = self._option_string_actions.get(name)
        setting = getattr(action, "setting", None)
        return None if action is None else bool(setting and setting.takes_tags)

    def _get_option_tuples(self, option_string: str) -> list:
        """A single-dash word is one name, as GATK's parser (Barclay) reads it: argparse would
        split GATK's ``-OVM`` into ``-O VM`` and ``-LE`` into ``-L E`` and blame -O or -L; now
        the word is an unrecognized argument, named as given (``-Lchr20`` too, as Barclay)."""
        if option_string.startswith("-") and not option_string.startswith("--"):
            return []
        return super()._get_option_tuples(option_string)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(
        prog="cnnscore", description="GATK-compatible CNN variant scoring.", allow_abbrev=False
    )
    parser.add_argument("--version", action="version", version=f"cnnscore {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    nested: dict[str, argparse._SubParsersAction] = {}
    for command in COMMANDS:
        head, _, tail = command.name.partition(" ")
        where = subparsers
        if tail:
            if head not in nested:
                actions = [c.name.split()[1] for c in COMMANDS if c.name.startswith(head + " ")]
                group = subparsers.add_parser(
                    head, help=f"{head}: {', '.join(actions)}", allow_abbrev=False
                )
                nested[head] = group.add_subparsers(dest="subcommand", required=True)
            where = nested[head]
        sub = where.add_parser(
            tail or head,
            aliases=list(command.aliases),
            help=command.help,
            description=command.description or command.help,
            allow_abbrev=False,
        )
        _add_settings(sub, command.options, one_dash=command.gatk)
        # a subcommand with no gs:// paths takes no requester-pays project
        _add_settings(sub, CommonOptions, None if command.remote else ("verbose",), command.gatk)
        if command.gatk:
            _add_gatk_arguments(sub, command)
    return parser


def _add_gatk_arguments(sub: _OneLineErrors, command: Command) -> None:
    """GATK's engine arguments (settings.GatkEngineOptions) and its parser's special ones:
    --version, --showHidden (a switch of what GATK's help shows: no effect here, and as in GATK
    the tool still runs) and --arguments_file
    (read before argparse, gatk_words)."""
    sub.gatk_tool = command.aliases[0]
    _add_settings(sub, GatkEngineOptions, one_dash=True)
    special = sub.add_argument_group("GATK's special arguments")
    special.add_argument("--version", "-version", action="version",
                         version=f"cnnscore {__version__}")  # fmt: skip
    special.add_argument("--showHidden", "-showHidden", dest="show_hidden", nargs="?",
                         const=True, type=true_or_false, metavar="true|false",
                         help="GATK's switch showing hidden arguments in its help: accepted, no "
                         "effect (nothing is hidden in -h)")  # fmt: skip
    special.add_argument("--arguments_file", "-arguments_file", metavar="FILE", action="append",
                         help="a file of more arguments, read into the command line (lines "
                         "starting with # skipped); repeatable")  # fmt: skip


def parse_notes(args: argparse.Namespace) -> list[str]:
    """The notes on words the parser dropped (--java-options, tags)."""
    return list(getattr(args, "_notes", []))


def command_of(args: argparse.Namespace) -> Command:
    name = (
        args.command
        if not getattr(args, "subcommand", None)
        else (f"{args.command} {args.subcommand}")
    )
    return BY_NAME[name]


def _as_list(item: Any) -> list:
    """One value as given, or the values a .list file stood for (:func:`_expanding`)."""
    return item if isinstance(item, list) else [item]


def options_from(
    options_class: type, args: argparse.Namespace, *, reads: bool = True
) -> tuple[object, list[str]]:
    """The options object the stage receives, from what argparse parsed, and the notes to print
    for GATK settings given that have no effect here; a refused one stops with its line.
    ``reads``: whether the command reads reads (else a read-only refusal is a note instead)."""
    values, notes = {}, []
    for field, flag in declared(options_class):
        value = getattr(args, field.name, None)
        if value is NULL and field.default is not None and not flag.repeated:
            raise InputError(  # GATK sets the field to null, and the tool stops on it
                f"null: GATK would run with no value for it (its default is {field.default}) "
                "and stop; leave the flag out for the default",
                setting=field.name,
            )
        if value is None or value is NULL:  # null: unset, as GATK's parser reads it
            value = field.default
        else:
            if flag.switch and flag.inverted:
                value = not value
            if flag.repeated:  # a .list file's values in its place
                value = tuple(v for item in value for v in _as_list(item))
            refused, ignored = flag.refused, flag.ignored
            if not reads and flag.without_reads:  # as refused: GATK's default says nothing
                refused, ignored = None, flag.without_reads if value != field.default else None
            if refused and value != field.default:  # `--lenient false` changes nothing
                raise InputError(refused, setting=field.name)
            if ignored:
                notes.append(f"cnnscore: note: {flag.flag} has no effect here: {ignored}")
        values[field.name] = value
    return options_class(**values), notes


def gatk_engine_notes(command: Command, args: argparse.Namespace) -> list[str]:
    """Notes for GATK's engine arguments given, or an InputError for one that would change the
    output; where no reads are read (filter; score with no -I or of the 1D reference tensor,
    GATK's default, computed from the reference alone) the read arguments are notes too."""
    read_settings = [name for name, kind in path_kinds(command.options).items() if kind == READS]
    named = any(getattr(args, name, None) for name in ("model", "architecture", "weights"))
    tensor = getattr(args, "tensor_type", None) or (None if named else REFERENCE)
    reads = any(getattr(args, name, None) for name in read_settings) and tensor != REFERENCE
    return options_from(GatkEngineOptions, args, reads=reads)[1]
