"""A task's command as Cromwell would run it, not as miniwdl does, for the differences that matter
to our tasks (docs/CROMWELL.md lists each one with its source in Cromwell's code or issues).

No Cromwell runs here (no registry serves it), so this renders one WDL task the way Cromwell's
code says it renders it, with miniwdl's parser and expression evaluator underneath:

- ``write_lines`` ends every line with a newline, and an empty array gives a file holding one
  newline (``WomArray.tsvSerialize``: ``mkString("", "\\n", "\\n")``); miniwdl writes nothing;
- ``~{sep=" " prefix(..., [])}`` fails ("Cannot interpolate Array[Nothing]"): ``prefix`` returns
  an untyped array, and an empty one is an ``Array[Nothing]``, which ``sep`` refuses;
- floats print as Scala's ``Double.toString`` (``99.95``, ``2.0``, ``1.0E-4``), not ``%f``;
- inputs are laid out as Cromwell's backends leave them: on its Local backend every file is
  localised under ``inputs/<hash of its source folder>/`` (siblings stay together); on Google
  (GCP Batch) an input marked ``localization_optional`` stays a ``gs://`` URL in the command and
  the others land at ``<cwd>/<bucket>/<path>``;
- the script runs in the task image as the image's user or, with ``user``, as any uid, over a
  working folder owned by root and opened to all (``chmod a+rwx``), as both backends create it;
- or the command runs inside Cromwell's own script around it (``cromwell_script``): a subshell
  whose stdout and stderr go through FIFOs to the files Cromwell keeps, the status written to
  ``rc``; GCP Batch's memory-retry check then greps that stderr file (``memory_retry_rc``).

Then the output section is evaluated against the working folder, as Cromwell does after the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import WDL
from WDL import Env, StdLib, Type, Value

LOCAL, GCP = "local", "gcp"


def scala_double(value: float) -> str:
    """Scala's ``Double.toString``: shortest round-trip digits, scientific outside [1e-3, 1e7)."""
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(float(value))  # always with a decimal point in this range
    mantissa, _, exponent = f"{value:.17e}".partition("e")
    digits = repr(float(f"{float(mantissa):.15g}"))
    return f"{digits if '.' in digits else digits + '.0'}E{int(exponent)}"


@contextlib.contextmanager
def _cromwell_floats() -> Iterator[None]:
    """Float placeholders render as Cromwell renders them while a command is evaluated."""
    original = Value.Float.__str__
    Value.Float.__str__ = lambda self: scala_double(self.value)  # type: ignore[method-assign]
    try:
        yield
    finally:
        Value.Float.__str__ = original  # type: ignore[method-assign]


class CromwellInterpolationError(RuntimeError):
    """What Cromwell reports instead of running the task."""


class _CromwellStdLib(StdLib.Base):
    """The standard library where Cromwell's differs from miniwdl's, files as plain paths."""

    def __init__(self, version: str, workdir: Path, gs_local: Callable[[str], str] | None):
        super().__init__(version, write_dir=str(workdir))
        self._workdir = workdir
        self._gs_local = gs_local

        def write_lines(array: Value.Base) -> Value.File:
            text = "".join(item.coerce(Type.String()).value + "\n" for item in array.value)
            text = text or "\n"  # mkString(start="", sep="\n", end="\n") of nothing
            name = f"write_lines_{hashlib.md5(text.encode()).hexdigest()}.tmp"
            (workdir / name).write_text(text)
            return Value.File(str(workdir / name))

        self.write_lines = StdLib.StaticFunction(
            "write_lines", [Type.Array(Type.String())], Type.File(), write_lines
        )
        original_prefix = self.prefix

        class _Prefix(StdLib.EagerFunction):
            def infer_type(self, expr):
                return original_prefix.infer_type(expr)

            def _call_eager(self, expr, arguments):
                if not arguments[1].value:
                    raise CromwellInterpolationError(
                        "Cannot interpolate Array[Nothing] into a command string: prefix() of "
                        f"an empty array ({expr})"
                    )
                return original_prefix._call_eager(expr, arguments)

        self.prefix = _Prefix()

        def glob(pattern: Value.String) -> Value.Array:
            found = sorted(str(p) for p in workdir.glob(pattern.value))
            return Value.Array(Type.File(), [Value.File(p) for p in found])

        self.glob = StdLib.StaticFunction("glob", [Type.String()], Type.Array(Type.File()), glob)

    def _devirtualize_filename(self, filename: str) -> str:
        """Where ``size()`` and ``read_*`` look: Cromwell's engine stats a gs:// (or drs://) input
        that was not localised where it is stored; here, the local file standing for it."""
        if filename.startswith(("gs://", "drs://")):
            if self._gs_local is None:
                raise ValueError(f"{filename}: no local copy known for size()")
            return self._gs_local(filename)
        return str(self._workdir / filename) if not os.path.isabs(filename) else filename

    def _virtualize_filename(self, filename: str) -> str:
        return filename


