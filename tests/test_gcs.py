"""gs:// paths against a real GCS API emulator (gcp-storage-emulator, started here on localhost).

google-cloud-storage honours STORAGE_EMULATOR_HOST, so the code under test is the production path:
the same client, the range server htslib reads BAM/FASTA through, the generation-keyed cache and
the staged, resumable uploads.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import (
    BUCKET,
    SMOKE,
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
    data_lines,
    gcs_score_args,
    gs,
    header_lines,
    run_cli,
)


def _download(client, name: str, path: Path) -> Path:
    client.bucket(BUCKET).blob(name).download_to_filename(str(path))
    return path


def _without_provenance(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.startswith("##cnnscoreCommandLine")]


def test_full_2d_score_from_and_to_gcs(gcs_emulator, smoke_2d_output, tmp_path):
    """Every input from gs:// (the model's .json derived from the .hd5 name, as GATK does), the
    VCF, its index and the metrics to gs://; same records as the local run."""
    result = run_cli(
        *gcs_score_args(gs("out/smoke.vcf.gz"), "--metrics-json", gs("out/smoke.metrics.json"),
                     "--requester-pays-project", "billing-project"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "cnnscore: uploaded the outputs to gs://" in result.stderr
    names = {blob.name for blob in gcs_emulator.list_blobs(BUCKET, prefix="out/")}
    assert names == {"out/smoke.vcf.gz", "out/smoke.vcf.gz.tbi", "out/smoke.metrics.json"}
    scored = _download(gcs_emulator, "out/smoke.vcf.gz", tmp_path / "smoke.vcf.gz")
    assert data_lines(scored) == data_lines(smoke_2d_output)
    assert _without_provenance(header_lines(scored)) == _without_provenance(
        header_lines(smoke_2d_output)
    )
    metrics = json.loads(
        gcs_emulator.bucket(BUCKET).blob("out/smoke.metrics.json").download_as_text()
    )
    assert metrics["variants_scored"] == 252
    # BAM and FASTA were read by range: only their indexes (and the small files) were cached.
    cached = {p.name for p in Path(os.environ["CNNSCORE_GCS_CACHE"]).rglob("*") if p.is_file()}
    assert {"NA12878.chr20_10M_10.1M.bam.bai", "ref.chr20.fa.gz.fai", "hc.gatk4.vcf.gz"} <= cached
    assert "NA12878.chr20_10M_10.1M.bam" not in cached and "ref.chr20.fa.gz" not in cached


def test_missing_object_is_one_clear_line(gcs_emulator):
    result = run_cli(*gcs_score_args(gs("out/missing.vcf.gz"), reads="smoke/absent.bam"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == f"cnnscore: error: {gs('smoke/absent.bam')}: object does not exist"
    assert not gcs_emulator.bucket(BUCKET).blob("out/missing.vcf.gz").exists()


@pytest.mark.parametrize("given", [False, True])
def test_a_gs_reference_index_of_another_fasta_is_refused(gcs_emulator, given):
    """A .fai written for the same sequence at 60 bases a line, beside a gs:// FASTA read by
    range (or passed with it, as the workflow does): htslib would read other bases; one line
    naming the reference instead, and nothing uploaded."""
    bucket = gcs_emulator.bucket(BUCKET)
    fields = Path(f"{SMOKE_REF}.fai").read_text().rstrip("\n").split("\t")
    folder = f"wrongfai{int(given)}"
    bucket.blob(f"{folder}/ref.chr20.fa.gz").upload_from_filename(str(SMOKE_REF))
    bucket.blob(f"{folder}/ref.chr20.fa.gz.gzi").upload_from_filename(f"{SMOKE_REF}.gzi")
    bucket.blob(f"{folder}/other.fai").upload_from_string("\t".join([*fields[:3], "60", "61"]))
    bucket.blob(f"{folder}/ref.chr20.fa.gz.fai").upload_from_string(
        "\t".join([*fields[:3], "60", "61"]) + "\n"
    )
    reference = gs(f"{folder}/ref.chr20.fa.gz")
    if given:
        reference += f"##idx##{gs(folder + '/other.fai')}##idx##{reference}.gzi"
    args = gcs_score_args(gs(f"out/{folder}.vcf.gz"))
    args[args.index(gs("smoke/ref.chr20.fa.gz"))] = reference
    result = run_cli(*args)
    assert result.returncode == 1, result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"cnnscore: error: {gs(folder + '/ref.chr20.fa.gz')}"), error
    assert "index does not fit it: contig chr20 does not have lines of 60 bases" in error
    assert not list(gcs_emulator.list_blobs(BUCKET, prefix=f"out/{folder}"))


def test_missing_bam_index_and_failed_run_upload_nothing(gcs_emulator):
    result = run_cli(*gcs_score_args(gs("out/noindex.vcf.gz"), reads="noindex/reads.bam"))
    assert result.returncode == 1
    assert f"{gs('noindex/reads.bam')}: index is missing" in result.stderr
    result = run_cli(*gcs_score_args(gs("out/bad.vcf.gz"), "--read-limit", "64"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert not list(gcs_emulator.list_blobs(BUCKET, prefix="out/noindex"))
    assert not list(gcs_emulator.list_blobs(BUCKET, prefix="out/bad"))


def test_filter_and_compare_read_and_write_gcs(gcs_emulator, smoke_2d_output, tmp_path):
    gcs_emulator.bucket(BUCKET).blob("scored/smoke.vcf.gz").upload_from_filename(
        str(smoke_2d_output)
    )
    filtered = gs("scored/smoke.filtered.vcf.gz")
    result = run_cli("filter", "-V", gs("scored/smoke.vcf.gz"),
                     "--resource", gs("smoke/giab_truth.vcf.gz"), "-O", filtered)  # fmt: skip
    assert result.returncode == 0, result.stderr
    local = tmp_path / "filtered.vcf.gz"
    run_cli("filter", "-V", smoke_2d_output, "--resource", SMOKE / "giab_truth.vcf.gz",
            "-O", local, check=True)  # fmt: skip
    remote = _download(gcs_emulator, "scored/smoke.filtered.vcf.gz", tmp_path / "remote.vcf.gz")
    assert data_lines(remote) == data_lines(local)
    # the resource's index under another name and folder, attached (as the workflow passes it)
    bucket = gcs_emulator.bucket(BUCKET)
    bucket.blob("truth/alone.vcf.gz").upload_from_filename(str(SMOKE / "giab_truth.vcf.gz"))
    bucket.blob("indexes/its_index").upload_from_filename(f"{SMOKE / 'giab_truth.vcf.gz'}.tbi")
    attached = gs("truth/alone.vcf.gz") + "##idx##" + gs("indexes/its_index")
    result = run_cli("filter", "-V", gs("scored/smoke.vcf.gz"), "--resource", attached,
                     "-O", tmp_path / "attached.vcf.gz")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert data_lines(tmp_path / "attached.vcf.gz") == data_lines(local)

    result = run_cli("compare", "--baseline", gs("scored/smoke.vcf.gz"),
                     "--candidate", filtered, "-O", gs("reports/self"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(gcs_emulator.bucket(BUCKET).blob("reports/self.json").download_as_text())
    assert report["summary"]["records_compared"] == 252
    assert report["summary"]["max_abs_delta"] == 0.0
    assert report["baseline"]["vcf"] == gs("scored/smoke.vcf.gz")  # not the cache copy
    assert gcs_emulator.bucket(BUCKET).blob("reports/self.html").exists()


def test_a_plain_vcf_output_on_gcs_keeps_its_idx(gcs_emulator, smoke_2d_output, tmp_path):
    """A plain .vcf written to gs:// is uploaded with the Tribble .idx beside it, whose bins
    are those of the same output written locally (the .idx records the staging path, which
    htsjdk's readers do not use: they find the index by the VCF's name)."""
    from test_io_tribble_index import contig_sections, index_header

    gcs_emulator.bucket(BUCKET).blob("plain/smoke.vcf.gz").upload_from_filename(
        str(smoke_2d_output)
    )
    result = run_cli("filter", "-V", gs("plain/smoke.vcf.gz"), "--resource",
                     gs("smoke/giab_truth.vcf.gz"), "-O", gs("plain/filtered.vcf"),
                     "--add-output-vcf-command-line", "false")  # fmt: skip
    assert result.returncode == 0, result.stderr
    names = {blob.name for blob in gcs_emulator.list_blobs(BUCKET, prefix="plain/filtered")}
    assert names == {"plain/filtered.vcf", "plain/filtered.vcf.idx"}
    remote = _download(gcs_emulator, "plain/filtered.vcf", tmp_path / "remote.vcf")
    index = _download(gcs_emulator, "plain/filtered.vcf.idx", tmp_path / "remote.vcf.idx")
    local = tmp_path / "local.vcf"
    run_cli("filter", "-V", smoke_2d_output, "--resource", SMOKE / "giab_truth.vcf.gz",
            "-O", local, "--add-output-vcf-command-line", "false", check=True)  # fmt: skip
    assert remote.read_bytes() == local.read_bytes()
    assert index_header(index)[1] == remote.stat().st_size
    assert contig_sections(index) == contig_sections(Path(f"{local}.idx"))


class _FailingReader(io.RawIOBase):
    """A file that breaks after ``limit`` bytes, like a connection dropped mid-upload."""

    def __init__(self, path: str, limit: int):
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._limit = limit
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        if self._file.tell() >= self._limit:
            raise OSError("simulated: the machine lost its network during the upload")
        return self._file.read(size)

    def tell(self) -> int:
        return self._file.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def close(self) -> None:
        self._file.close()
        super().close()


def test_interrupted_upload_leaves_the_previous_object(gcs_emulator, tmp_path, monkeypatch):
    from cnnscore.errors import InputError
    from cnnscore.gcs import client as gcs
    from cnnscore.gcs.remote_files import RemoteFiles

    blob = gcs_emulator.bucket(BUCKET).blob("uploads/result.bin")
    blob.upload_from_string(b"previous complete version")
    # over 8 MiB, so the client uses a resumable upload (smaller files go in one request); the
    # connection breaks after two of its 256 KiB chunks were sent
    payload = os.urandom(9 * 1024 * 1024 + 1000)
    monkeypatch.setattr(gcs, "UPLOAD_CHUNK_BYTES", 256 * 1024)
    readers: list[_FailingReader] = []

    def failing(path: str) -> _FailingReader:
        readers.append(_FailingReader(path, 600 * 1024))
        return readers[-1]

    monkeypatch.setattr(gcs, "_open_for_upload", failing)
    with RemoteFiles() as remote:
        staged = remote.output(gs("uploads/result.bin"))
        Path(staged).write_bytes(payload)
        with pytest.raises(InputError, match="upload interrupted .*no object was created"):
            remote.publish()
    assert readers[0].reads >= 3  # chunks went out before the failure: a real partial upload
    assert blob.download_as_bytes() == b"previous complete version"

    monkeypatch.undo()  # the real file again: the same upload, uninterrupted
    with RemoteFiles() as remote:
        Path(remote.output(gs("uploads/result.bin"))).write_bytes(payload)
        remote.publish()
    assert blob.download_as_bytes() == payload


def test_a_stop_between_the_uploads_never_pairs_a_new_index_with_the_old_vcf(
    gcs_emulator, tmp_path, monkeypatch
):
    """The index went up before its VCF; a run stopped after it (preempted, interrupted, the
    upload failing) left the new .tbi beside the earlier VCF, whose records htslib then reads
    through the new offsets. The earlier index is removed first and the new one goes up last:
    a stopped run leaves a VCF without an index, never beside another's."""
    from cnnscore.errors import InputError
    from cnnscore.gcs import client as gcs
    from cnnscore.gcs.remote_files import RemoteFiles

    bucket = gcs_emulator.bucket(BUCKET)
    bucket.blob("stop/o.vcf.gz").upload_from_string(b"earlier vcf")
    bucket.blob("stop/o.vcf.gz.tbi").upload_from_string(b"earlier index")
    real_open = gcs._open_for_upload

    def failing_for_the_vcf(path: str):
        if path.endswith(".vcf.gz"):
            raise OSError(5, "Input/output error")  # the stop, as the VCF's upload starts
        return real_open(path)

    monkeypatch.setattr(gcs, "_open_for_upload", failing_for_the_vcf)
    with RemoteFiles() as remote, pytest.raises(InputError, match="upload interrupted"):
        staged = remote.output(gs("stop/o.vcf.gz"))
        Path(staged).write_bytes(b"new vcf")
        Path(staged + ".tbi").write_bytes(b"new index")
        remote.publish()
    assert bucket.blob("stop/o.vcf.gz").download_as_bytes() == b"earlier vcf"
    assert not bucket.blob("stop/o.vcf.gz.tbi").exists()
    monkeypatch.undo()
    with RemoteFiles() as remote:  # the same publish, undisturbed
        staged = remote.output(gs("stop/o.vcf.gz"))
        Path(staged).write_bytes(b"new vcf")
        Path(staged + ".tbi").write_bytes(b"new index")
        remote.publish()
    assert bucket.blob("stop/o.vcf.gz").download_as_bytes() == b"new vcf"
    assert bucket.blob("stop/o.vcf.gz.tbi").download_as_bytes() == b"new index"


def test_a_gs_output_without_credentials_stops_before_the_work(tmp_path, monkeypatch):
    """No credentials at all: one line naming the destination, before anything is scored (it
    was a "scored ... -> gs://" line, the work, and then the error)."""
    for variable in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no gcloud application-default credentials
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # google-auth: not on a Google VM
    result = run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--tensor-type", "reference",
                     "-O", "gs://some-bucket/out.vcf.gz")  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "cnnscore: scored" not in result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("cnnscore: error")]
    assert error.startswith("cnnscore: error: gs://some-bucket/out.vcf.gz: no usable Google")


def test_a_gs_vcf_without_credentials_is_named_itself(tmp_path, monkeypatch):
    """The VCF the user gave is named, not the .tbi looked for beside it (it was)."""
    for variable in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    result = run_cli("score", "-V", "gs://some-bucket/calls.vcf.gz", "-R", SMOKE_REF,
                     "--tensor-type", "reference", "-O", str(tmp_path / "out.vcf.gz"))  # fmt: skip
    assert result.returncode == 1, result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("cnnscore: error")]
    assert error.startswith("cnnscore: error: gs://some-bucket/calls.vcf.gz: no usable Google")
    assert not list(tmp_path.glob("out.vcf.gz*"))


def test_permission_errors_name_the_object_and_requester_pays():
    from google.api_core import exceptions

    from cnnscore.errors import InputError
    from cnnscore.gcs.client import _explained

    with pytest.raises(InputError) as caught, _explained("gs://private/x.bam"):
        raise exceptions.Forbidden("caller does not have storage.objects.get access")
    message = str(caught.value)
    assert message.startswith("gs://private/x.bam: permission denied (403)")
    assert "--requester-pays-project" in message


def test_split_and_gather_with_gcs_paths(gcs_emulator, tmp_path):
    result = run_cli("split-intervals", "-V", gs("smoke/hc.gatk4.vcf.gz"),
                     "-R", gs("smoke/ref.chr20.fa.gz"), "--scatter-count", "3",
                     "-O", gs("shards/"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    shards = sorted(b.name for b in gcs_emulator.list_blobs(BUCKET, prefix="shards/"))
    assert shards == [f"shards/shard-000{i}.interval_list" for i in range(3)]
    result = run_cli("gather-vcfs", "-I", gs("smoke/hc.gatk4.vcf.gz"),
                     "-O", gs("gathered/all.vcf.gz"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    gathered = _download(gcs_emulator, "gathered/all.vcf.gz", tmp_path / "all.vcf.gz")
    assert data_lines(gathered) == data_lines(SMOKE_VCF)


def _external_reference_cram(path: Path) -> Path:
    """The smoke reads as a CRAM that needs the smoke reference to decode (chr20 only: with the
    BAM's other contigs, htslib would embed the reference instead)."""
    import pysam

    with pysam.AlignmentFile(str(SMOKE_BAM)) as source:
        header = source.header.to_dict()
        header["SQ"] = [
            {"SN": "chr20", "LN": sq["LN"]} for sq in header["SQ"] if sq["SN"] == "chr20"
        ]
        header = pysam.AlignmentHeader.from_dict(header)
        with pysam.AlignmentFile(str(path), "wc", header=header,
                                 reference_filename=str(SMOKE_REF)) as out:  # fmt: skip
            for read in source.fetch("chr20"):
                fields = read.to_dict()
                if fields["next_ref_name"] not in ("=", "*", "chr20"):
                    fields["next_ref_name"], fields["next_ref_pos"] = "*", "0"
                out.write(pysam.AlignedSegment.from_dict(fields, header))
    pysam.index(str(path))
    return path


def test_cram_and_its_reference_from_gcs(gcs_emulator, smoke_2d_output, tmp_path):
    """A CRAM decoded with a gs:// reference gives the BAM's scores (same reads, same tensors)."""
    _external_reference_cram(tmp_path / "smoke.cram")
    for name in ("smoke.cram", "smoke.cram.crai"):
        gcs_emulator.bucket(BUCKET).blob(f"cram/{name}").upload_from_filename(str(tmp_path / name))
    output = tmp_path / "remote.vcf.gz"
    result = run_cli(*gcs_score_args(str(output), reads="cram/smoke.cram"))
    assert result.returncode == 0, result.stderr
    assert data_lines(output) == data_lines(smoke_2d_output)
    assert "uploaded the outputs" not in result.stderr  # the output is local
    # the CRAM and its reference were read by range: only their indexes are cached
    cached = {p.name for p in Path(os.environ["CNNSCORE_GCS_CACHE"]).rglob("*") if p.is_file()}
    assert {"ref.chr20.fa.gz.fai", "ref.chr20.fa.gz.gzi", "smoke.cram.crai"} <= cached
    assert not {"ref.chr20.fa.gz", "smoke.cram"} & cached


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may wait for a reaper that never comes)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_range_server_stops_when_its_scorer_is_killed(tmp_path):
    """A SIGKILLed scorer (a preempted task) must not leave its range server serving forever,
    nor the server's failures file in the temp folder (31 had piled up on one machine)."""
    program = (
        "import os, signal\n"
        "from cnnscore.gcs.range_server import RangeServer\n"
        "if __name__ == '__main__':\n"
        "    server = RangeServer()\n"
        "    print(server._process.pid, server._failures, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    pid_file = tmp_path / "server.pid"
    with open(pid_file, "w") as out:  # not a pipe: a surviving server would hold it open
        subprocess.run([sys.executable, "-c", program], stdout=out, stderr=subprocess.DEVNULL)
    server_pid, failures = pid_file.read_text().split()[:2]
    deadline = time.monotonic() + 15
    while _running(int(server_pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(int(server_pid))
    assert not Path(failures).exists()
