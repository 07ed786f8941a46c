"""What a user sees: only ``cnnscore:`` lines on stderr (libraries' logs held back unless asked
for), the command's own stdout intact, and SIGTERM or SIGHUP ending a run as cleanly as Ctrl-C
(a SIGHUP that ``nohup`` ignores left ignored).

The filter is tested with noise written the way the libraries write it (straight to file
descriptors 1 and 2, from the process and from a spawned child), so the test does not depend on
whether this CPU makes TensorFlow talk; every ``run_cli`` call in the suite also checks stderr.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import (
    SMALL_2D_HD5,
    SMALL_2D_JSON,
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
    assert_only_cnnscore_lines,
    data_lines,
    run_cli,
)

_NOISY = textwrap.dedent(
    """
    import multiprocessing, os, sys, warnings
    from cnnscore.cli.library_output import only_cnnscore_lines

    def child():
        os.write(2, b"I0000 child library line\\n")
        print("cnnscore: from the child", file=sys.stderr, flush=True)

    if __name__ == "__main__":
        with only_cnnscore_lines(sys.argv[1] == "on") as results:
            os.write(2, b"WARNING: All log messages before absl::InitializeLog()\\n")
            os.write(1, b"Statistics collection 100%\\n")
            print("cnnscore: first", file=sys.stderr, flush=True)
            warnings.warn("a library's warning")
            process = multiprocessing.get_context("spawn").Process(target=child)
            process.start()
            process.join()
            os.write(2, b"cnnscore: no newline at the end")
            print("the command's result", file=results)
        print("cnnscore: after", file=sys.stderr)
    """
)


def _noisy(tmp_path: Path, mode: str, *python_flags: str) -> subprocess.CompletedProcess:
    script = tmp_path / "noisy.py"
    script.write_text(_NOISY)
    return subprocess.run(
        [sys.executable, *python_flags, str(script), mode],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_only_cnnscore_lines_reach_stderr_and_results_reach_stdout(tmp_path):
    result = _noisy(tmp_path, "on")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "cnnscore: first",
        "cnnscore: from the child",
        "cnnscore: no newline at the end",
        "cnnscore: after",
    ]
    assert result.stdout == "the command's result\n"


def test_asked_for_warnings_still_reach_the_user(tmp_path):
    result = _noisy(tmp_path, "on", "-W", "default")
    assert "UserWarning: a library's warning" in result.stderr
    assert "absl::InitializeLog" not in result.stderr


def test_filter_off_shows_everything(tmp_path):
    result = _noisy(tmp_path, "off")
    assert "absl::InitializeLog" in result.stderr and "I0000 child library line" in result.stderr
    assert "Statistics collection" in result.stdout


def test_verbose_flag_and_environment_switch_the_filter_off(monkeypatch):
    from cnnscore.cli.library_output import library_logs_wanted

    monkeypatch.delenv("CNNSCORE_LIBRARY_LOGS", raising=False)
    assert not library_logs_wanted(False)
    assert library_logs_wanted(True)
    monkeypatch.setenv("CNNSCORE_LIBRARY_LOGS", "1")
    assert library_logs_wanted(False)
    monkeypatch.setenv("CNNSCORE_LIBRARY_LOGS", "0")
    assert not library_logs_wanted(False)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["score", "--help"],
        ["models", "fetch", "--help"],
        ["split-intervals", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--scatter-count", "2"],
    ],
    ids=["help", "score-help", "models-fetch-help", "split-intervals"],
)
def test_stdout_output_of_commands_is_kept(tmp_path, args):
    if args[0] == "split-intervals":
        args = [*args, "-O", tmp_path / "shards"]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    if "--help" in args:
        assert result.stdout.startswith("usage: cnnscore")
        assert "--verbose" in result.stdout or args == ["--help"]


def _scoring_mid_run(folder: Path, **popen) -> tuple[subprocess.Popen, list[str]]:
    """``cnnscore score`` on the smoke set, returned once records are being encoded (in an
    encoder process) and scored, its partial output in ``folder``; with the stderr seen so far."""
    folder.mkdir()
    command = [
        sys.executable, "-m", "cnnscore", "score", "-V", SMOKE_VCF, "-R", SMOKE_REF,
        "-I", SMOKE_BAM, "--tensor-type", "read_tensor", "--weights", SMALL_2D_HD5,
        "--architecture", SMALL_2D_JSON, "--backend", "tensorflow", "--no-depth-adaptive",
        "--inference-batch-size", "4", "--transfer-batch-size", "4", "--progress-seconds", "0",
        "-O", folder / "out.vcf.gz",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    process = subprocess.Popen(
        [str(c) for c in command], stderr=subprocess.PIPE, text=True, env=env, **popen
    )
    seen = []
    for line in process.stderr:  # a progress line: the first records are scored and written
        seen.append(line)
        if line.startswith("cnnscore:") and line.rstrip().endswith(tuple("0123456789")):
            break
    assert process.poll() is None, "".join(seen)
    assert any(p.name.startswith(".out.vcf.gz.partial") for p in folder.iterdir())
    return process, seen


def test_sigterm_mid_run_leaves_nothing_and_exits_143(tmp_path):
    """SIGTERM (docker stop, miniwdl cancellation, timeout) once records are being encoded (in an
    encoder process) and scored: no partial file, no traceback from any process, exit 143."""
    folder = tmp_path / "out"
    process, seen = _scoring_mid_run(folder)
    process.send_signal(signal.SIGTERM)
    stderr = "".join(seen) + process.communicate(timeout=120)[1]
    assert process.returncode == 143, stderr
    assert_only_cnnscore_lines(stderr)
    assert stderr.splitlines()[-1] == "cnnscore: terminated; no output written"
    assert sorted(p.name for p in folder.iterdir()) == []


def test_sighup_mid_run_leaves_nothing_and_exits_129(tmp_path):
    """A closed terminal or ssh session: SIGHUP to the whole process group (the run and its
    encoder processes) ends the run as SIGTERM does, one line, exit 129, nothing left. It used to
    kill the run outright, the hidden partial output left behind."""
    folder = tmp_path / "out"
    process, seen = _scoring_mid_run(folder, start_new_session=True)
    os.killpg(process.pid, signal.SIGHUP)
    stderr = "".join(seen) + process.communicate(timeout=120)[1]
    assert process.returncode == 129, stderr
    assert_only_cnnscore_lines(stderr)
    assert stderr.splitlines()[-1] == (
        "cnnscore: hung up (SIGHUP: the terminal closed); no output written"
    )
    assert sorted(p.name for p in folder.iterdir()) == []


def test_sigterm_to_the_process_group_ends_the_run_and_its_workers(tmp_path):
    """SIGTERM to the whole process group (a scheduler or ``kill -- -PGID``) reaches the encoder
    process too: killed outright while it waited for work, it held the pool's queue lock, and
    the run's shutdown waited on that lock for ever. One line, exit 143, nothing left."""
    folder = tmp_path / "out"
    process, seen = _scoring_mid_run(folder, start_new_session=True)
    os.killpg(process.pid, signal.SIGTERM)
    try:
        stderr = "".join(seen) + process.communicate(timeout=120)[1]
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    assert process.returncode == 143, stderr
    assert_only_cnnscore_lines(stderr)
    assert stderr.splitlines()[-1] == "cnnscore: terminated; no output written"
    assert sorted(p.name for p in folder.iterdir()) == []


