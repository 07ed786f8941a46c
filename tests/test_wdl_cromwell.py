"""Every task's command as Cromwell runs it, where Cromwell differs from miniwdl (which
tests/test_wdl_run.py runs end to end): rendered by tests/cromwell_like.py with Cromwell's
``write_lines``, ``prefix`` and float text, its inputs laid out as Cromwell's Local or Google
backend leaves them (``localization_optional`` inputs as ``gs://`` URLs, read here through the GCS
emulator), run in the task image as a uid the image does not know, over a working folder owned by
root and opened to all, with HOME read-only. docs/CROMWELL.md names the difference each test
stands for.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pysam
import pytest
from google.cloud import storage
from test_gcs_streaming import CountingProxy

from conftest import (
    BUCKET,
    GOLDEN_2D,
    HG002,
    SMOKE,
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
    data_lines,
    gs,
    podman_env_for,
    run_cli,
)
from cromwell_like import (
    GCP,
    LOCAL,
    CromwellInterpolationError,
    evaluate_outputs,
    memory_retry_rc,
    render,
    run_cromwell_script,
)
from cromwell_like import run_in_image as _run_in_image

IMAGE = os.environ.get("CNNSCORE_TEST_IMAGE", "cnnscore:local")  # make image builds it
TASKS = Path(__file__).resolve().parents[1] / "wdl" / "tasks"
RUNTIME = {"docker": IMAGE, "cpu": 2, "memory_gb": 4, "preemptible": 0, "max_retries": 0,
           "boot_disk_gb": 10, "cpu_platform": ""}  # fmt: skip
#: a uid the image does not know (Cromwell runs the image's user, or the one docker_user names)
STRANGER = "4242:4242"


@pytest.fixture(scope="module")
def podman_env():
    return podman_env_for(IMAGE)


@pytest.fixture
def read_only_home(tmp_path) -> Path:
    home = tmp_path / "read-only-home"
    home.mkdir()
    os.chmod(home, 0o555)
    return home


def _download(url: str, target: Path) -> None:
    """Cromwell on Google localises a gs:// input that is not localization_optional."""
    bucket, _, name = url[len("gs://") :].partition("/")
    storage.Client(project="test").bucket(bucket).blob(name).download_to_filename(str(target))


def _local_original(url: str) -> str:
    """The file a gs:// URL of the test bucket was uploaded from, for size()."""
    folder, _, name = url[len(f"gs://{BUCKET}/") :].partition("/")
    return str({"smoke": SMOKE}[folder] / name) if folder == "smoke" else UPLOADED[url]


UPLOADED: dict[str, str] = {}


def run_task(
    task_file: str,
    task_name: str,
    inputs: dict,
    workdir: Path,
    podman_env: dict,
    *,
    backend: str = LOCAL,
    home: Path | None = None,
    environment: dict | None = None,
):
    """Render the task as Cromwell would, run it in the image as STRANGER; (task, env, run)."""
    task, env, run = render(TASKS / task_file, task_name, {**inputs, "runtime_settings": RUNTIME},
                            workdir, backend=backend, fetch=_download,
                            gs_local=_local_original)  # fmt: skip
    settings = dict(environment or {})
    extra: list[str] = []
    if home is not None:
        settings["HOME"] = "/home/read-only"
        extra = ["-v", f"{home}:/home/read-only:ro"]
    if "STORAGE_EMULATOR_HOST" in os.environ:
        settings.setdefault("STORAGE_EMULATOR_HOST", os.environ["STORAGE_EMULATOR_HOST"])
    _run_in_image(run, IMAGE, podman_env, user=STRANGER, environment=settings, mounts=extra)
    return task, env, run


# ------------------------------------------------------------------------ CompareScores gates