@dataclass
class TaskRun:
    """One rendered and run task: its command, where it ran, how it ended, its outputs."""

    command: str
    workdir: Path
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)


def _localize(value: Any, workdir: Path, backend: str, fetch: Callable[[str, Path], None]) -> Any:
    """A File input as the backend hands it to the command."""
    if isinstance(value, list):
        return [_localize(item, workdir, backend, fetch) for item in value]
    if value.startswith("gs://"):
        if backend != GCP:
            raise ValueError(f"{value}: Cromwell's Local backend is given local files here")
        bucket_path = value[len("gs://") :]
        target = workdir / bucket_path  # /mnt/disks/cromwell_root/<bucket>/<path>
        target.parent.mkdir(parents=True, exist_ok=True)
        fetch(value, target)
        os.chmod(target, 0o644)
        return str(target)
    source = Path(value).resolve()
    folder = workdir / "inputs" / hashlib.md5(str(source.parent).encode()).hexdigest()[:10]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    if not target.exists():
        shutil.copyfile(source, target)
        os.chmod(target, 0o644)
    return str(target)


def _is_file_type(kind: Type.Base) -> bool:
    if isinstance(kind, Type.Array):
        return _is_file_type(kind.item_type)
    return isinstance(kind, Type.File)


def _localization_optional(task: WDL.Tree.Task, name: str) -> bool:
    meta = task.parameter_meta.get(name)
    flag = meta.get("localization_optional") if isinstance(meta, dict) else None
    return getattr(flag, "value", flag) is True  # miniwdl keeps meta values as literals


def render(
    wdl_path: Path,
    task_name: str,
    inputs: dict[str, Any],
    workdir: Path,
    *,
    backend: str = LOCAL,
    fetch: Callable[[str, Path], None] | None = None,
    gs_local: Callable[[str], str] | None = None,
) -> tuple[WDL.Tree.Task, Env.Bindings, TaskRun]:
    """The task's command with ``inputs`` (JSON values, files as local paths or gs:// URLs) laid
    out in ``workdir`` as ``backend`` lays them out. ``fetch`` downloads a gs:// input that GCP
    localises; ``gs_local`` names the local original of a gs:// URL, for ``size()``."""
    doc = WDL.load(str(wdl_path))
    (task,) = [t for t in doc.tasks if t.name == task_name]
    workdir.mkdir(parents=True, exist_ok=True)
    stdlib = _CromwellStdLib(doc.effective_wdl_version, workdir, gs_local)
    env: Env.Bindings = Env.Bindings()
    unknown = set(inputs) - {decl.name for decl in task.inputs}
    if unknown:
        raise ValueError(f"not inputs of {task_name}: {sorted(unknown)}")
    for decl in task.inputs:
        if decl.name in inputs:
            raw = inputs[decl.name]
            if _is_file_type(decl.type) and raw is not None:
                remote = backend == GCP and _localization_optional(task, decl.name)
                if not remote:
                    raw = _localize(raw, workdir, backend, fetch or _no_fetch)
            value = Value.from_json(decl.type, raw)
        elif decl.expr is not None:
            value = decl.expr.eval(env, stdlib)
        elif decl.type.optional:
            value = Value.Null()
        else:
            raise ValueError(f"{task_name}: required input {decl.name} not given")
        env = env.bind(decl.name, value.coerce(decl.type))
    for decl in task.postinputs:
        env = env.bind(decl.name, decl.expr.eval(env, stdlib).coerce(decl.type))
    with _cromwell_floats():
        try:
            command = task.command.eval(env, stdlib).value
        except WDL.Error.EvalError as error:  # miniwdl wraps what the stdlib raised
            if isinstance(error.__cause__, CromwellInterpolationError):
                raise error.__cause__ from None
            raise
    return task, env, TaskRun(command=_dedent(command), workdir=workdir)


