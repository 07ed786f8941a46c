"""What GATK's parser (Barclay 5.0.0, GATK 4.6.0) does to a tool's words before it reads them as
arguments, done here for the subcommands that take GATK's command lines (``score``,
``filter``) before argparse reads them: ``--arguments_file`` files expanded, the tags of a
tagged argument (``--resource:hapmap,prior=15.0 FILE``) dropped, and the ``gatk`` launcher's
``--java-options`` taken out. Each returns the words argparse is to read and the notes to
print; a word that cannot be read so raises :class:`WordError`, shown as one usage line.
"""

from __future__ import annotations

from collections.abc import Callable

#: Barclay's special argument naming a file of more arguments (SpecialArgumentsCollection)
ARGUMENTS_FILE = "arguments_file"
JAVA_OPTIONS = "--java-options"
JAVA_OPTIONS_NOTE = (
    "cnnscore: note: --java-options has no effect here: it is the gatk launcher's option for "
    "its JVM, and cnnscore runs no JVM"
)


class WordError(ValueError):
    """A word GATK's parser would refuse too, with the reason."""


#: GATK's CNN training tools: cnnscore has them in another form (its own flags, a tensor store
#: instead of GATK's HD5 folder), so their GATK command lines cannot run as they are
TOOLS_OF_ANOTHER_FORM = {
    tool: f"{tool}: GATK's tool is `cnnscore {ours}` here, with flags and a tensor store of its "
    "own (docs/TRAINING.md): a GATK command line for it does not run as it is"
    for tool, ours in (("CNNVariantWriteTensors", "write-tensors"), ("CNNVariantTrain", "train"))
}


def drop_java_options(words: list[str], leading_only: bool = False) -> tuple[list[str], list]:
    """The words without ``--java-options VALUE`` (or ``--java-options=VALUE``), the gatk
    launcher's own option (``gatk --java-options "-Xmx4g" TOOL ...``), with a note if there was
    one. ``leading_only``: only before the first word that is not an option (the top level,
    where that word is the subcommand)."""
    kept: list[str] = []
    found = False
    index = 0
    while index < len(words):
        word = words[index]
        if leading_only and not word.startswith("-"):
            if word in TOOLS_OF_ANOTHER_FORM:  # the subcommand's place
                raise WordError(TOOLS_OF_ANOTHER_FORM[word])
            kept.extend(words[index:])
            break
        if word == JAVA_OPTIONS:
            if index + 1 == len(words):
                raise WordError(f"{JAVA_OPTIONS}: expected one value")
            found, index = True, index + 2
            continue
        if word.startswith(JAVA_OPTIONS + "="):
            found = True
        else:
            kept.append(word)
        index += 1
    return kept, [JAVA_OPTIONS_NOTE] if found else []


def _split_argument_files(words: list[str]) -> tuple[list[str], list[str]]:
    """The files ``--arguments_file`` names in ``words`` (any of GATK's dash forms, ``=`` too),
    and the other words."""
    files: list[str] = []
    kept: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        name, equals, value = word.partition("=")
        index += 1
        if not name.startswith("-") or name.lstrip("-") != ARGUMENTS_FILE:
            kept.append(word)
        elif equals:
            files.append(value)
        elif index < len(words):
            files.append(words[index])
            index += 1
        else:
            raise WordError(f"{word}: expected one file")
    return files, kept


def read_arguments_file(path: str) -> list[str]:
    """Barclay's loadArgumentsFile: every line not starting with ``#`` and not blank, split on
    whitespace."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise WordError(f"--{ARGUMENTS_FILE} {path}: cannot read it ({reason})") from None
    return [word for line in lines if line.strip() and not line.startswith("#")
            for word in line.split()]  # fmt: skip


def expand_argument_files(words: list[str]) -> list[str]:
    """The words with every ``--arguments_file FILE`` replaced by the file's words, put before
    the words given, as Barclay parses again with them in front; each file read once, and the
    files they name in turn too."""
    loaded: set[str] = set()
    while True:
        files, others = _split_argument_files(words)
        new = [path for path in dict.fromkeys(files) if path not in loaded]
        if not new:
            return others
        words = [word for path in new for word in read_arguments_file(path)] + words
        loaded.update(files)


def drop_tags(
    words: list[str], takes_tags: Callable[[str], bool | None], tool: str
) -> tuple[list[str], list[str]]:
    """The words with each tagged option (``--resource:hapmap,known=false FILE``, ``-V:x
    FILE``) as its plain name, and one note naming the tags dropped. ``takes_tags(name)``: True
    for a flag GATK takes tags on, False for a flag that takes none (refused, as Barclay refuses
    it), None for a word that is no flag here (left for argparse to name)."""
    kept, dropped = [], []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        prefix = "--" if word.startswith("--") else "-"
        name, colon, tags = word[len(prefix) :].partition(":")
        if not word.startswith("-") or not colon or "=" in name:  # -L=chr20:1-9 is a value
            kept.append(word)
            continue
        taken = takes_tags(prefix + name)
        if taken is None:
            kept.append(word)
            continue
        if not taken:
            raise WordError(
                f"{word}: {prefix}{name} takes no tags (GATK's parser refuses them too)"
            )
        if not tags or index == len(words) or words[index].startswith("-"):
            raise WordError(f"{word}: a tagged argument needs a tag and then a value, as "
                            f"{prefix}{name}:NAME VALUE")  # fmt: skip
        kept.append(prefix + name)
        dropped.append(word)
    notes = []
    if dropped:
        notes.append(f"cnnscore: note: the tags of {', '.join(dict.fromkeys(dropped))} are "
                     f"ignored, as {tool} ignores them")  # fmt: skip
    return kept, notes
