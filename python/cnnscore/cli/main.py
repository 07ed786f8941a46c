"""Command line: runs the stage :mod:`cnnscore.cli.parser` filled the options of, around the
gs:// layer.

Each handler hands its stage the options object built from the declared settings and prints one
summary line; user errors (InputError) become one ``cnnscore: error:`` line and exit 1, a
setting at fault named by its flag, and so does running out of memory (MemoryError).
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from ..errors import InputError
from ..gcs.remote_args import localize, uses_gcs
from ..gcs.remote_files import RemoteFiles
from ..io.locations import shown_as, user_facing
from ..settings import GatkEngineOptions, flag_of
from .library_output import library_logs_wanted, only_cnnscore_lines
from .parser import (
    Command,
    CommonOptions,
    build_parser,
    command_of,
    gatk_engine_notes,
    options_from,
    parse_notes,
)
from .path_clashes import check_paths_apart


def _tell(message: str) -> None:
    """A summary line on stderr, naming the user's paths (not gs:// stand-ins)."""
    print(user_facing(message), file=sys.stderr)


def _score(options, results: TextIO) -> None:
    from ..scoring.score import run_score

    metrics = run_score(options)
    noun = "variant" if metrics.variants_scored == 1 else "variants"
    _tell(
        f"cnnscore: scored {metrics.variants_scored:,} {noun} with {metrics.info_key} in "
        f"{metrics.wall_seconds:.1f} s ({metrics.variants_per_minute:,.0f} variants/min; "
        f"encoding {metrics.encode_seconds:.1f} s, inference {metrics.inference_seconds:.1f} s, "
        f"backend {metrics.backend} {metrics.precision}) -> {options.output}"
    )


def _split(options, results: TextIO) -> None:
    from ..io.reference import reference_lengths
    from ..shards.split import run_split

    lengths = reference_lengths(options.reference)
    paths = run_split(
        options.variants, lengths, options.scatter_count, options.intervals, options.output
    )
    _tell(f"cnnscore: wrote {len(paths)} shards to {options.output}")


def _gather(options, results: TextIO) -> None:
    from ..shards.gather import gather_vcfs

    count = gather_vcfs(list(options.inputs), options.output)
    _tell(
        f"cnnscore: gathered {count:,} records from {len(options.inputs)} shards -> "
        f"{options.output}"
    )


def _filter(options, results: TextIO) -> None:
    from ..tranches.filter import run_filter, summary

    _tell(summary(run_filter(options)))


def _compare(options, results: TextIO) -> int:
    """Run the comparison; 3 when a --fail-if gate holds (the reports are written either way)."""
    from ..validate.run import run_compare

    result = run_compare(options)
    print(result.table, file=results)
    _tell(f"cnnscore: wrote {result.json_path} and {result.html_path}")
    if result.failed_gates:
        print(f"cnnscore: --fail-if failed: {', '.join(result.failed_gates)}", file=sys.stderr)
        return 3
    return 0


def _write_tensors(options, results: TextIO) -> None:
    from ..training.write_tensors import run_write_tensors, summary

    _tell(summary(run_write_tensors(options)))


def _train(options, results: TextIO) -> None:
    from ..training.train import run_train, summary

    _tell(summary(run_train(options)))


def _models_list(options, results: TextIO) -> None:
    from ..models.registry import listing

    rows = listing(options.cache_dir)
    columns = ("name", "source", "tensor_type", "default", "where", "sha256", "weights")
    widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in columns}
    for line in [dict(zip(columns, columns)), *rows]:
        print("  ".join(line[c].ljust(widths[c]) for c in columns).rstrip(), file=results)


def _models_fetch(options, results: TextIO) -> None:
    from ..models.fetch import DEFAULT_FETCHED, GATK_MODELS, fetch_gatk

    wanted = list(options.models) or [DEFAULT_FETCHED]
    models = list(GATK_MODELS) if "all" in wanted else wanted
    fetched_files = fetch_gatk(
        models, options.cache_dir, options.mirror, options.gatk_tag,
        skip_missing=options.skip_missing,
    )  # fmt: skip
    for item in fetched_files:
        if item.skipped:
            print(f"cnnscore: skipped GATK's {item.model}: {item.skipped}", file=sys.stderr)
            continue
        check = (
            "sha256 verified"
            if item.pinned
            else "size and partial sha256 verified (docs/MODELS.md)"
        )
        print(item.path, file=results)
        state = "fetched" if item.fetched else "cached"
        print(f"cnnscore: {state}, {check}: {item.path}", file=sys.stderr)


_HANDLERS: dict[str, Callable] = {
    "score": _score,
    "split-intervals": _split,
    "gather-vcfs": _gather,
    "filter": _filter,
    "compare": _compare,
    "write-tensors": _write_tensors,
    "train": _train,
    "models list": _models_list,
    "models fetch": _models_fetch,
}


def _run(command: Command, options, common: CommonOptions, results: TextIO) -> int:
    """Run one subcommand; with gs:// arguments, around the download/range-read/upload layer."""
    handler = _HANDLERS[command.name]
    check_paths_apart(options)
    if not command.remote or not uses_gcs(options):
        return handler(options, results) or 0
    remote = RemoteFiles(common.requester_pays_project, max_retries=common.gcs_max_retries)
    with remote, shown_as(remote.user_text):
        try:
            status = handler(localize(options, remote), results) or 0
            # 3: compare's gates failed, its reports are complete; said only where an output
            # is a gs:// one
            if status in (0, 3) and remote.publish():
                print("cnnscore: uploaded the outputs to gs://", file=sys.stderr)
        except Exception as err:
            # htslib says only "I/O error" (or the file looks unreadable) when a by-range read
            # failed for good: say which object and why, as the range server recorded it
            failure = remote.read_failure()
            if failure is not None:
                raise InputError(remote.user_text(failure)) from None
            if not isinstance(err, InputError):
                raise
            rename = remote.user_text  # cache paths and loopback URLs back to gs:// names
            raise InputError(
                rename(err.message), path=rename(err.path) if err.path else None,
                record=err.record, setting=err.setting,
            ) from None  # fmt: skip
    return status