def _no_fetch(url: str, target: Path) -> None:
    raise ValueError(f"{url}: no fetch function given to localise gs:// inputs")


def _dedent(command: str) -> str:
    lines = command.split("\n")
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in lines).strip("\n") + "\n"


def open_working_folder(workdir: Path) -> None:
    """Owned by root and opened to all, as Cromwell creates it for a container (Local:
    createPermissionedDirectories; GCP Batch: chmod -R a+rwx of the mounted disk)."""
    for path in [workdir, *workdir.rglob("*")]:
        if path.is_dir():
            os.chmod(path, 0o777)


def run_in_image(
    run: TaskRun,
    image: str,
    podman_env: dict[str, str],
    *,
    user: str | None = None,
    environment: dict[str, str] | None = None,
    mounts: list[str] | None = None,
    timeout: int = 900,
) -> TaskRun:
    """Run the command in the task image, the working folder mounted at the same path, as
    Cromwell's script does (``/bin/bash`` as the entrypoint, the folder as the cwd)."""
    script = run.workdir / "script"
    script.write_text(f"#!/bin/bash\ncd {run.workdir}\n{run.command}")
    os.chmod(script, 0o755)
    open_working_folder(run.workdir)
    command = ["podman", "run", "--rm", "--network", "host", "--entrypoint", "/bin/bash",
               "-v", f"{run.workdir}:{run.workdir}", "-w", str(run.workdir)]  # fmt: skip
    if user:
        command += ["--user", user]
    command += mounts or []
    for key, value in (environment or {}).items():
        command += ["-e", f"{key}={value}"]
    command += [image, str(script)]
    done = subprocess.run(command, env=podman_env, capture_output=True, text=True, timeout=timeout)
    run.returncode, run.stdout, run.stderr = done.returncode, done.stdout, done.stderr
    return run


def evaluate_outputs(task: WDL.Tree.Task, env: Env.Bindings, run: TaskRun) -> dict[str, Any]:
    """The output section, evaluated after the run against the working folder; a File output
    that is missing fails, as in Cromwell."""
    stdlib = _CromwellStdLib(task.effective_wdl_version, run.workdir, None)
    outputs: dict[str, Any] = {}
    for decl in task.outputs:
        value = decl.expr.eval(env, stdlib).coerce(decl.type)
        env = env.bind(decl.name, value)
        outputs[decl.name] = _files_checked(value.json, decl.type, run.workdir)
    run.outputs = outputs
    return outputs


def _files_checked(value: Any, kind: Type.Base, workdir: Path) -> Any:
    if isinstance(kind, Type.Array):
        return [_files_checked(item, kind.item_type, workdir) for item in value]
    if isinstance(kind, Type.File):
        path = Path(value) if os.path.isabs(value) else workdir / value
        if not path.is_file():
            raise FileNotFoundError(f"output file {value} was not written")
        return str(path)
    return value