@pytest.mark.parametrize(
    ("gates", "code", "passed"),
    [([], 0, True), (["max_abs_delta>0.01"], 0, True), (["max_abs_delta>0.0001"], 3, None)],
    ids=["no gates", "a gate that does not hold", "a gate that holds"],
)
def test_compare_scores_under_cromwells_write_lines(podman_env, smoke_2d_output, tmp_path,
                                                    gates, code, passed):  # fmt: skip
    """Cromwell's write_lines([]) is one newline (miniwdl's is empty): no gate means none, not
    `--fail-if ""`; a gate that holds fails the task with exit 3 (and is never retried)."""
    inputs = {"baseline_vcf": str(GOLDEN_2D), "candidate_vcf": str(smoke_2d_output),
              "baseline_label": "GATK 4.6.0", "candidate_label": "cnnscore",
              "fail_if": gates, "output_prefix": "vs_gatk"}  # fmt: skip
    task, env, run = run_task("compare_scores.wdl", "CompareScores", inputs, tmp_path / "w",
                              podman_env)  # fmt: skip
    written = {path.read_text() for path in run.workdir.glob("write_lines_*.tmp")}
    assert written == {"".join(f"{g}\n" for g in gates) or "\n", "GATK 4.6.0\ncnnscore\n"}
    assert run.returncode == code, run.stderr
    assert (run.workdir / "vs_gatk.json").is_file() and (run.workdir / "vs_gatk.html").is_file()
    if passed is not None:
        assert evaluate_outputs(task, env, run)["gates_passed"] is passed
    assert task.runtime["maxRetries"].value == 0


