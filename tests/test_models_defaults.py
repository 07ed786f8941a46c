"""cnnscore's own models, shipped in the package: pinned by sha256; compact_2d opt-in by name,
compact_1d used when no reference model is given and GATK's is not cached; and on the real NA12878
smoke set their GIAB-true calls score higher on average than the others
(issue 9's acceptance), with the numbers the model card reports."""

from __future__ import annotations

import json
import shutil

import pytest

from cnnscore.errors import InputError
from cnnscore.io.files import sha256_file
from cnnscore.models.defaults import DEFAULT_MODELS, FOLDER, default_model, shipped_sums
from cnnscore.models.spec import READ_TENSOR, REFERENCE
from cnnscore.training.evaluation import evaluate
from conftest import SMOKE, SMOKE_BAM, SMOKE_REF, SMOKE_VCF, data_lines, header_lines, run_cli

SHIPPED = [f"{stem}{suffix}" for stem in DEFAULT_MODELS.values() for suffix in (".hd5", ".json")]


def _evaluation() -> dict:
    with open(f"{FOLDER}/evaluation.json") as handle:
        return json.load(handle)


def test_shipped_files_match_their_sha256_and_the_model_card():
    sums = shipped_sums()
    assert sorted(sums) == sorted([*SHIPPED, "evaluation.json"])
    for name, digest in sums.items():
        assert sha256_file(f"{FOLDER}/{name}") == digest, name
    with open(f"{FOLDER}/MODEL_CARD.md") as handle:
        card = handle.read()
    evaluation = _evaluation()
    for stem in DEFAULT_MODELS.values():
        assert sums[f"{stem}.hd5"] in card
        assert evaluation[stem]["weights_sha256"] == sums[f"{stem}.hd5"]
        heldout = evaluation[stem]["heldout_simulated_chr20_50mb_on"]["all"]["roc_auc"]
        assert f"{heldout:.3f}" in card, (stem, heldout)


def test_a_damaged_shipped_model_is_refused(tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(FOLDER, folder)
    weights = folder / "cnnscore_compact_2d.hd5"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(InputError, match="damaged .*reinstall cnnscore"):
        default_model(READ_TENSOR, str(folder))
    assert default_model(REFERENCE, str(folder))[1].endswith("cnnscore_compact_1d.hd5")


@pytest.mark.parametrize(
    "tensor_type, key, stem",
    [(READ_TENSOR, "CNN_2D", "cnnscore_compact_2d"), (None, "CNN_1D", "cnnscore_compact_1d")],
)
def test_the_compact_models_score_as_their_card_says(tmp_path, tensor_type, key, stem):
    """compact_2d by name (small_2d is the 2D default); compact_1d with no model at all (the
    tensor type is then reference, GATK's default, and GATK's 1D weights are not cached). On the
    real smoke set, GIAB-true calls must score higher on average than the other calls, and the
    numbers must be the card's (evaluation.json, same backend). The output's INFO line names the
    model."""
    out = tmp_path / "smoke.vcf.gz"
    args = ["score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--backend", "onnxruntime", "-O", out]
    if tensor_type:
        args += ["-I", SMOKE_BAM, "--tensor-type", tensor_type, "--model", stem]
    result = run_cli(*args, check=True)
    if tensor_type:
        assert "no model given" not in result.stderr
    else:
        assert f"no model given: using cnnscore's own {stem}.hd5" in result.stderr
    lines = data_lines(out)
    assert len(lines) == 252 and all(f";{key}=" in line or f"\t{key}=" in line for line in lines)
    # the file itself says whose model scored it (GATK's text otherwise: test_scoring_2d)
    (info,) = [line for line in header_lines(out) if line.startswith(f"##INFO=<ID={key},")]
    assert info.endswith(f"Network (here cnnscore's own {stem}, not GATK's model: see its "
                         'MODEL_CARD.md)">')  # fmt: skip
    got = evaluate(str(out), str(SMOKE / "giab_truth.vcf.gz"), None, key)
    assert got["all"]["mean_score_true"] > got["all"]["mean_score_false"]
    assert got == _evaluation()[stem]["smoke_na12878_giab_all_calls"]
