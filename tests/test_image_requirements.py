"""The task image pins exactly what cnnscore needs to run, at the versions the tests ran.

Every package in ``docker/requirements.txt`` is pulled into each task's container on Terra, so a
package only the tests or benchmarks need costs every run: NNCF (``bench/precision_gate.py``) and
twelve packages it brought (SciPy and scikit-learn among them) stayed in the image after int8 was
refused. The expected set is computed, not listed: the dependency closure of cnnscore's runtime
requirements (core and the openvino, onnxruntime, gcs and training extras: the image keeps
TensorFlow for the reference backend and training), read from the metadata of the
packages installed beside these tests, which ``python/requirements.lock`` pins.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
IMAGE_EXTRAS = ("openvino", "onnxruntime", "gcs", "training")


def pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements file, by canonical name."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            found[canonicalize_name(name)] = version
    return found


def closure(roots: list[Requirement]) -> set[str]:
    """Every distribution ``roots`` pull in, following the installed metadata (extras included);
    one not installed is named, its own requirements unknown. Also run inside the
    openvino-tensorflow image (Python 3.9), by its source: keep it 3.9-safe."""
    todo = list(roots)
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.distribution(requirement.name).requires or []
        except metadata.PackageNotFoundError:  # named, so that a missing pin shows
            requires = []
        for text in requires:
            needed = Requirement(text)
            asked = requirement.extras or {""}
            if needed.marker is None or any(needed.marker.evaluate({"extra": e}) for e in asked):
                todo.append(needed)
    return {name for name, _ in seen}


def runtime_closure() -> set[str]:
    """The closure of cnnscore's runtime requirements: core and the image's extras."""
    project = tomllib.loads((ROOT / "python" / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    roots = [Requirement(text) for text in project["dependencies"]]
    roots += [Requirement(text) for extra in IMAGE_EXTRAS for text in extras[extra]]
    return closure(roots) - {"cnnscore"}  # an extra naming another (training -> tensorflow)


def test_image_pins_are_the_tested_versions():
    lock = pins(ROOT / "python" / "requirements.lock")
    image = pins(ROOT / "docker" / "requirements.txt")
    assert {name: (version, lock.get(name)) for name, version in image.items()
            if lock.get(name) != version} == {}  # fmt: skip


def test_image_carries_the_runtime_closure_and_nothing_else():
    image = set(pins(ROOT / "docker" / "requirements.txt"))
    installers = set(pins(ROOT / "docker" / "build-requirements.txt"))  # pip, setuptools, wheel
    closure = runtime_closure()
    assert closure - image - installers == set(), "runtime dependencies missing from the image"
    assert image - closure == set(), "the image pins packages cnnscore does not need to run"
    assert "nncf" not in image