#: StandardAsyncExecutionActor.commandScriptContents (Cromwell c805f3c, lines 450-557) with both
#: backends' defaults: job-shell /bin/bash, temporary-directory ``mktemp -d``, no stdin, no
#: environment variables, script-epilogue ``sync``; the preamble (GCP Batch's /cromwell_root
#: link) and glob copies are left out, being outside the subshell. The command is the subshell's
#: last lines, and bash 5.2 (the image's, Debian bookworm's) execs a subshell's last simple
#: command in the subshell's place: a kill of it is reported by the script, not the subshell.
CROMWELL_SCRIPT = """#!/bin/bash

cd CWD
tmpDir=$(mktemp -d "$PWD"/tmp.XXXXXX)
chmod 777 "$tmpDir"
export _JAVA_OPTIONS=-Djava.io.tmpdir="$tmpDir"
export TMPDIR="$tmpDir"



outc0ffee00="${tmpDir}/out.$$" errc0ffee00="${tmpDir}/err.$$"
mkfifo "$outc0ffee00" "$errc0ffee00"
trap 'rm "$outc0ffee00" "$errc0ffee00"' EXIT
touch CWD/stdout CWD/stderr
tee CWD/stdout < "$outc0ffee00" &
tee CWD/stderr < "$errc0ffee00" >&2 &
(
cd CWD


INSTANTIATED_COMMAND
)  > "$outc0ffee00" 2> "$errc0ffee00"
echo $? > CWD/rc.tmp
(
# add a .file in every empty directory to facilitate directory delocalization on the cloud
cd CWD
find . -type d -exec sh -c '[ -z "$(ls -A '"'"'{}'"'"')" ] && touch '"'"'{}'"'"'/.file' \\;
)
(
cd CWD
sync


)
mv CWD/rc.tmp CWD/rc

"""
#: core/src/main/resources/reference.conf ``memory-retry-error-keys``
MEMORY_RETRY_KEYS = ("OutOfMemory", "Killed")


def cromwell_script(run: TaskRun) -> str:
    """The script Cromwell writes around the rendered command (placeholders replaced, as
    Cromwell replaces them)."""
    command = run.command.rstrip("\n")  # Cromwell's commandString ends without a newline
    return CROMWELL_SCRIPT.replace("CWD", str(run.workdir)).replace("INSTANTIATED_COMMAND", command)


def run_cromwell_script(run: TaskRun, environment: dict[str, str], timeout: int = 120) -> TaskRun:
    """Run Cromwell's script on this machine's bash (the image's is Debian bookworm's 5.2, as
    CI's is): ``returncode`` from the ``rc`` file, ``stdout``/``stderr`` the files Cromwell
    keeps (the script's own stderr is the container's log, which no retry reads)."""
    script = run.workdir / "script"
    script.write_text(cromwell_script(run))
    os.chmod(script, 0o755)
    subprocess.run(["/bin/bash", str(script)], env=environment, capture_output=True, text=True,
                   timeout=timeout, check=True)  # fmt: skip
    run.returncode = int((run.workdir / "rc").read_text())
    run.stdout = (run.workdir / "stdout").read_text()
    run.stderr = (run.workdir / "stderr").read_text()
    return run


def memory_retry_rc(workdir: Path) -> int:
    """GCP Batch's always-run check after the command (RunnableCommands
    .checkIfStderrContainsRetryKeys): 0 when the task's stderr holds a memory-retry key, and so
    Cromwell retries the task with more memory (if the workflow option asks and maxRetries
    allows)."""
    keys = "|".join(MEMORY_RETRY_KEYS)
    check = f"grep -E -q '{keys}' {workdir}/stderr ; echo $? > {workdir}/memory_retry_rc"
    subprocess.run(["/bin/bash", "-c", check], check=True)
    return int((workdir / "memory_retry_rc").read_text())