def test_compare_scores_takes_metrics_whose_names_hold_spaces(podman_env, smoke_2d_output,
                                                              tmp_path):  # fmt: skip
    """ValidateBackends names each shard's metrics after its configuration, a user's string:
    the paths were interpolated unquoted, so a name with a space split into two arguments. A
    label with a quote, `$` or backticks reaches the report as typed; the report's file names
    keep only characters GCP Batch's transfer script passes through bash intact."""
    metrics = smoke_2d_output.with_suffix(".json")
    named = []
    for name in ("base line", "candi date"):
        folder = (
            tmp_path / "shards" / name
        )  # Cromwell's Local backend: one folder per source folder
        folder.mkdir(parents=True)
        named.append(folder / f"validation.{name}.shard-0.metrics.json")
        named[-1].write_bytes(metrics.read_bytes())
    task, env, run = run_task(
        "compare_scores.wdl", "CompareScores",
        {"baseline_vcf": str(smoke_2d_output), "candidate_vcf": str(smoke_2d_output),
         "baseline_metrics": [str(named[0])], "candidate_metrics": [str(named[1])],
         "baseline_label": "base line", "candidate_label": "o'v $HOME  `x`",
         "output_prefix": "r $HOME's  x"},
        tmp_path / "w", podman_env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    # the files are named with the prefix made safe for GCP Batch's transfer script (row 17)
    report = json.loads((run.workdir / "r__HOME_s__x.json").read_text())
    assert (run.workdir / "r__HOME_s__x.html").is_file()
    for side in ("baseline", "candidate"):  # the speeds come from the metrics files
        assert report[side]["variants_per_minute"] > 0, report[side]
    assert report["candidate"]["label"] == "o'v $HOME  `x`"  # a label is kept as typed


# ------------------------------------------------------- the scoring chain on Cromwell's Google


def _chain_inputs() -> dict:
    return {
        "input_vcf": gs("smoke/hc.gatk4.vcf.gz"),
        "input_vcf_index": gs("smoke/hc.gatk4.vcf.gz.tbi"),
        "reference_fasta": gs("smoke/ref.chr20.fa.gz"),
        "reference_fasta_index": gs("smoke/ref.chr20.fa.gz.fai"),
        "reference_fasta_gzi": gs("smoke/ref.chr20.fa.gz.gzi"),
    }


def test_every_task_runs_as_cromwell_on_google_runs_it(gcs_emulator, podman_env, tmp_path,
                                                       read_only_home):  # fmt: skip
    """SplitIntervals -> ScoreVariants x2 -> GatherVcfs -> FilterVariantTranches, each with
    Cromwell's rendering and Google's layout (reads and reference as gs:// URLs), as a stranger
    uid with HOME read-only; empty tranche lists (Cromwell cannot interpolate prefix() of them);
    the result equals a direct run on the same shards."""
    common = _chain_inputs()
    split_task, split_env, split = run_task(
        "split_intervals.wdl", "SplitIntervals", {**common, "scatter_count": 2},
        tmp_path / "split", podman_env, backend=GCP, home=read_only_home,
    )  # fmt: skip
    assert split.returncode == 0, split.stderr
    assert '-R "${reference}"' in split.command and gs("smoke/ref.chr20.fa.gz") in split.command
    shards = evaluate_outputs(split_task, split_env, split)["shards"]
    assert len(shards) == 2
    scored = []
    for index, shard in enumerate(shards):
        task, env, run = run_task(
            "score_variants.wdl", "ScoreVariants",
            {**common, "reads": [gs("smoke/NA12878.chr20_10M_10.1M.bam")],
             "reads_indexes": [gs("smoke/NA12878.chr20_10M_10.1M.bam.bai")],
             "intervals": shard, "output_prefix": f"shard-{index}"},
            tmp_path / f"score-{index}", podman_env, backend=GCP, home=read_only_home,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        cache = run.workdir / ".cnnscore-home" / "gcs"
        cached = sorted(
            p.name for p in cache.rglob("*") if p.is_file() and "generation" not in p.name
        )
        assert cached == ["NA12878.chr20_10M_10.1M.bam.bai", "ref.chr20.fa.gz.fai",
                          "ref.chr20.fa.gz.gzi"]  # fmt: skip
        outputs = evaluate_outputs(task, env, run)
        scored.append(outputs["scored_vcf"])
        # the image turns the compiled-model cache off: a task's machine is always a fresh one
        assert json.loads(Path(outputs["metrics"]).read_text())["compiled_cache"] == "off"
    task, env, gather = run_task("gather_vcfs.wdl", "GatherVcfs",
                                 {"scored_vcfs": scored, "output_prefix": "gathered"},
                                 tmp_path / "gather", podman_env, home=read_only_home)  # fmt: skip
    assert gather.returncode == 0, gather.stderr
    gathered = evaluate_outputs(task, env, gather)
    task, env, filtered = run_task(
        "filter_variant_tranches.wdl", "FilterVariantTranches",
        {"input_vcf": gathered["output_vcf"], "input_vcf_index": gathered["output_vcf_index"],
         "resources": [gs("smoke/giab_truth.vcf.gz")],
         "resources_indexes": [gs("smoke/giab_truth.vcf.gz.tbi")],
         "snp_tranches": [], "indel_tranches": [], "output_prefix": "filtered"},
        tmp_path / "filter", podman_env, backend=GCP, home=read_only_home,
    )  # fmt: skip
    assert filtered.returncode == 0, filtered.stderr
    result = evaluate_outputs(task, env, filtered)["filtered_vcf"]

    direct = tmp_path / "direct"
    direct.mkdir()
    for index, shard in enumerate(shards):
        run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "-L", shard,
                "--tensor-type", "read_tensor", "--reservoir-scope", "site",
                "-O", direct / f"shard-{index}.vcf.gz", check=True)  # fmt: skip
    run_cli("gather-vcfs", "-I", direct / "shard-0.vcf.gz", "-I", direct / "shard-1.vcf.gz",
            "-O", direct / "gathered.vcf.gz", check=True)  # fmt: skip
    run_cli("filter", "-V", direct / "gathered.vcf.gz", "--resource", SMOKE / "giab_truth.vcf.gz",
            "-O", direct / "filtered.vcf.gz", check=True)  # fmt: skip
    assert len(data_lines(result)) == 252
    assert data_lines(result) == data_lines(direct / "filtered.vcf.gz")


def test_prefix_of_an_empty_list_is_what_cromwell_refuses(tmp_path):
    """The emulation can fail: the old FilterVariantTranches command interpolated
    prefix("--snp-tranche ", snp_tranches), which Cromwell cannot do for an empty list."""
    old = tmp_path / "old.wdl"
    old.write_text(
        "version 1.0\ntask Old {\n  input { Array[Float] snp_tranches }\n"
        '  command <<<\n    echo ~{sep=" " prefix("--snp-tranche ", snp_tranches)}\n  >>>\n}\n'
    )
    with pytest.raises(CromwellInterpolationError, match="Array\\[Nothing\\]"):
        render(old, "Old", {"snp_tranches": []}, tmp_path / "w")
    _, _, run = render(old, "Old", {"snp_tranches": [99.95, 90.0]}, tmp_path / "w2")
    assert run.command.strip() == "echo --snp-tranche 99.95 --snp-tranche 90.0"  # Scala's text


# ------------------------------------------------------------------ CRAM on Cromwell's Google


@pytest.fixture(scope="module")
def cram_in_bucket(gcs_emulator, tmp_path_factory) -> Path:
    """The smoke reads as a CRAM against the smoke reference (chr20 alone in its header, so the
    reference is needed to decode every read), with its .crai; uploaded."""
    folder = tmp_path_factory.mktemp("cram")
    bam, cram = folder / "chr20.bam", folder / "smoke.cram"
    with pysam.AlignmentFile(str(SMOKE_BAM)) as source:
        header = source.header.to_dict()
        header["SQ"] = [sq for sq in header["SQ"] if sq["SN"] == "chr20"]
        with pysam.AlignmentFile(str(bam), "wb", header=header) as sink:
            for read in source.fetch("chr20"):
                fields = read.to_dict()
                if fields["next_ref_name"] not in ("=", "*", "chr20"):  # mate on a dropped contig
                    fields["next_ref_name"], fields["next_ref_pos"] = "*", "0"
                sink.write(pysam.AlignedSegment.from_dict(fields, sink.header))
    pysam.view("-C", "-T", str(SMOKE_REF), "-o", str(cram), str(bam), catch_stdout=False)
    pysam.index(str(cram))
    bucket = gcs_emulator.bucket(BUCKET)
    for path in (cram, Path(f"{cram}.crai")):
        bucket.blob(f"cram/{path.name}").upload_from_filename(str(path))
        UPLOADED[gs(f"cram/{path.name}")] = str(path)
    return cram


def test_cram_streams_its_reference_too_and_caches_only_indexes(
    gcs_emulator, cram_in_bucket, podman_env, tmp_path, read_only_home
):
    """A CRAM shard on Cromwell's Google: the reference is read by range for decoding, as the
    reads are (no whole copy of it on any disk), the only files cnnscore keeps are the small
    indexes, in the working folder (HOME is read-only), and the scores equal a local run's."""
    shard = tmp_path / "shard.bed"
    shard.write_text("chr20\t10060000\t10080000\n")
    served = {}
    for name, reads, index in (("bam", "smoke/NA12878.chr20_10M_10.1M.bam", ".bai"),
                               ("cram", "cram/smoke.cram", ".crai")):  # fmt: skip
        proxy = CountingProxy(os.environ["STORAGE_EMULATOR_HOST"])
        try:
            task, env, run = run_task(
                "score_variants.wdl", "ScoreVariants",
                {**_chain_inputs(), "reads": [gs(reads)], "reads_indexes": [gs(reads + index)],
                 "intervals": str(shard), "output_prefix": name},
                tmp_path / name, podman_env, backend=GCP, home=read_only_home,
                environment={"STORAGE_EMULATOR_HOST": proxy.url},
            )  # fmt: skip
        finally:
            proxy.close()
        assert run.returncode == 0, run.stderr
        reference = "smoke/ref.chr20.fa.gz"
        assert not {reference, reads} & proxy.whole, proxy.whole  # by range only
        served[name] = proxy.served[reference]
    assert proxy.served["cram/smoke.cram"] > 0  # ranges (with read-ahead) of a 2 MB file
    # decoding the CRAM reads the contig's bases once more (here, chr20 is nearly all of the
    # file), beside the windows the tensors take, which the BAM run reads too; the range
    # server's read-ahead (64 KiB doubling to 1 MiB per request) adds at most as much again.
    # Measured here: BAM 1.84 MB, CRAM 2.75 MB of a 0.65 MB file
    assert served["bam"] < served["cram"] <= served["bam"] + 2 * SMOKE_REF.stat().st_size, served
    kept = [p for p in run.workdir.rglob("*") if p.is_file()]
    inside_cache = sorted(p.name for p in kept if ".cnnscore-home" in p.parts
                          and not p.name.endswith("generation"))  # fmt: skip
    assert inside_cache == ["ref.chr20.fa.gz.fai", "ref.chr20.fa.gz.gzi", "smoke.cram.crai"]
    assert not any(p.name.startswith("ref.chr20.fa.gz") and p.suffix == ".gz" for p in kept)
    assert list(read_only_home.iterdir()) == []
    local = tmp_path / "local.vcf.gz"
    run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", cram_in_bucket, "-L", shard,
            "--tensor-type", "read_tensor", "--reservoir-scope", "site", "-O", local,
            check=True)  # fmt: skip
    scored = evaluate_outputs(task, env, run)["scored_vcf"]
    assert data_lines(scored) == data_lines(local) and len(data_lines(local)) > 10


