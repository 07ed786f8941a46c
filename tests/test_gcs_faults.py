"""Remote faults: a storage endpoint that answers 429/500/503, cuts range reads short with a
reset, refuses uploads or goes away mid-run (tests/faulty_gcs.py, between cnnscore and the GCS
emulator). A run either rides the faults out with byte-identical output, or ends with one
``cnnscore: error:`` line naming the gs:// object, exit 1, and nothing at the destination."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from faulty_gcs import Fault, FaultyProxy, after, every, first

from conftest import (
    BUCKET,
    assert_only_cnnscore_lines,
    data_lines,
    gcs_score_args,
    gs,
    header_lines,
    run_cli,
)

BAM = "smoke/NA12878.chr20_10M_10.1M.bam"


def _media(suffix: str, ranged: bool = False):
    def matches(request) -> bool:
        has_range = any(key.lower() == "range" for key in request.headers)
        return request.is_media and request.object_name.endswith(suffix) and has_range >= ranged

    return matches


def _stat(request) -> bool:
    return request.method == "GET" and not request.is_media and "/o/" in request.path


@pytest.fixture
def proxy(gcs_emulator, monkeypatch, tmp_path):
    """The faulty network, with an empty gs:// cache so that every small file is fetched too."""
    faulty = FaultyProxy(os.environ["STORAGE_EMULATOR_HOST"])
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", faulty.url)
    monkeypatch.setenv("CNNSCORE_GCS_CACHE", str(tmp_path / "gcs-cache"))
    yield faulty
    faulty.close()


def _objects(client, prefix: str) -> set[str]:
    return {blob.name for blob in client.list_blobs(BUCKET, prefix=prefix)}


def _one_error_line(stderr: str, names: str) -> str:
    assert_only_cnnscore_lines(stderr)  # no traceback, no library lines
    errors = [line for line in stderr.splitlines() if line.startswith("cnnscore: error:")]
    assert len(errors) == 1, stderr
    assert names in errors[0], stderr
    return errors[0]


def test_transient_faults_are_retried_and_the_output_is_identical(
    proxy, gcs_emulator, smoke_2d_output, tmp_path
):
    proxy.faults = [
        Fault(_stat, status=503, which=first(2)),
        Fault(_media(".bam", ranged=True), cut_after=1000, which=every(4)),  # reset mid-body
        Fault(_media(".bam"), status=503, which=first(2)),
        Fault(_media(".fa.gz"), status=429, which=first(1)),
        Fault(_media(".vcf.gz"), status=500, which=first(1)),
        Fault(_media(".hd5"), status=502, which=first(1)),
        Fault(lambda request: request.is_upload, status=503, which=first(1)),
    ]
    result = run_cli(*gcs_score_args(gs("faults/ok.vcf.gz"), "--gcs-max-retries", "4"))
    assert result.returncode == 0, result.stderr
    fired = [fault.fired for fault in proxy.faults]
    assert all(fired), f"a fault never fired: {fired}"
    # every retry says so (the waits add up to minutes otherwise silent), naming the object
    retries = [line for line in result.stderr.splitlines() if "trying again (" in line]
    assert any(gs("smoke/ref.chr20.fa.gz") in line and "of 4, --gcs-max-retries" in line
               for line in retries), result.stderr  # fmt: skip
    assert all(line.startswith("cnnscore: note: ") for line in retries)
    scored = tmp_path / "ok.vcf.gz"
    gcs_emulator.bucket(BUCKET).blob("faults/ok.vcf.gz").download_to_filename(str(scored))
    assert data_lines(scored) == data_lines(smoke_2d_output)
    provenance = "##cnnscoreCommandLine"
    assert [h for h in header_lines(scored) if not h.startswith(provenance)] == [
        h for h in header_lines(smoke_2d_output) if not h.startswith(provenance)
    ]


@pytest.mark.parametrize("what", ["bam", "reference", "model"])
def test_an_outage_ends_in_one_line_naming_the_object(proxy, gcs_emulator, what):
    """Reads that keep failing once the run has started (the BAM and FASTA by range through the
    range server, the model as a whole download): retried, then one line, nothing uploaded."""
    suffix, name = {
        "bam": (".bam", BAM),
        "reference": (".fa.gz", "smoke/ref.chr20.fa.gz"),
        "model": (".hd5", "models/small_2d.hd5"),
    }[what]
    proxy.faults = [Fault(_media(suffix), status=503, which=after(1 if what != "model" else 0))]
    result = run_cli(*gcs_score_args(gs(f"faults/{what}.vcf.gz"), "--gcs-max-retries", "2"))
    assert result.returncode == 1, result.stderr
    line = _one_error_line(result.stderr, gs(name))
    assert "after 2 retries" in line and "503" in line, line
    assert proxy.faults[0].fired >= 3  # the first try and two retries, at least
    assert not _objects(gcs_emulator, f"faults/{what}.vcf.gz")


def test_the_endpoint_going_away_mid_run_is_one_line(proxy, gcs_emulator, tmp_path):
    """As the emulator killed while scoring: once the BAM is being read, every connection is
    refused (and kept-alive ones reset)."""
    watch = Fault(_media(".bam", ranged=True))  # counts, never fires a fault of its own
    watch.which = lambda seen: False
    proxy.faults = [watch]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cnnscore",
         *gcs_score_args(str(tmp_path / "local.vcf.gz"), "--gcs-max-retries", "2")],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while watch.seen < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proxy.go_away()
    _, stderr = process.communicate(timeout=300)
    assert watch.seen >= 2, stderr  # the outage began mid-run, not before it
    assert process.returncode == 1, stderr
    _one_error_line(stderr, gs(BAM))
    assert not list(tmp_path.glob("local.vcf.gz*"))  # nothing written beside a local output


def test_an_upload_that_keeps_failing_leaves_no_object(proxy, gcs_emulator, smoke_2d_output):
    destination = gcs_emulator.bucket(BUCKET).blob("faults/kept.vcf.gz")
    destination.upload_from_string(b"the previous complete version")
    proxy.faults = [Fault(lambda request: request.is_upload, status=503)]
    result = run_cli(*gcs_score_args(gs("faults/kept.vcf.gz"), "--gcs-max-retries", "1"))
    assert result.returncode == 1, result.stderr
    _one_error_line(result.stderr, "gs://")
    assert proxy.faults[0].fired >= 2
    assert _objects(gcs_emulator, "faults/kept") == {"faults/kept.vcf.gz"}  # no .tbi either
    assert destination.download_as_bytes() == b"the previous complete version"


def test_retries_are_a_gatk_setting(capsys):
    from cnnscore.cli.parser import CommonOptions, build_parser, options_from

    def retries(*args: str) -> int:
        return options_from(CommonOptions, build_parser().parse_args(args))[0].gcs_max_retries

    common = ["score", "-V", "x.vcf", "-R", "x.fa", "-O", "y.vcf"]
    assert retries(*common, "-gcs-retries", "3") == 3
    assert retries(*common) == 20  # GATK's default
    with pytest.raises(SystemExit):
        build_parser().parse_args([*common, "--gcs-max-retries", "-1"])
    assert "must be 0 or more" in capsys.readouterr().err.splitlines()[-1]
