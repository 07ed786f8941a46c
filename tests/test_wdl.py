"""The WDL: clean under `miniwdl check --strict`, WDL 1.0 only, and example inputs that match it."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import WDL

from conftest import REPO

#: the entry workflows sit at the top of wdl/, so that none of their imports leaves the folder a
#: Cromwell server is given as its dependency zip (docs/CROMWELL.md)
WORKFLOW_FILES = sorted((REPO / "wdl").glob("*.wdl"))
WORKFLOW = REPO / "wdl" / "cnn_score_variants.wdl"
WDL_FILES = sorted((REPO / "wdl").rglob("*.wdl"))


def test_every_wdl_file_is_version_1_0():
    assert len(WDL_FILES) >= 5
    for path in WDL_FILES:
        first = next(line for line in path.read_text().splitlines() if line.strip())
        assert first.strip() == "version 1.0", path


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_miniwdl_check_strict_is_clean(path):
    miniwdl = Path(sys.executable).with_name("miniwdl")
    result = subprocess.run(
        [str(miniwdl), "check", "--strict", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "shellcheck" not in result.stdout.lower(), "install shellcheck so commands are checked"


WORKFLOWS = REPO / "wdl"
# example inputs file -> the workflow it is for
EXAMPLE_INPUTS = {
    "local.smoke.json": WORKFLOWS / "cnn_score_variants.wdl",
    "terra.example.json": WORKFLOWS / "cnn_score_variants.wdl",
    "local.validate.json": WORKFLOWS / "validate_backends.wdl",
    "terra.validate.example.json": WORKFLOWS / "validate_backends.wdl",
}
LOCAL_INPUTS = [name for name in EXAMPLE_INPUTS if name.startswith("local.")]
TERRA_INPUTS = [name for name in EXAMPLE_INPUTS if name.startswith("terra.")]


def workflow_inputs(path: Path = WORKFLOW) -> tuple[dict[str, WDL.Type.Base], set[str]]:
    document = WDL.load(str(path))
    workflow = document.workflow
    available = {
        f"{workflow.name}.{b.name}": b.value.type
        for b in workflow.available_inputs
        if "." not in b.name
    }
    required = {f"{workflow.name}.{b.name}" for b in workflow.required_inputs}
    return available, required


@pytest.mark.parametrize("workflow", ["cnn_score_variants.wdl", "validate_backends.wdl"])
def test_no_task_input_is_left_for_the_user(workflow):
    """A task input with a default that a call leaves unset is a workflow input to Cromwell
    (``CallNode``), shown on Terra's inputs tab under the call's name: SplitIntervals'
    ``configurations_count`` was, where a value below 2 stopped a scoring run for a check that
    is ValidateBackends'. Every call sets what it means to; the user sets workflow inputs."""
    document = WDL.load(str(WORKFLOWS / workflow))
    left = [b.name for b in document.workflow.available_inputs if "." in b.name]
    assert left == []


def _holds_files(kind: WDL.Type.Base) -> bool:
    return "File" in str(kind)


def _file_values(value) -> list[str]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("name", EXAMPLE_INPUTS)
def test_example_inputs_name_real_workflow_inputs(name):
    path = EXAMPLE_INPUTS[name]
    available, required = workflow_inputs(path)
    inputs = json.loads((REPO / "inputs" / name).read_text())
    assert set(inputs) <= set(available), set(inputs) - set(available)
    assert required <= set(inputs), required - set(inputs)
    # miniwdl's own input loader checks every value against its declared type, structs included
    document = WDL.load(str(path))
    WDL.values_from_json(
        inputs, document.workflow.available_inputs, namespace=document.workflow.name
    )


@pytest.mark.parametrize("name", LOCAL_INPUTS)
def test_local_inputs_exist_relative_to_the_repo_root(name):
    inputs = json.loads((REPO / "inputs" / name).read_text())
    available, _ = workflow_inputs(EXAMPLE_INPUTS[name])
    for key, value in inputs.items():
        if _holds_files(available[key]):
            for item in _file_values(value):
                assert (REPO / item).resolve().is_file(), item


@pytest.mark.parametrize("name", TERRA_INPUTS)
def test_terra_inputs_use_gs_paths(name):
    inputs = json.loads((REPO / "inputs" / name).read_text())
    available, _ = workflow_inputs(EXAMPLE_INPUTS[name])
    for key, value in inputs.items():
        if _holds_files(available[key]):
            for item in _file_values(value):
                assert item.startswith("gs://"), item