# ------------------------------------------------------------ the scoring task's disk


@pytest.mark.parametrize(
    ("reads", "counted"),
    [("gs://bucket/NA12878.bam", False), ("drs://drs.example.org/8b1f2c", True)],
    ids=["gs:// streamed", "drs:// copied"],
)  # fmt: skip
def test_reads_that_may_be_copied_are_counted_on_the_scoring_disk(tmp_path, reads, counted):
    """Cromwell on Google streams a localization_optional gs:// file, but downloads a drs:// URI
    whole when it cannot resolve it to gs:// first (docs/CROMWELL.md, row 15): a 30 GiB BAM
    behind a DRS URI gets the disk it needs; one in a bucket does not pay for it."""
    big = tmp_path / "stand-in.bam"
    with open(big, "wb") as handle:
        handle.truncate(30 * 2**30)  # sparse: size() sees 30 GiB, the disk holds nothing
    _, env, _ = render(
        TASKS / "score_variants.wdl", "ScoreVariants",
        {"input_vcf": str(SMOKE_VCF), "input_vcf_index": f"{SMOKE_VCF}.tbi",
         "reference_fasta": "gs://bucket/ref.fa", "reference_fasta_index": "gs://bucket/ref.fa.fai",
         "reads": [reads], "reads_indexes": [f"{reads}.bai"], "intervals": str(SMOKE_VCF),
         "output_prefix": "x", "runtime_settings": RUNTIME},
        tmp_path / "w", backend=GCP, gs_local=lambda url: str(big if url == reads else SMOKE_BAM),
    )  # fmt: skip
    disk, streamed_disk = env.resolve("disk_gb").value, 21  # the VCF (under 1 GB) and 20 GB
    if counted:  # 32.2 "GB" as miniwdl counts them (10^9), 30 as Cromwell does (row 12)
        assert streamed_disk + 30 <= disk <= streamed_disk + 34
    else:
        assert disk == streamed_disk


