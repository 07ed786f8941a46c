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


def workflow_inputs() -> tuple[dict[str, str], set[str]]:
    document = WDL.load(str(WORKFLOW))
    workflow = document.workflow
    available = {
        f"{workflow.name}.{b.name}": str(b.value.type)
        for b in workflow.available_inputs
        if "." not in b.name
    }
    required = {f"{workflow.name}.{b.name}" for b in workflow.required_inputs}
    return available, required


@pytest.mark.parametrize("name", ["local.smoke.json", "terra.example.json"])
def test_example_inputs_name_real_workflow_inputs(name):
    available, required = workflow_inputs()
    inputs = json.loads((REPO / "inputs" / name).read_text())
    assert set(inputs) <= set(available), set(inputs) - set(available)
    assert required <= set(inputs), required - set(inputs)
    for key, value in inputs.items():
        kind = available[key].rstrip("?")
        if kind == "File":
            assert isinstance(value, str)
        elif kind == "Array[File]":
            assert isinstance(value, list) and all(isinstance(v, str) for v in value)
        elif kind == "Int":
            assert isinstance(value, int)
        elif kind == "String":
            assert isinstance(value, str)


def test_local_inputs_exist_relative_to_the_repo_root():
    inputs = json.loads((REPO / "inputs" / "local.smoke.json").read_text())
    available, _ = workflow_inputs()
    for key, value in inputs.items():
        for item in value if isinstance(value, list) else [value]:
            if available[key].rstrip("?").endswith("File"):
                assert (REPO / item).resolve().is_file(), item


def test_terra_inputs_use_gs_paths():
    inputs = json.loads((REPO / "inputs" / "terra.example.json").read_text())
    available, _ = workflow_inputs()
    for key, value in inputs.items():
        if "File" in available[key]:
            for item in value if isinstance(value, list) else [value]:
                assert item.startswith("gs://"), item