#: Functions and keywords of WDL 1.1+ that miniwdl accepts in a 1.0 document but Cromwell's 1.0
#: does not.
LATER_FUNCTIONS = {"min", "max", "suffix", "quote", "squote", "as_pairs", "as_map", "keys",
                   "collect_by_key", "sep", "unzip", "contains", "chunk", "join_paths",
                   "contains_key", "values", "find", "matches"}  # fmt: skip


def _expressions(node):
    for child in node.children:
        if isinstance(child, WDL.Expr.Base):
            yield child
        yield from _expressions(child)


@pytest.mark.parametrize("path", WDL_FILES, ids=lambda p: p.name)
def test_only_wdl_1_0_constructs(path):
    """Struct values from object literals (WDL 1.0 has no map-to-struct coercion, openwdl/wdl#801;
    Cromwell rejects mixed-type map literals for structs, broadinstitute/cromwell#5414), no 1.1+
    standard-library functions, no `None` literal."""
    document = WDL.load(str(path))
    for node in [*document.tasks, *([document.workflow] if document.workflow else [])]:
        for expression in _expressions(node):
            if isinstance(expression, WDL.Expr.Apply):
                assert expression.function_name not in LATER_FUNCTIONS, (path, expression.pos)
            assert type(expression).__name__ != "Null", (path, expression.pos)
        for decl in [d for d in node.children if isinstance(d, WDL.Decl)] + list(node.inputs or []):
            if isinstance(decl.type, WDL.Type.StructInstance) and decl.expr is not None:
                assert isinstance(decl.expr, WDL.Expr.Struct), (path, decl.name)
    text = path.read_text()
    assert "= {" not in text.replace("object {", ""), "a map literal where a struct is built?"


# ------------------------------------------------ imports as every route resolves them

#: README's command for the dependency zip a Cromwell server is given (--imports / the REST
#: API's workflowDependencies); the entry workflow is submitted beside it
ZIP_COMMAND = "python3 -m zipfile -c {zip} wdl/structs wdl/tasks"
IMPORT = re.compile(r'^\s*import\s+"([^"]+)"', re.MULTILINE)


def cromwell_zip_imports(main: Path, zip_root: Path) -> list[str]:
    """Resolve every import the way a Cromwell server does with a dependency zip (its
    ImportResolver: the submitted workflow's imports against the zip's root, an imported file's
    own imports against that file's folder, and nothing outside the root, "<path> is not an
    allowed import path"). Returns the files resolved, relative to the root."""
    resolved: list[str] = []
    todo = [(path, zip_root) for path in IMPORT.findall(main.read_text())]
    while todo:
        path, base = todo.pop()
        target = (base / path).resolve()
        if zip_root.resolve() not in target.parents:
            raise ValueError(f"{path} is not an allowed import path")
        if not target.is_file():
            raise FileNotFoundError(path)
        resolved.append(str(target.relative_to(zip_root.resolve())))
        todo += [(child, target.parent) for child in IMPORT.findall(target.read_text())]
    return sorted(set(resolved))


@pytest.fixture(scope="module")
def dependency_zip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("zip")
    command = ZIP_COMMAND.format(zip=folder / "cnnscore-wdl.zip").split()
    subprocess.run([sys.executable if c == "python3" else c for c in command], cwd=REPO,
                   check=True)  # fmt: skip
    root = folder / "unzipped"
    with zipfile.ZipFile(folder / "cnnscore-wdl.zip") as archive:
        archive.extractall(root)
    return root


def test_readme_gives_the_zip_command():
    assert ZIP_COMMAND.format(zip="cnnscore-wdl.zip") in (REPO / "README.md").read_text()


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_import_resolves_inside_the_dependency_zip(dependency_zip, path):
    resolved = cromwell_zip_imports(path, dependency_zip)
    tasks = {f"tasks/{p.name}" for p in (REPO / "wdl" / "tasks").glob("*.wdl")}
    assert "structs/structs.wdl" in resolved and set(resolved) - {"structs/structs.wdl"} <= tasks


