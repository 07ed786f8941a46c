"""cnnscore's own trained models, shipped inside the package, used when no model is given.

GATK's model files are not redistributable offline and its 1D weights are not obtainable without
the network, so a fresh install scores with these: ``cnnscore_compact_1d`` and
``cnnscore_compact_2d``, trained by ``models/train_default_models.sh`` (recipe and numbers in
``cnnscore/models/default_models/MODEL_CARD.md``). Each file is checked against the shipped
``SHA256SUMS`` before use, so a damaged install fails with a clear line instead of scoring with
altered weights.
"""

from __future__ import annotations

import os

from ..errors import InputError
from ..io.files import sha256_file
from .spec import READ_TENSOR, REFERENCE

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "default_models")
#: tensor type -> the shipped model's file name stem
DEFAULT_MODELS = {REFERENCE: "cnnscore_compact_1d", READ_TENSOR: "cnnscore_compact_2d"}
SUMS_FILE = "SHA256SUMS"


def shipped_sums(folder: str = FOLDER) -> dict[str, str]:
    """File name -> sha256, from the folder's SHA256SUMS (``sha256sum`` format)."""
    path = os.path.join(folder, SUMS_FILE)
    try:
        with open(path) as handle:
            lines = [line.split() for line in handle if line.strip()]
    except OSError as error:
        raise InputError(f"cannot read the shipped model checksums: {error}", path=path) from None
    return {name.lstrip("*"): digest for digest, name in lines}


def default_model(tensor_type: str, folder: str = FOLDER) -> tuple[str, str]:
    """The shipped (architecture JSON, weights .hd5) for ``tensor_type``, sha256-checked."""
    stem = DEFAULT_MODELS[tensor_type]
    sums = shipped_sums(folder)
    paths = []
    for name in (f"{stem}.json", f"{stem}.hd5"):
        path = os.path.join(folder, name)
        if name not in sums:
            raise InputError(f"no sha256 for the shipped model file {name}", path=path)
        if not os.path.isfile(path):
            raise InputError("shipped model file missing: reinstall cnnscore", path=path)
        digest = sha256_file(path)
        if digest != sums[name]:
            raise InputError(
                f"shipped model file is damaged (sha256 {digest}, expected {sums[name]}): "
                "reinstall cnnscore",
                path=path,
            )
        paths.append(path)
    return paths[0], paths[1]