class Terminated(KeyboardInterrupt):
    """SIGTERM (docker stop, miniwdl cancellation, batch schedulers, ``timeout``) or SIGHUP (the
    terminal or ssh session closed), raised where the program is, so that it unwinds as from
    Ctrl-C: partial outputs removed, encoders stopped."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum, frame) -> None:
    raise Terminated(signum)


def _catch_stop_signals() -> dict[int, object]:
    """Make SIGTERM and SIGHUP raise :class:`Terminated`; returns the handlers they had. A
    SIGHUP ignored at start-up stays ignored: ``nohup`` (or a scheduler) asked for the run to
    outlive its terminal, and the default action would have killed it with the partial output
    left behind."""
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _terminate)}
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, _terminate)
    return previous


def _stopped_line(stop: Terminated) -> tuple[str, int]:
    """The line and exit status (128 + the signal, as the shell reports a killed command) of a
    run a signal stopped."""
    if stop.signum == signal.SIGHUP:
        return "cnnscore: hung up (SIGHUP: the terminal closed); no output written", 129
    return "cnnscore: terminated; no output written", 143


def _full_output(err: BaseException) -> str | None:
    """The output a full disk stopped, if that is why ``err`` was raised: an output abandoned
    while its folder had no room (io.files), or an ENOSPC/EDQUOT on one."""
    from ..io import files

    if files.abandoned_for_space:
        return files.abandoned_for_space[-1]  # the outermost: the output the user named
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return err.filename or "the output"
    return None


def _use_tmp_dir(folder: str | None) -> None:
    """GATK's --tmp-dir: where temporary files go (libraries included, through TMPDIR)."""
    if folder is None:
        return
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise InputError(f"{folder} is not a writable folder", setting="tmp_dir")
    import tempfile

    os.environ["TMPDIR"] = tempfile.tempdir = folder


#: the settings that size what a command holds in memory at once, where the command has them
_BATCH_SETTINGS = ("inference_batch_size", "transfer_batch_size", "batch_size")


def _out_of_memory_line(command: Command) -> str:
    """The one line for a MemoryError. It names ``OutOfMemory``, one of the words Cromwell's
    "retry with more memory" looks for in a task's stderr (docs/CROMWELL.md, row 18)."""
    flags = [flag for name in _BATCH_SETTINGS if (flag := flag_of(command.options, name))]
    smaller = f", or a smaller {' / '.join(flags)}" if flags else ""
    return (
        "cnnscore: error: OutOfMemory: the process ran out of memory; no output written. "
        f"Give the task (or machine) more memory{smaller}"
    )


def _error_line(err: InputError, command: Command) -> str:
    """The error as the user reads it: a setting at fault named by the flag that sets it."""
    if err.setting:
        flag = next(filter(None, (flag_of(options, err.setting) for options in (
            command.options, CommonOptions, GatkEngineOptions))), None)  # fmt: skip
        return err.shown_with(flag or "--" + err.setting.replace("_", "-"))
    return str(err)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    command = command_of(args)
    from ..io import files

    files.abandoned_for_space.clear()  # this command's outputs only
    import pysam

    pysam.set_verbosity(0)  # htslib's own [E::...] lines would duplicate our one-line errors
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = _catch_stop_signals() if in_main_thread else {}
    try:
        return _main(command, args)
    except KeyboardInterrupt as stop:
        # arrived while the run set up or closed its output streams, outside the work, whose
        # outputs are then whole (published) or absent either way; the status it had is lost
        signum = stop.signum if isinstance(stop, Terminated) else signal.SIGINT
        print(f"cnnscore: stopped (signal {signum}) while starting or finishing; each output "
              "is whole or absent", file=sys.stderr)  # fmt: skip
        return 128 + signum
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _main(command: Command, args: argparse.Namespace) -> int:
    """The command, run with only cnnscore's lines on stderr, its errors as one line each."""
    common, _ = options_from(CommonOptions, args)
    with only_cnnscore_lines(not library_logs_wanted(common.verbose)) as results:
        try:
            notes = parse_notes(args)
            if command.gatk:  # GATK's engine arguments: notes, or a refusal
                notes += gatk_engine_notes(command, args)
            options, option_notes = options_from(command.options, args)
            for note in notes + option_notes:
                print(note, file=sys.stderr)
            _use_tmp_dir(getattr(options, "tmp_dir", None))
            return _run(command, options, common, results)
        except (InputError, OSError, RuntimeError) as err:
            full = _full_output(err)  # a library's way of saying the disk is full, or ours
            if full is None:
                if isinstance(err, InputError):
                    print(f"cnnscore: error: {_error_line(err, command)}", file=sys.stderr)
                    return 1
                raise
            folder, name = os.path.split(os.path.abspath(full))
            print(
                f"cnnscore: error: {user_facing(folder)}: no space left on device while "
                f"writing {name}",
                file=sys.stderr,
            )
            return 1
        except MemoryError:  # the outputs were abandoned on the way out (io.files)
            print(_out_of_memory_line(command), file=sys.stderr)
            return 1
        except Terminated as stop:
            line, status = _stopped_line(stop)
            print(line, file=sys.stderr)
            return status
        except KeyboardInterrupt:
            print("cnnscore: interrupted; no output written", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