def test_the_resolver_refuses_what_cromwell_refuses(dependency_zip, tmp_path):
    """The emulation can fail: an entry workflow importing ../ (the old wdl/workflows/ layout)
    leaves the zip's root, which a Cromwell server refuses."""
    old = tmp_path / "old.wdl"
    old.write_text('version 1.0\nimport "../structs/structs.wdl"\nworkflow W {}\n')
    with pytest.raises(ValueError, match="is not an allowed import path"):
        cromwell_zip_imports(old, dependency_zip)


def test_dockstore_registers_both_workflows():
    text = (REPO / ".dockstore.yml").read_text()
    paths = re.findall(r"primaryDescriptorPath:\s*(\S+)", text)
    assert sorted(paths) == ["/wdl/cnn_score_variants.wdl", "/wdl/validate_backends.wdl"]
    for path in [*paths, *re.findall(r"^\s*-\s*(/inputs/\S+)", text, re.MULTILINE)]:
        assert (REPO / path.lstrip("/")).is_file(), path
    assert re.search(r"^version: 1\.2$", text, re.MULTILINE)


@pytest.mark.parametrize("name", TERRA_INPUTS)
def test_terra_inputs_pin_the_image_by_digest_and_docker_is_required(name):
    inputs = json.loads((REPO / "inputs" / name).read_text())
    (docker,) = [value for key, value in inputs.items() if key.endswith(".docker")]
    # Cromwell's image-name syntax is lowercase only (DockerImageIdentifier)
    assert re.fullmatch(r"[a-z0-9.-]+(/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}", docker), docker
    _, required = workflow_inputs(EXAMPLE_INPUTS[name])
    assert any(key.endswith(".docker") for key in required)


# ------------------------------------- the flags the tasks pass are the declared settings

#: task -> the cnnscore subcommand its command runs
TASK_COMMANDS = {"ScoreVariants": "score", "SplitIntervals": "split-intervals",
                 "GatherVcfs": "gather-vcfs", "FilterVariantTranches": "filter",
                 "CompareScores": "compare"}  # fmt: skip
#: WDL inputs whose default differs from the flag's on purpose, and why
DELIBERATE_DEFAULTS = {
    ("ScoreVariants", "reservoir_scope"): "site: scores independent of scatter_count",
    ("ScoreVariants", "tensor_type"): "read_tensor: the workflow scores the 2D model by default",
}
_FLAG_WITH_INPUT = re.compile(
    r"""(?P<flag>--?[A-Za-z][\w-]*)(?:\s+|\s*'|\s*")?~\{(?P<input>[a-z_]+)\}"""
    r"""|~\{"(?P<flag2>--?[A-Za-z][\w-]*)\s'?"\s*\+\s*(?P<input2>[a-z_]+)"""
    r"""|~\{true="(?P<flag3>--?[A-Za-z][\w-]*)"\sfalse=""\s(?P<input3>[a-z_]+)\}"""
    r"""|~\{if\s(?P<input4>[a-z_]+)\sthen\s"(?P<flag4>--?[A-Za-z][\w-]*)\""""
)
_FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def _declared_flags(subcommand: str) -> dict[str, tuple]:
    from cnnscore.cli.parser import BY_NAME, CommonOptions
    from cnnscore.settings import declared

    found = {}
    for options in (BY_NAME[subcommand].options, CommonOptions):
        for field, flag in declared(options):
            for name in (*flag.names, *flag.gatk):
                found[name] = (field, flag)
    return found


@pytest.mark.parametrize("task_name", TASK_COMMANDS)
def test_every_flag_a_task_passes_is_declared_with_the_same_default(task_name):
    (path,) = [p for p in (REPO / "wdl" / "tasks").glob("*.wdl")
               if f"task {task_name} " in p.read_text()]  # fmt: skip
    task = [t for t in WDL.load(str(path)).tasks if t.name == task_name][0]
    command = "".join(part if isinstance(part, str) else f"~{{{part.expr}}}"
                      for part in task.command.parts)  # fmt: skip
    lines = command[command.index(f"cnnscore {TASK_COMMANDS[task_name]}") :].split("\n")
    end = next(i for i, line in enumerate(lines) if not line.rstrip().endswith("\\"))
    cnnscore = "\n".join(lines[: end + 1])  # the invocation, to its last continued line
    declared = _declared_flags(TASK_COMMANDS[task_name])
    passed = set(_FLAG.findall(cnnscore))
    assert passed - set(declared) == set(), "flags the task passes that cnnscore does not declare"
    defaults = {d.name: d.expr for d in task.inputs if d.expr is not None}
    for match in _FLAG_WITH_INPUT.finditer(cnnscore):
        groups = match.groupdict()
        flag = next(groups[k] for k in ("flag", "flag2", "flag3", "flag4") if groups[k])
        name = next(groups[k] for k in ("input", "input2", "input3", "input4") if groups[k])
        if name not in defaults or (task_name, name) in DELIBERATE_DEFAULTS:
            continue
        field, _ = declared[flag]
        wdl_default = defaults[name].eval(WDL.Env.Bindings(), WDL.StdLib.Base("1.0")).json
        declared_default = list(field.default) if isinstance(field.default, tuple) else (
            field.default)  # fmt: skip
        assert wdl_default == declared_default, (task_name, name, flag)


