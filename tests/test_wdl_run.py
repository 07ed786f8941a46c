"""The workflow end to end: miniwdl runs it in the real task image (podman) on the smoke data with
scatter_count=3, from the files a Cromwell server would be given (the entry workflow and the
dependency zip README's command builds), and the gathered VCF must equal a direct
`cnnscore score` run record for record (and its tranche-filtered VCF a direct `cnnscore filter`
run of the gathered one).

Needs the image built by `docker/podman-build.sh` (the Makefile's `image` target, which `make test`
runs first) and the miniwdl plugin in tools/miniwdl_podman_local (installed by `make setup`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_wdl import ZIP_COMMAND

from cnnscore.backends import cpu
from conftest import (
    REPO,
    SMOKE,
    TESTDATA,
    assert_matches_golden,
    assert_only_cnnscore_lines,
    data_lines,
    header_lines,
    podman_env_for,
    run_cli,
    smoke_2d_args,
)

IMAGE = "cnnscore:local"


@pytest.fixture(scope="module")
def podman_env():
    return podman_env_for(IMAGE)


def _from_the_dependency_zip(workflow: str, folder: Path) -> Path:
    """The workflow as a Cromwell server is given it: the entry file beside the dependency zip
    README's command builds, unpacked (so the run also proves the zip holds every import)."""
    archive = folder / "cnnscore-wdl.zip"
    command = ZIP_COMMAND.format(zip=archive).split()
    subprocess.run([sys.executable if c == "python3" else c for c in command], cwd=REPO,
                   check=True)  # fmt: skip
    with zipfile.ZipFile(archive) as unpacked:
        unpacked.extractall(folder / "submitted")
    shutil.copyfile(REPO / "wdl" / workflow, folder / "submitted" / workflow)
    return folder / "submitted" / workflow