def test_a_pool_shutdown_that_hangs_is_given_up_on(monkeypatch):
    """A worker stopped by a signal to the process group in the middle of sending a result left
    part of a message in the pipe, and the pool's shutdown waited for the rest for ever (bench
    data, SIGTERM to the group 2-5 s in: 6 runs of 6 hung; now exit 143 in each): the shutdown is
    given up on after POOL_STOP_SECONDS, its threads being daemons."""
    import time

    from cnnscore.scoring import pipeline

    class StuckPool:
        def terminate(self):
            time.sleep(60)

    monkeypatch.setattr(pipeline, "POOL_STOP_SECONDS", 0.2)
    started = time.monotonic()
    pipeline._stop_pool(StuckPool())
    assert time.monotonic() - started < 5


def test_a_stop_as_the_run_closes_its_streams_is_one_line(monkeypatch, capsys):
    """SIGTERM after the outputs were published, while the run closed its output streams, came
    out of main as a traceback with exit 1 (the interruption review): one line, 128 + signal."""
    import contextlib
    import importlib

    cli_main = importlib.import_module("cnnscore.cli.main")  # the module, not its main()

    @contextlib.contextmanager
    def stopped_on_the_way_out(_quiet):
        yield None
        raise cli_main.Terminated(signal.SIGTERM)

    monkeypatch.setattr(cli_main, "only_cnnscore_lines", stopped_on_the_way_out)
    monkeypatch.setattr(cli_main, "_run", lambda *args: 0)
    status = cli_main.main(["compare", "--baseline", "a.vcf", "--candidate", "b.vcf", "-O", "c"])
    assert status == 143
    assert capsys.readouterr().err.splitlines()[-1] == (
        "cnnscore: stopped (signal 15) while starting or finishing; each output is whole or absent"
    )


def test_sighup_ignored_at_start_up_stays_ignored(tmp_path):
    """``nohup cnnscore ...``: the run was asked to outlive its terminal, so a SIGHUP mid-run
    (to the whole group) changes nothing: it finishes and writes the whole output. Catching
    SIGHUP whatever its disposition at start-up would end it (exit 129)."""
    folder = tmp_path / "out"
    process, seen = _scoring_mid_run(
        folder,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    os.killpg(process.pid, signal.SIGHUP)
    stderr = "".join(seen) + process.communicate(timeout=600)[1]
    assert process.returncode == 0, stderr
    assert_only_cnnscore_lines(stderr)
    assert sorted(p.name for p in folder.iterdir()) == ["out.vcf.gz", "out.vcf.gz.tbi"]
    assert len(data_lines(folder / "out.vcf.gz")) == 252


def test_a_line_written_as_the_command_stops_is_not_lost(monkeypatch):
    """The forwarding thread's race, made to happen: its wait times out with nothing read, and
    before it looks at the stop flag the command writes its last line and sets the flag (on a
    loaded machine the thread is simply not scheduled in between). The line must still come
    out; it used to be dropped, and CI saw failed runs whose error line never arrived."""
    import select
    import threading

    from cnnscore.cli import library_output

    read_fd, write_fd = os.pipe()
    shown_fd, stderr_fd = os.pipe()
    stop = threading.Event()
    real_select, waits = select.select, []

    def wait_that_times_out_as_the_command_ends(*args):
        waits.append(args)
        if len(waits) == 1:
            os.write(write_fd, b"cnnscore: error: the run's last line\n")
            stop.set()
            return [], [], []
        return real_select(*args)

    monkeypatch.setattr(select, "select", wait_that_times_out_as_the_command_ends)
    library_output._forward(read_fd, stderr_fd, stop)
    os.close(stderr_fd)
    with os.fdopen(shown_fd, "rb") as shown:
        assert shown.read() == b"cnnscore: error: the run's last line\n"
    assert len(waits) >= 2
    os.close(read_fd)
    os.close(write_fd)