@pytest.mark.parametrize("path", [WORKFLOW, WORKFLOW.with_name("validate_backends.wdl")],
                         ids=lambda p: p.name)  # fmt: skip
def test_each_workflow_has_its_first_task_compare_every_index_list(path):
    """A task gets only the files its inputs name, so an empty index list is a run that fails
    late (docs/CROMWELL.md, row 14): each workflow hands SplitIntervals, its first task, the
    length of every file list beside its index list, and test_wdl_cromwell runs the comparison."""
    workflow = WDL.load(str(path)).workflow
    (split,) = [
        c for c in workflow.body if isinstance(c, WDL.Tree.Call) and c.name == "SplitIntervals"
    ]
    passed = {name: str(expression) for name, expression in split.inputs.items()}
    for files in ("reads", "reads_indexes", "resources", "resources_indexes"):
        assert passed.get(f"{files}_count") == f"length({files})", passed


def _gcp_batch_vcpus(cpu: int, memory_gb: float, family: str) -> int:
    """The vCPUs of the custom VM Cromwell's GCP Batch backend asks for (a port of
    GcpBatchCustomMachineType's validateCpu and its memory-per-vCPU rule): N1 without a
    cpu_platform, N2 for Intel Cascade Lake/Ice Lake, N2D for AMD Rome."""

    def rounded(n: int) -> int:
        if family == "n1":
            return 1 if n == 1 else n + n % 2
        if family == "n2":
            return n + n % 2 if n <= 32 else n + (-n) % 4
        return max(2, 2 ** math.ceil(math.log2(n))) if n <= 16 else min(96, n + (-n) % 16)

    most_gb_per_vcpu = {"n1": 6.5, "n2": 8.0, "n2d": 8.0}[family]
    vcpus = rounded(cpu)
    if memory_gb / vcpus > most_gb_per_vcpu:
        vcpus = rounded(math.ceil(memory_gb / most_gb_per_vcpu))
    return vcpus


@pytest.mark.parametrize("family", ["n1", "n2", "n2d"])
def test_the_scoring_vms_documented_are_the_vms_gcp_batch_makes(family):
    """--threads is score_cpu; GCP Batch rounds a VM's vCPUs up, so any other count leaves paid
    vCPUs idle (docs/CROMWELL.md, row 16). The default and every count docs/WDL.md calls exact
    are what each machine family makes of them."""
    inputs = {d.name: d.expr for d in WDL.load(str(WORKFLOW)).workflow.inputs}
    cpu, memory_gb = inputs["score_cpu"].value, inputs["score_memory_gb"].value
    assert _gcp_batch_vcpus(cpu, memory_gb, family) == cpu
    text = " ".join((REPO / "docs" / "WDL.md").read_text().split())
    (listed,) = re.findall(r"((?:`\d+`, )+`\d+` and `\d+`) are exact on all three", text)
    exact = [int(n) for n in re.findall(r"\d+", listed)]
    assert cpu in exact
    for count in exact:
        assert _gcp_batch_vcpus(count, memory_gb, family) == count, count
    assert _gcp_batch_vcpus(3, memory_gb, family) == 4  # not exact anywhere
    # the light tasks' 1 CPU is 2 vCPUs with a cpu_platform, as the doc says
    assert _gcp_batch_vcpus(1, 2, family) == (1 if family == "n1" else 2)


NAMING_TASKS = [p for p in sorted((REPO / "wdl" / "tasks").glob("*.wdl"))
                if "String output_prefix" in p.read_text()]  # fmt: skip


