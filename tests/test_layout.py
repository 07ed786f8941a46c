"""The package's layout by stage: layers import only downwards, modules stay small, and
docs/ARCHITECTURE.md names exactly the modules on disk.

Read from the source (every ``import``, function-level ones included), not from what happens to be
imported at run time, so a lazy import that breaks the layering is caught too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "cnnscore"

#: Each subpackage's layer: a module may import its own subpackage and strictly lower layers only.
#: The top-level modules (errors, version) are shared by every stage; ``__main__`` is the entry.
LAYERS = {
    "": 0,
    "io": 1,
    "encode": 2,
    "models": 3,
    "backends": 4,
    "scoring": 5,
    "shards": 6,
    "tranches": 6,
    "training": 7,
    "validate": 7,
    "gcs": 8,
    "cli": 9,
    "__main__": 10,
}
HEAVY = ("tensorflow", "openvino", "onnxruntime", "onnx", "keras", "torch")


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def stage_of(module: str, package: Path = PACKAGE) -> str:
    """The subpackage a module belongs to ('' for the shared top-level modules)."""
    if module == "__main__":
        return "__main__"
    head, _, rest = module.partition(".")
    return head if rest or (package / head).is_dir() else ""


def imported_modules(path: Path, package: Path) -> set[str]:
    """cnnscore modules (dotted, relative to the package) that ``path`` imports anywhere."""
    name = module_name(path, package)
    is_package = path.name == "__init__.py"
    own = name.split(".") if name else []
    here = own if is_package else own[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
            elif node.module and node.module.split(".")[0] == "cnnscore":
                base, node_module = [], node.module.partition(".")[2]
                found.add(node_module)
                for alias in node.names:
                    found.add(f"{node_module}.{alias.name}".strip("."))
                continue
            else:
                continue
            target = base + (node.module.split(".") if node.module else [])
            found.add(".".join(target))
            for alias in node.names:  # `from . import locations` imports a module
                found.add(".".join([*target, alias.name]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cnnscore":
                    found.add(alias.name.partition(".")[2])
    modules = {module_name(p, package) for p in package.rglob("*.py")}
    return {m for m in found if m in modules and m != name}


def layer_violations(package: Path, layers: dict[str, int]) -> list[str]:
    problems = []
    for path in sorted(package.rglob("*.py")):
        source = module_name(path, package)
        from_stage = stage_of(source, package)
        for target in sorted(imported_modules(path, package)):
            to_stage = stage_of(target, package)
            if to_stage == from_stage:
                continue
            if to_stage not in layers or from_stage not in layers:
                problems.append(f"{source} -> {target}: subpackage without a layer")
            elif layers[to_stage] >= layers[from_stage]:
                problems.append(
                    f"{source} ({from_stage or 'top'}, layer {layers[from_stage]}) imports "
                    f"{target} ({to_stage or 'top'}, layer {layers[to_stage]})"
                )
    return problems


def test_stages_import_only_lower_layers():
    assert layer_violations(PACKAGE, LAYERS) == []


def test_every_subpackage_has_a_layer():
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages == set(LAYERS) - {"", "__main__"}


def test_the_layer_check_catches_an_upward_import(tmp_path):
    """The check itself can fail: an io module importing scoring (lazily) is reported."""
    fake = tmp_path / "cnnscore"
    for stage in ("io", "scoring"):
        (fake / stage).mkdir(parents=True)
        (fake / stage / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "scoring" / "score.py").write_text("from ..io.files import x\n")
    (fake / "io" / "files.py").write_text("def f():\n    from ..scoring import score\n")
    problems = layer_violations(fake, {"": 0, "io": 1, "scoring": 5})
    assert "io.files (io, layer 1) imports scoring.score (scoring, layer 5)" in problems
    assert all(p.startswith("io.files (io, layer 1) imports scoring") for p in problems)


def test_subpackage_graph_has_no_cycles():
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        source = stage_of(module_name(path, PACKAGE))
        for target in imported_modules(path, PACKAGE):
            if stage_of(target) != source:
                edges.setdefault(source, set()).add(stage_of(target))
    visiting, done = set(), set()

    def visit(node: str, trail: list[str]) -> None:
        assert node not in visiting, "import cycle: " + " -> ".join([*trail, node])
        if node in done:
            return
        visiting.add(node)
        for nxt in edges.get(node, ()):
            visit(nxt, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for node in list(edges):
        visit(node, [])


def test_top_level_is_small_and_modules_stay_under_500_lines():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 5, top
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 500
    }
    assert long == {}


@pytest.mark.parametrize("init", sorted(PACKAGE.rglob("__init__.py")), ids=str)
def test_package_inits_import_no_inference_runtime(init):
    """Importing a subpackage must stay cheap: runtimes load only in the backend chosen."""
    tree = ast.parse(init.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {n for n in names if n.split(".")[0] in HEAVY}


def _has_code(init: Path) -> bool:
    """A subpackage ``__init__.py`` that does more than carry a docstring."""
    body = ast.parse(init.read_text()).body
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in body)


def test_architecture_page_names_every_module_and_no_other():
    page = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    on_disk = {
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py" or p.parent == PACKAGE or _has_code(p)
    }
    named = set(re.findall(r"`((?:[a-z_]+/)?[a-z_0-9]+\.py)`", page))
    named = {n for n in named if not n.startswith(("tests/", "bench/"))}  # outside the package
    assert on_disk - named == set(), "modules missing from docs/ARCHITECTURE.md"
    assert named - on_disk == set(), "docs/ARCHITECTURE.md names modules that do not exist"


def test_readme_links_the_architecture_page_and_names_every_subpackage():
    readme = (ROOT / "README.md").read_text()
    assert "docs/ARCHITECTURE.md" in readme
    for stage in set(LAYERS) - {"", "__main__"}:
        assert f"`{stage}/`" in readme, stage