# ------------------------------------------------------------ index inputs: used or refused


@pytest.mark.parametrize(
    ("indexes", "vcf_index", "message"),
    [
        ([f"{SMOKE_BAM}.bai", f"{SMOKE_BAM}.bai"], f"{SMOKE_VCF}.tbi",
         "reads_indexes: 2 indexes for 1 reads files"),
        ([], f"{SMOKE_VCF}.tbi", "reads_indexes: 0 indexes for 1 reads files"),
        ([str(HG002 / "HG002.chr20_10M_10.1M.bam.bai")], f"{SMOKE_VCF}.tbi",
         "the index belongs to another file"),
        ([f"{SMOKE_BAM}.bai"], str(SMOKE / "giab_truth.vcf.gz.tbi"),
         "the index belongs to another file"),
    ],
    ids=["count", "no indexes", "another file's index", "another VCF's index"],
)  # fmt: skip
def test_index_inputs_are_used_or_refused(podman_env, tmp_path, indexes, vcf_index, message):
    shard = tmp_path / "shard.bed"
    shard.write_text("chr20\t10000000\t10010000\n")
    _, _, run = run_task(
        "score_variants.wdl", "ScoreVariants",
        {"input_vcf": str(SMOKE_VCF), "input_vcf_index": vcf_index,
         "reference_fasta": str(SMOKE_REF), "reference_fasta_index": f"{SMOKE_REF}.fai",
         "reference_fasta_gzi": f"{SMOKE_REF}.gzi", "reads": [str(SMOKE_BAM)],
         "reads_indexes": indexes, "intervals": str(shard), "output_prefix": "x"},
        tmp_path / "w", podman_env,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("cnnscore: error")]
    assert len(errors) == 1 and message in errors[0], run.stderr
    assert not list(run.workdir.glob("x.vcf.gz*"))


