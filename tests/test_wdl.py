"""The WDL: clean under `miniwdl check --strict`, WDL 1.0 only, and example inputs that match it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import WDL

from conftest import REPO

WORKFLOW = REPO / "wdl" / "workflows" / "cnn_score_variants.wdl"
WDL_FILES = sorted((REPO / "wdl").rglob("*.wdl"))


def test_every_wdl_file_is_version_1_0():
    assert len(WDL_FILES) >= 5
    for path in WDL_FILES:
        first = next(line for line in path.read_text().splitlines() if line.strip())
        assert first.strip() == "version 1.0", path


@pytest.mark.parametrize(
    "path", [p for p in WDL_FILES if "workflows" in p.parts], ids=lambda p: p.name
)
def test_miniwdl_check_strict_is_clean(path):
    miniwdl = Path(sys.executable).with_name("miniwdl")
    result = subprocess.run(
        [str(miniwdl), "check", "--strict", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "shellcheck" not in result.stdout.lower(), "install shellcheck so commands are checked"


WORKFLOWS = REPO / "wdl" / "workflows"
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