@pytest.mark.parametrize("path", NAMING_TASKS, ids=lambda p: p.name)
def test_files_are_named_only_with_characters_gcp_batch_transfers_intact(path):
    """GCP Batch writes each output's object name into a bash array in double quotes and copies
    the first file of a folder through an unquoted `eval` (Cromwell's gcs_transfer.sh): `$`, a
    quote, a backtick or a run of spaces in a name changes it, and the shard fails after scoring
    (docs/CROMWELL.md row 17). Every task names its files from `file_prefix`, made safe."""
    assert len(NAMING_TASKS) == 4  # score, gather, filter, compare
    (task,) = WDL.load(str(path)).tasks
    (declaration,) = [d for d in task.postinputs if d.name == "file_prefix"]
    hostile = 'o\'v $HOME  `x` \\ "q"/y*?'
    env = WDL.Env.Bindings().bind("output_prefix", WDL.Value.String(hostile))
    safe = declaration.expr.eval(env, WDL.StdLib.Base("1.0")).value
    assert re.fullmatch(r"[A-Za-z0-9._-]+", safe) and len(safe) == len(hostile), safe
    text = path.read_text()
    named = text[text.index("command <<<") : text.index("parameter_meta {")]
    assert "output_prefix" not in named, "a file named from output_prefix as given"
    assert "~{file_prefix}" in named


def _calls(body):
    for node in body:
        if isinstance(node, WDL.Tree.Call):
            yield node
        elif isinstance(node, (WDL.Tree.Scatter, WDL.Tree.Conditional)):
            yield from _calls(node.body)


@pytest.mark.parametrize("path", [WORKFLOW, WORKFLOW.with_name("validate_backends.wdl")],
                         ids=lambda p: p.name)  # fmt: skip
def test_each_workflow_passes_every_input_of_its_filter_task(path):
    """An input of a call left unset is a nested optional input on Terra, which users find
    under the task's name and which differs between the two workflows (ValidateBackends did not
    pass invalidate_previous_filters)."""
    workflow = WDL.load(str(path)).workflow
    (call,) = [c for c in _calls(workflow.body) if c.callee.name == "FilterVariantTranches"]
    declared = {d.name for d in call.callee.inputs}
    assert declared - set(call.inputs) == set()


def test_the_docs_say_what_only_max_retries_retries():
    """With the default max_retries = 0, Terra's retry with more memory never happens (it counts
    against maxRetries) and a VM rebooted or recreated mid-task fails the run (preemptible takes
    Spot preemption only): docs/CROMWELL.md, row 8. README and WDL.md say both."""
    for doc in ("README.md", "docs/WDL.md"):
        text = " ".join((REPO / doc).read_text().split())
        assert '"Retry with more memory"' in text and "needs `max_retries` of 1 or more" in text
        assert "reboots or recreates" in text and "unless `max_retries` is 1 or more" in text


def test_the_terra_validation_example_asks_for_the_newest_n2_platform():
    """cpu_platform is a minimum (Cromwell's setMinCpuPlatform): "Intel Cascade Lake" still lets
    Ice Lake VMs serve some shards, so the throughput compared two CPU generations; Ice Lake, the
    newest N2 platform, is exact."""
    inputs = json.loads((REPO / "inputs" / "terra.validate.example.json").read_text())
    assert inputs["ValidateBackends.cpu_platform"] == "Intel Ice Lake"


TASK_FILES = sorted((REPO / "wdl" / "tasks").glob("*.wdl"))


@pytest.mark.parametrize("path", TASK_FILES, ids=lambda p: p.name)
def test_every_task_disk_is_an_ssd(path):
    """Cromwell's GCP Batch backend makes `HDD` a pd-standard disk, whose throughput Google gives
    as 0.12 MiB/s per GiB with no baseline: a 22 GB scoring disk fills at ~2.6 MiB/s, minutes per
    shard to localise a GB of VCF, and the split, gather and filter disks likewise on the
    workflow's serial path; `SSD` (pd-ssd) has a per-disk baseline besides (docs/WDL.md)."""
    for task in WDL.load(str(path)).tasks:
        disks = task.runtime["disks"]
        literal = "".join(part for part in disks.parts if isinstance(part, str))
        assert literal.startswith('"local-disk ') and literal.endswith(' SSD"'), (
            task.name,
            literal,
        )