def _miniwdl_run(workflow: str | Path, inputs: str, run_dir: Path, env: dict) -> dict:
    """`miniwdl run` with the podman backend, as the README shows; the outputs.json."""
    miniwdl = Path(sys.executable).with_name("miniwdl")
    source = workflow if isinstance(workflow, Path) else f"wdl/{workflow}"
    result = subprocess.run(
        [str(miniwdl), "run", str(source), "-i", f"inputs/{inputs}",
         "--dir", f"{run_dir}/.", "--cfg", "wdl/miniwdl/podman.cfg"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-6000:]
    return json.loads((run_dir / "outputs.json").read_text())


@pytest.fixture(scope="module")
def workflow_run_dir(podman_env, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("miniwdl")
    workflow = _from_the_dependency_zip("cnn_score_variants.wdl", tmp_path_factory.mktemp("zip"))
    _miniwdl_run(workflow, "local.smoke.json", run_dir, podman_env)
    return run_dir


@pytest.fixture(scope="module")
def workflow_output(workflow_run_dir) -> dict:
    return json.loads((workflow_run_dir / "outputs.json").read_text())


def test_tasks_in_the_image_print_only_cnnscore_lines(workflow_run_dir):
    """The image runs TensorFlow too: on AVX-512 CPUs its start-up lines must not reach the
    task logs either."""
    logs = sorted(workflow_run_dir.glob("call-*/stderr.txt"))
    assert len(logs) >= 5  # split, 3 shards, gather, filter
    for log in logs:
        assert_only_cnnscore_lines(log.read_text())


def test_workflow_output_equals_direct_run(workflow_output, tmp_path):
    direct = tmp_path / "direct.vcf.gz"
    # the workflow's default backend, openvino
    run_cli(
        *smoke_2d_args(direct, "--reservoir-scope", "site", "--backend", "openvino"), check=True
    )
    gathered = Path(workflow_output["CNNScoreVariants.scored_vcf"])
    assert Path(workflow_output["CNNScoreVariants.scored_vcf_index"]).is_file()
    records = data_lines(gathered)
    assert len(records) == 252
    assert records == data_lines(direct)  # same order, every field, identical CNN_2D text
    assert header_lines(gathered) == header_lines(direct)


def test_workflow_reports_metrics_per_shard(workflow_output):
    metrics = [
        json.loads(Path(p).read_text()) for p in workflow_output["CNNScoreVariants.shard_metrics"]
    ]
    assert len(metrics) == 3
    assert sum(m["variants_scored"] for m in metrics) == 252
    assert all(m["backend"] == "openvino" and m["info_key"] == "CNN_2D" for m in metrics)
    assert all(m["effective_precision"] == "fp32" for m in metrics)
    # the container runs on this CPU: its first flags line in /proc/cpuinfo, read here, among
    # the names the metrics use, in their order
    with open("/proc/cpuinfo") as handle:
        first = next(line for line in handle if line.split(":")[0].strip() == "flags")
    flags = set(first.split(":", 1)[1].split())
    sets = [name for name in cpu.RELEVANT if name in flags]
    assert all(m["cpu_instruction_sets"] == sets for m in metrics), (sets, metrics)


def test_workflow_filters_like_a_direct_run(workflow_output, tmp_path):
    """local.smoke.json gives the GIAB truth as the resource, so the filter step runs."""
    gathered = Path(workflow_output["CNNScoreVariants.scored_vcf"])
    filtered = Path(workflow_output["CNNScoreVariants.filtered_vcf"])
    assert Path(workflow_output["CNNScoreVariants.filtered_vcf_index"]).is_file()
    direct = tmp_path / "direct.filtered.vcf.gz"
    run_cli("filter", "-V", gathered, "--resource", SMOKE / "giab_truth.vcf.gz", "-O", direct,
            check=True)  # fmt: skip
    records = data_lines(filtered)
    assert len(records) == 252
    assert records == data_lines(direct)
    assert header_lines(filtered) == header_lines(direct)
    assert {line.split("\t")[6] for line in records} > {"PASS"}  # the lowest truth scores fail


@pytest.fixture(scope="module")
def validation_output(podman_env, tmp_path_factory) -> dict:
    run_dir = tmp_path_factory.mktemp("miniwdl-validate")
    return _miniwdl_run("validate_backends.wdl", "local.validate.json", run_dir, podman_env)


def test_validation_workflow_reports_openvino_against_tensorflow(validation_output):
    """local.validate.json: tensorflow (baseline) vs openvino fp32 on 2 shards, each filtered with
    GIAB truth; gated on max_abs_delta>0.001 and concordance<1."""
    assert validation_output["ValidateBackends.gates_passed"] == [True]
    [json_path] = validation_output["ValidateBackends.reports_json"]
    [html_path] = validation_output["ValidateBackends.reports_html"]
    report = json.loads(Path(json_path).read_text())
    assert report["schema"] == "cnnscore.compare/1" and report["info_key"] == "CNN_2D"
    assert (report["baseline"]["label"], report["candidate"]["label"]) == ("tensorflow", "openvino")
    assert report["baseline"]["backends"] == ["tensorflow fp32"]
    assert report["candidate"]["backends"] == ["openvino fp32"]
    s = report["summary"]
    assert s["records_compared"] == 252 and report["candidate"]["variants_scored"] == 252
    assert s["missing_in_baseline"] == s["missing_in_candidate"] == 0
    assert s["max_abs_delta"] <= 0.001 and s["over_0_001"] == 0 and s["sign_flips"] == 0
    assert s["identical_text_fraction"] >= 0.98
    assert report["classification"]["cutoffs"]["classified"] == 252
    # each configuration was tranche-filtered with its own cutoffs (GIAB truth as the resource)
    filters = report["classification"]["filters"]
    assert filters["classified"] == 252 and filters["baseline_filtered"] > 0
    assert s["concordance"] == 1.0  # gated at 1 in local.validate.json
    assert len(validation_output["ValidateBackends.filtered_vcfs"]) == 2
    # each kept VCF with its index (Terra deletes the files that are no workflow output)
    for kind in ("scored", "filtered"):
        vcfs = validation_output[f"ValidateBackends.{kind}_vcfs"]
        indexes = validation_output[f"ValidateBackends.{kind}_vcf_indexes"]
        assert [f"{Path(v).name}.tbi" for v in vcfs] == [Path(i).name for i in indexes]
    # throughput from the shards' metrics: every record counted once per side, the rate the
    # count over the summed scoring time, the speedup the ratio of the two rates
    for side, key in (("baseline", "baseline_variants_per_minute"),
                      ("candidate", "candidate_variants_per_minute")):  # fmt: skip
        assert report[side]["variants_scored"] == 252
        seconds = report[side]["scoring_seconds"]
        rate = 60 * 252 / seconds
        assert report[side]["variants_per_minute"] == s[key] == pytest.approx(rate, rel=1e-9)
    ratio = s["candidate_variants_per_minute"] / s["baseline_variants_per_minute"]
    assert s["speedup"] == pytest.approx(ratio, rel=1e-9)
    assert [g["gate"] for g in report["fail_if"]] == [
        "max_abs_delta>0.001",
        "concordance<1",
        "missing_in_candidate>0",
        "unscored_in_candidate>0",
    ]
    assert Path(html_path).read_text().count("data:image/png;base64,") == 3
    # the scored VCFs, one per configuration, each hold every record
    assert [len(data_lines(p)) for p in validation_output["ValidateBackends.scored_vcfs"]] == [
        252
    ] * 2


def test_the_image_scores_with_gatks_small_2d_when_no_model_is_given(podman_env, tmp_path):
    """The image carries GATK's small_2d inside the cnnscore package: no model given means GATK's
    default, as in GATK, and its scores are GATK 4.6.0's (the golden file)."""
    smoke = "/testdata/na12878_chr20_smoke"
    command = [
        "podman", "run", "--rm", "--user", "0", "-v", f"{TESTDATA}:/testdata:ro",
        "-v", f"{tmp_path}:/out", IMAGE, "cnnscore", "score",
        "-V", f"{smoke}/hc.gatk4.vcf.gz", "-R", f"{smoke}/ref.chr20.fa.gz",
        "-I", f"{smoke}/NA12878.chr20_10M_10.1M.bam", "--tensor-type", "read_tensor",
        "-O", "/out/default.vcf",
    ]  # fmt: skip
    result = subprocess.run(command, env=podman_env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    assert (
        "no model given: using GATK's small_2d, GATK's default for read_tensor (shipped with "
        "cnnscore" in result.stderr
    )
    assert_matches_golden(tmp_path / "default.vcf")
    listing = ["podman", "run", "--rm", IMAGE, "cat", "/opt/cnnscore/models/MODELS.txt"]
    listed = subprocess.run(
        listing, env=podman_env, capture_output=True, text=True, check=True
    ).stdout
    assert any(line.split()[:5] == ["small_2d", "gatk", "read_tensor", "yes", "shipped"]
               for line in listed.splitlines())  # fmt: skip


@pytest.mark.parametrize("user", [None, "0"])
def test_openvino_in_the_image_sends_no_telemetry(podman_env, user):
    """openvino-telemetry decides from ~/intel/openvino_telemetry whether ``import openvino``
    reports to Google Analytics; with no file it does. In the image, as its task user and as
    root, it declines, and an import writes none of its client id or usage counts."""
    script = (
        "import os, openvino\n"
        "from openvino_telemetry.utils.opt_in_checker import OptInChecker\n"
        "folder = os.path.expanduser('~/intel')\n"
        "print(OptInChecker().check(False, True).name, sorted(os.listdir(folder)))\n"
    )
    command = ["podman", "run", "--rm", *(["--user", user] if user else []), IMAGE,
               "python", "-c", script]  # fmt: skip
    result = subprocess.run(command, env=podman_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(None, 1) == ["DECLINED", "['openvino_telemetry']\n"]
