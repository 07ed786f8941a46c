"""notebooks/: each notebook runs top to bottom on the smoke data (nbclient, no network) and shows
what it promises: the comparison table and its plots."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import BUCKET, REPO, TESTDATA, gs

NOTEBOOK = REPO / "notebooks" / "cnnscore_compare_backends.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory, monkeypatch_module):
    out = tmp_path_factory.mktemp("notebook")
    monkeypatch_module.setenv("NB_TESTDATA", str(TESTDATA))
    monkeypatch_module.setenv("NB_OUT", str(out))
    monkeypatch_module.setenv("NB_REGION", "chr20:10000000-10040000")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(out)}}).execute()  # fmt: skip
    return notebook, out


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_notebook_runs_and_compares_two_backends(executed):
    notebook, out = executed
    report = json.loads((out / "compare.json").read_text())
    assert (report["baseline"]["label"], report["candidate"]["label"]) == (
        "tensorflow fp32", "openvino fp32")  # fmt: skip
    assert report["summary"]["max_abs_delta"] <= 0.001 + 1e-9
    assert report["summary"]["concordance"] == 1.0
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", [])]  # fmt: skip
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no plot shown"
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("FILTER concordance" in page and "max |delta|" in page for page in html)


def test_a_workflows_gs_outputs_are_read_as_they_are(executed, gcs_emulator, tmp_path):
    """On Terra a workflow's outputs are gs:// URLs: the plots read the VCFs with gzip and
    failed there, and one metrics file per side was taken where CNNScoreVariants writes one per
    shard. Two runs' outputs, the candidate's metrics as two shards, all in a bucket."""
    _, scored_here = executed
    bucket = gcs_emulator.bucket(BUCKET)
    for name in ("tensorflow.vcf.gz", "openvino.vcf.gz", "tensorflow.metrics.json",
                 "openvino.metrics.json"):  # fmt: skip
        bucket.blob(f"runs/{name}").upload_from_filename(str(scored_here / name))
        if name.endswith(".json"):
            bucket.blob(f"runs/shard-1.{name}").upload_from_filename(str(scored_here / name))
    out = tmp_path / "from-gs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NB_OUT", str(out))
        patch.setenv("NB_BASELINE_VCF", gs("runs/tensorflow.vcf.gz"))
        patch.setenv("NB_CANDIDATE_VCF", gs("runs/openvino.vcf.gz"))
        patch.setenv("NB_BASELINE_METRICS", gs("runs/tensorflow.metrics.json"))
        patch.setenv(
            "NB_CANDIDATE_METRICS",
            " ".join([gs("runs/openvino.metrics.json"), gs("runs/shard-1.openvino.metrics.json")]),
        )
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        NotebookClient(notebook, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    report = json.loads((out / "compare.json").read_text())
    assert report["summary"]["concordance"] == 1.0 and report["summary"]["records_compared"] > 0
    assert report["candidate"]["variants_per_minute"] > 0
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", [])]  # fmt: skip
    assert any("image/png" in o.get("data", {}) for o in outputs), "no plot shown"


def test_the_committed_notebook_carries_no_outputs():
    """Outputs belong to a run, not to the repository."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")


def test_the_text_names_exactly_the_variables_the_code_reads_and_how_to_install():
    """What the introduction tells a Terra user to set is what the code reads (it once said
    BASELINE_VCF where the code read NB_BASELINE_VCF), and it says how to install cnnscore."""
    import re

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    text = "".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    code = "".join(c.source for c in notebook.cells if c.cell_type == "code")
    read = set(re.findall(r'os\.environ\.get\("(NB_[A-Z_]+)"', code))
    named = set(re.findall(r"`(NB_[A-Z_]+)`", text))
    assert read and named == read, (named - read, read - named)
    assert "pip install" in text and "cnnscore[tensorflow,gcs]" in text