@pytest.mark.parametrize(
    ("counts", "message"),
    [({"reads_count": 1, "reads_indexes_count": 0}, "reads_indexes: 0 indexes for 1 reads files"),
     ({"resources_count": 2, "resources_indexes_count": 1},
      "resources_indexes: 1 indexes for 2 resources"),
     ({"configurations_count": 1},  # ValidateBackends with nothing to compare the first with
      "configurations: 1 given: each is compared with the first, so give at least two"),
     ({"reads_needed": True},  # read_tensor without reads: every shard failed on its own VM
      "reads: none given, and tensor_type read_tensor scores from them")],
    ids=["reads", "resources", "configurations", "no reads"],
)  # fmt: skip
def test_index_lists_are_compared_in_the_first_task(podman_env, tmp_path, counts, message):
    """A task gets only the files its inputs name (Cromwell and miniwdl alike), so an index list
    left empty never brings the indexes: the first task stops the run, before any scoring is paid
    for (a missing resources_indexes stopped only the filter task, after every shard)."""
    _, _, run = run_task(
        "split_intervals.wdl", "SplitIntervals",
        {"input_vcf": str(SMOKE_VCF), "input_vcf_index": f"{SMOKE_VCF}.tbi",
         "reference_fasta": str(SMOKE_REF), "reference_fasta_index": f"{SMOKE_REF}.fai",
         "reference_fasta_gzi": f"{SMOKE_REF}.gzi", "scatter_count": 2, **counts},
        tmp_path / "w", podman_env,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("cnnscore: error")]
    assert len(errors) == 1 and message in errors[0], run.stderr
    assert not (run.workdir / "shards").exists()


def test_a_resource_index_elsewhere_is_passed_and_used_or_refused(podman_env, smoke_2d_output,
                                                                 tmp_path):  # fmt: skip
    """Cromwell's Local backend localises each input under a folder of its source folder's hash,
    so a truth VCF's index from another folder (any name) does not land beside it: the task
    passes each resource with its index, and an index of another VCF is refused."""
    truth = SMOKE / "giab_truth.vcf.gz"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "truth_index").write_bytes(Path(f"{truth}.tbi").read_bytes())
    (elsewhere / "wrong_index").write_bytes(Path(f"{SMOKE_VCF}.tbi").read_bytes())
    direct = tmp_path / "direct.vcf.gz"
    run_cli("filter", "-V", smoke_2d_output, "--resource", truth, "-O", direct, check=True)
    runs = {}
    for name in ("truth_index", "wrong_index"):
        runs[name] = run_task(
            "filter_variant_tranches.wdl", "FilterVariantTranches",
            {"input_vcf": str(smoke_2d_output), "input_vcf_index": f"{smoke_2d_output}.tbi",
             "resources": [str(truth)], "resources_indexes": [str(elsewhere / name)],
             "output_prefix": "filtered"},
            tmp_path / name, podman_env,
        )  # fmt: skip
    task, env, run = runs["truth_index"]
    assert run.returncode == 0, run.stderr
    (localised,) = run.workdir.glob("inputs/*/giab_truth.vcf.gz")
    assert not Path(f"{localised}.tbi").exists()  # not beside: only the attached index finds it
    assert data_lines(evaluate_outputs(task, env, run)["filtered_vcf"]) == data_lines(direct)
    _, _, refused = runs["wrong_index"]
    assert refused.returncode == 1, refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("cnnscore: error")]
    assert len(errors) == 1 and "the index belongs to another file" in errors[0], refused.stderr
    assert not list(refused.workdir.glob("filtered.vcf.gz*"))


def test_a_renamed_reference_index_is_passed_and_used(podman_env, tmp_path):
    """The .fai, and the VCF's index, under names htslib would never look for: the task passes
    each with its file."""
    renamed = tmp_path / "elsewhere"
    renamed.mkdir()
    (renamed / "my_vcf_index").write_bytes(Path(f"{SMOKE_VCF}.tbi").read_bytes())
    (renamed / "my_reference_index").write_bytes(Path(f"{SMOKE_REF}.fai").read_bytes())
    (renamed / "my_gzi").write_bytes(Path(f"{SMOKE_REF}.gzi").read_bytes())
    reference_alone = tmp_path / "alone"
    reference_alone.mkdir()
    (reference_alone / "ref.fa.gz").write_bytes(SMOKE_REF.read_bytes())
    shard = tmp_path / "shard.bed"
    shard.write_text("chr20\t10000000\t10010000\n")
    task, env, run = run_task(
        "score_variants.wdl", "ScoreVariants",
        {"input_vcf": str(SMOKE_VCF), "input_vcf_index": str(renamed / "my_vcf_index"),
         "reference_fasta": str(reference_alone / "ref.fa.gz"),
         "reference_fasta_index": str(renamed / "my_reference_index"),
         "reference_fasta_gzi": str(renamed / "my_gzi"), "reads": [str(SMOKE_BAM)],
         "reads_indexes": [f"{SMOKE_BAM}.bai"], "intervals": str(shard), "output_prefix": "x"},
        tmp_path / "w", podman_env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert len(data_lines(evaluate_outputs(task, env, run)["scored_vcf"])) > 5


# ------------------------------------------------ names and texts the shell must not read

#: a name as a Terra bucket may hold one: a quote, expansions, a command separator, spaces
ODD = "O'Brien $(echo INJECTED >&2) `echo INJECTED >&2` ;x"


def _odd_copies(folder: Path) -> dict[str, str]:
    """The smoke inputs under ODD names (the reads' index under a name of its own)."""
    folder.mkdir()
    names = {SMOKE_VCF: f"{ODD}.vcf.gz", Path(f"{SMOKE_VCF}.tbi"): f"{ODD}.vcf.gz.tbi",
             SMOKE_BAM: f"{ODD}.bam", Path(f"{SMOKE_BAM}.bai"): f"{ODD} index.bai",
             SMOKE / "giab_truth.bed": f"{ODD}.bed"}  # fmt: skip
    copies = {}
    for source, name in names.items():
        (folder / name).write_bytes(Path(source).read_bytes())
        copies[Path(source).name] = str(folder / name)
    second = folder / f"{ODD} 2.bam"  # a second reads file: the list travels one a line
    pysam.view("-b", "-o", str(second), str(SMOKE_BAM), "chr20:10000000-10005000",
               catch_stdout=False)  # fmt: skip
    pysam.index(str(second))
    copies["second"], copies["second.bai"] = str(second), f"{second}.bai"
    return copies


def test_paths_and_texts_reach_cnnscore_as_given(podman_env, tmp_path):
    """Every path and text reaches bash through a quoted here-document: a ' in a name ended the
    single quotes it was written in (the command broke, ran what followed, or read another
    file), and the free-text inputs were not quoted at all (a precision of 'fp32 $(...)' ran
    the command); an output_prefix starting with '-' read as a flag."""
    odd = _odd_copies(tmp_path / "odd")
    _, _, run = run_task(
        "score_variants.wdl", "ScoreVariants",
        {**_REFERENCE, "input_vcf": odd[SMOKE_VCF.name],
         "input_vcf_index": odd[f"{SMOKE_VCF.name}.tbi"],
         "reads": [odd[SMOKE_BAM.name], odd["second"]],
         "reads_indexes": [odd[f"{SMOKE_BAM.name}.bai"], odd["second.bai"]],
         "intervals": odd["giab_truth.bed"], "output_prefix": "-sample 1"},
        tmp_path / "w", podman_env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "INJECTED" not in run.stderr.splitlines()  # what the echo would have printed
    assert (run.workdir / "_sample_1.vcf.gz").is_file()
    _, _, run = run_task(
        "score_variants.wdl", "ScoreVariants",
        {**_VCF, **_REFERENCE, "reads": [str(SMOKE_BAM)], "reads_indexes": [f"{SMOKE_BAM}.bai"],
         "intervals": str(SMOKE / "giab_truth.bed"), "output_prefix": "x",
         "precision": "fp32 $(echo INJECTED >&2)"},
        tmp_path / "w2", podman_env,
    )  # fmt: skip
    assert run.returncode == 2 and "INJECTED" not in run.stderr.splitlines(), run.stderr
    assert "--precision" in run.stderr and "invalid choice: 'fp32 $(echo" in run.stderr


def test_a_label_with_a_line_break_is_refused(podman_env, tmp_path):
    """Labels travel one a line: a line break in one shifted the other (the report called the
    candidate by the baseline's second line)."""
    _, _, run = run_task(
        "compare_scores.wdl", "CompareScores",
        {"baseline_vcf": str(GOLDEN_2D), "candidate_vcf": str(GOLDEN_2D),
         "baseline_label": "openvino\nfp32", "candidate_label": "tensorflow", "output_prefix": "x"},
        tmp_path / "w", podman_env,
    )  # fmt: skip
    assert run.returncode == 1
    assert "a label holds a line break" in run.stderr


# ---------------------------------------- a killed cnnscore, as Cromwell's memory retry sees it

_VCF = {"input_vcf": str(SMOKE_VCF), "input_vcf_index": f"{SMOKE_VCF}.tbi"}
_REFERENCE = {"reference_fasta": str(SMOKE_REF), "reference_fasta_index": f"{SMOKE_REF}.fai",
              "reference_fasta_gzi": f"{SMOKE_REF}.gzi"}  # fmt: skip
_TRUTH = SMOKE / "giab_truth.vcf.gz"
#: every task whose command runs cnnscore, with inputs that take its command up to cnnscore
KILLED_TASKS = {
    "SplitIntervals": ("split_intervals.wdl", {**_VCF, **_REFERENCE, "scatter_count": 2}),
    "ScoreVariants": ("score_variants.wdl", {
        **_VCF, **_REFERENCE, "reads": [str(SMOKE_BAM)], "reads_indexes": [f"{SMOKE_BAM}.bai"],
        "intervals": str(SMOKE / "giab_truth.bed"), "output_prefix": "x"}),
    "GatherVcfs": ("gather_vcfs.wdl", {"scored_vcfs": [str(GOLDEN_2D)], "output_prefix": "x"}),
    "FilterVariantTranches": ("filter_variant_tranches.wdl", {
        "input_vcf": str(GOLDEN_2D), "input_vcf_index": f"{GOLDEN_2D}.tbi",
        "resources": [str(_TRUTH)], "resources_indexes": [f"{_TRUTH}.tbi"], "output_prefix": "x"}),
    "CompareScores": ("compare_scores.wdl", {
        "baseline_vcf": str(GOLDEN_2D), "candidate_vcf": str(GOLDEN_2D), "baseline_label": "a",
        "candidate_label": "b", "output_prefix": "x"}),
}  # fmt: skip


def _killed_cnnscore(tmp_path: Path) -> dict[str, str]:
    """An environment whose ``cnnscore`` starts, then dies of SIGKILL, as the kernel's
    out-of-memory killer ends a process."""
    stub = tmp_path / "bin" / "cnnscore"
    stub.parent.mkdir()
    stub.write_text('#!/bin/bash\necho "cnnscore: working" >&2\nkill -KILL $$\n')
    stub.chmod(0o755)
    return {**os.environ, "PATH": f"{stub.parent}:{os.environ['PATH']}"}


@pytest.mark.parametrize("task_name", list(KILLED_TASKS))
def test_a_killed_cnnscore_is_named_where_cromwells_memory_retry_looks(tmp_path, task_name):
    """Cromwell retries a task with more memory only when its stderr file holds "OutOfMemory" or
    "Killed" (docs/CROMWELL.md, row 18). With cnnscore the last command of the task, bash's
    report of the kill went to Cromwell's script, not to that file: the task names the kill
    itself, and keeps the status (137) Cromwell reads."""
    task_file, inputs = KILLED_TASKS[task_name]
    _, _, run = render(TASKS / task_file, task_name, {**inputs, "runtime_settings": RUNTIME},
                       tmp_path / "w")  # fmt: skip
    run_cromwell_script(run, _killed_cnnscore(tmp_path))
    assert "cnnscore: working" in run.stderr  # the command reached cnnscore
    assert run.returncode == 137, run.stderr
    assert memory_retry_rc(run.workdir) == 0, run.stderr
    named = [line for line in run.stderr.splitlines() if "Killed" in line and "OutOfMemory" in line]
    assert named, run.stderr  # the task's own line, whatever bash reports besides


def test_a_killed_last_command_is_not_named_in_the_stderr_file(tmp_path):
    """The emulation shows the fault: a command whose last simple command is killed leaves
    neither key in the stderr file Cromwell greps (bash execs it in the subshell's place)."""
    old = tmp_path / "old.wdl"
    old.write_text("version 1.0\ntask Old {\n  input {}\n  command <<<\n    set -euo pipefail\n"
                   "    cnnscore gather-vcfs -O x.vcf.gz\n  >>>\n}\n")  # fmt: skip
    _, _, run = render(old, "Old", {}, tmp_path / "w")
    run_cromwell_script(run, _killed_cnnscore(tmp_path))
    assert run.stderr == "cnnscore: working\n" and run.returncode == 137
    assert memory_retry_rc(run.workdir) == 1
