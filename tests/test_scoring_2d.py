"""End to end on real data: the smoke set (NA12878 chr20, 252 HaplotypeCaller calls) with GATK's
real small_2d model, through the CLI as a user runs it."""

from __future__ import annotations

import json
import math
import os
import re
import shutil

import pysam
import pytest

from cnnscore.io.vcf_output import INFO_HEADER_LINES
from conftest import (
    SMALL_2D_HD5,
    SMALL_2D_JSON,
    SMOKE,
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
    data_lines,
    header_lines,
    info_text,
    run_cli,
    smoke_2d_args,
)

SCORE_TEXT = re.compile(r"^-?\d+\.\d{3}$")


def strip_key(line: str, key: str) -> str:
    columns = line.split("\t")
    columns[7] = ";".join(i for i in columns[7].split(";") if not i.startswith(key + "="))
    return "\t".join(columns)


def test_every_record_scored_finite_and_other_fields_untouched(smoke_2d_output):
    inputs, outputs = data_lines(SMOKE_VCF), data_lines(smoke_2d_output)
    assert len(outputs) == len(inputs) == 252
    values = [info_text(line) for line in outputs]
    assert all(SCORE_TEXT.match(v) and math.isfinite(float(v)) for v in values)
    for before, after in zip(inputs, outputs, strict=True):
        assert strip_key(after, "CNN_2D") == before  # every other column and INFO key unchanged
        keys = [item.partition("=")[0] for item in after.split("\t")[7].split(";")]
        assert keys == sorted(keys)  # CNN_2D sits where htsjdk's sorted INFO puts it


def test_header_has_gatks_info_line_once(smoke_2d_output):
    header = header_lines(smoke_2d_output)
    assert header.count(INFO_HEADER_LINES["CNN_2D"]) == 1
    assert INFO_HEADER_LINES["CNN_2D"] == (
        '##INFO=<ID=CNN_2D,Number=1,Type=Float,Description="Log odds of being a true variant '
        'versus being false under the trained 2D Convolutional Neural Network">'
    )
    original = header_lines(SMOKE_VCF)
    assert [
        h for h in header if h != INFO_HEADER_LINES["CNN_2D"] and not h.startswith("##cnnscore")
    ] == original


def test_giab_true_calls_score_higher_by_at_least_six(smoke_2d_output):
    truth = {(r.pos, r.ref, r.alts) for r in pysam.VariantFile(str(SMOKE / "giab_truth.vcf.gz"))}
    true_scores, other_scores = [], []
    with pysam.VariantFile(str(smoke_2d_output)) as scored:
        for record in scored:
            key = (record.pos, record.ref, record.alts)
            (true_scores if key in truth else other_scores).append(record.info["CNN_2D"])
    assert (len(true_scores), len(other_scores)) == (218, 34)
    gap = sum(true_scores) / 218 - sum(other_scores) / 34
    assert gap >= 6.0, gap


def test_output_is_bgzipped_and_indexed(smoke_2d_output):
    with pysam.VariantFile(str(smoke_2d_output)) as scored:
        assert len(list(scored.fetch("chr20", 10_000_000, 10_010_000))) > 0
    assert smoke_2d_output.with_name("out.vcf.gz.tbi").is_file()


def test_metrics_json(smoke_2d_output):
    metrics = json.loads(smoke_2d_output.with_suffix(".json").read_text())
    records = len(data_lines(smoke_2d_output))
    assert metrics["variants_scored"] == metrics["records_written"] == records == 252
    assert metrics["backend"] == "tensorflow" and metrics["info_key"] == "CNN_2D"
    assert (metrics["inference_batch_size"], metrics["transfer_batch_size"]) == (256, 512)
    # the rate is the count over the time: variants_per_minute is rounded to 0.1 from the
    # unrounded wall time, wall_seconds to 0.001 s (which moves 60 * n / wall by up to
    # 60 * n * 0.0005 / wall**2)
    wall, rate = metrics["wall_seconds"], metrics["variants_per_minute"]
    slack = 0.05 + 60 * records * 0.0005 / (wall - 0.0005) ** 2 + 1e-9
    assert abs(rate - 60 * records / wall) <= slack, (rate, 60 * records / wall)
    # the parts measured inside the run fit in it (encoding beside inference, model load first)
    assert 0 < metrics["encode_seconds"] + metrics["inference_seconds"] <= wall
    assert metrics["model_load_seconds"] + metrics["inference_seconds"] <= wall + 0.002
    # a thread's CPU time within its wall time: encoding's within each chunk's, the scoring
    # thread's within the run's
    assert 0 < metrics["encode_cpu_seconds"] <= metrics["encode_seconds"] + 0.002
    assert 0 < metrics["scoring_thread_cpu_seconds"] <= wall


def test_interval_restricts_to_overlapping_records(tmp_path, smoke_2d_output):
    out = tmp_path / "l1.vcf"
    run_cli(*smoke_2d_args(out, "-L", "chr20:10000000-10050000"), check=True)
    expected = [
        line
        for line in data_lines(smoke_2d_output)
        if int(line.split("\t")[1]) + len(line.split("\t")[3]) - 1 >= 10_000_000
        and int(line.split("\t")[1]) <= 10_050_000
    ]
    got = data_lines(out)
    assert 0 < len(got) < 252
    assert got == expected  # same records, same scores as the whole-file run


def test_two_intervals_give_the_union_in_file_order(tmp_path, smoke_2d_output):
    bed = tmp_path / "a.bed"
    bed.write_text("chr20\t10080000\t10090000\n")  # 0-based: 10,080,001-10,090,000
    interval_list = tmp_path / "b.interval_list"
    interval_list.write_text("@HD\tVN:1.6\nchr20\t10010001\t10020000\t+\t.\n")
    out = tmp_path / "l2.vcf.gz"
    run_cli(
        *smoke_2d_args(out, "-L", bed, "-L", interval_list, "-L", "chr20:10085000-10095000"),
        check=True,
    )

    def inside(line):
        pos = int(line.split("\t")[1])
        end = pos + len(line.split("\t")[3]) - 1
        return any(
            end >= a and pos <= b for a, b in [(10_080_001, 10_095_000), (10_010_001, 10_020_000)]
        )

    expected = [line for line in data_lines(smoke_2d_output) if inside(line)]
    got = data_lines(out)
    assert len(got) > 10
    assert got == expected


def test_cram_input_scores_like_bam(tmp_path, smoke_2d_output):
    cram = tmp_path / "reads.cram"
    pysam.view("-C", "-T", str(SMOKE_REF), "-o", str(cram), str(SMOKE_BAM), catch_stdout=False)
    pysam.index(str(cram))
    out = tmp_path / "cram.vcf"
    args = smoke_2d_args(out)
    args[args.index(SMOKE_BAM)] = cram
    run_cli(*args, check=True)
    assert data_lines(out) == data_lines(smoke_2d_output)


def test_bcf_output_and_small_batches_give_the_same_scores(tmp_path, smoke_2d_output):
    out = tmp_path / "out.bcf"
    run_cli(
        *smoke_2d_args(out, "--inference-batch-size", "7", "--transfer-batch-size", "20"),
        check=True,
    )
    assert (tmp_path / "out.bcf.csi").is_file()
    with pysam.VariantFile(str(out)) as bcf:
        got = [(r.pos, round(r.info["CNN_2D"], 3)) for r in bcf]
    expected = [
        (int(line.split("\t")[1]), float(v))
        for line, v in zip(
            data_lines(smoke_2d_output),
            [info_text(line) for line in data_lines(smoke_2d_output)],
            strict=True,
        )
    ]
    assert len(got) == 252
    assert all(p == q and abs(a - b) < 1e-6 for (p, a), (q, b) in zip(got, expected, strict=True))


def test_openvino_chunks_in_flight_together_keep_every_line(tmp_path):
    """OpenVINO keeps one chunk's requests running while the next is encoded and submitted:
    chunks of 7 give the same lines, in the same order, as one chunk of 256."""
    outputs = {}
    for size in ("7", "256"):
        outputs[size] = tmp_path / f"chunks-{size}.vcf"
        run_cli(
            *smoke_2d_args(outputs[size], "--backend", "openvino", "--threads", "2",
                           "--inference-batch-size", size),
            check=True,
        )  # fmt: skip
    assert len(data_lines(outputs["7"])) == 252
    assert data_lines(outputs["7"]) == data_lines(outputs["256"])


def test_progress_and_summary_on_stderr(tmp_path):
    result = run_cli(
        *smoke_2d_args(
            tmp_path / "p.vcf", "--progress-seconds", "0", "-L", "chr20:10000000-10003000"
        ),
        check=True,
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("cnnscore:")]
    assert any("variants/min" in line and "position" in line for line in lines)
    summary = re.search(
        r"scored ([\d,]+) variants? with CNN_2D in [\d.]+ s \([\d,]+ variants/min", lines[-1]
    )
    assert summary, lines[-1]
    written = len(data_lines(tmp_path / "p.vcf"))
    assert written > 0 and int(summary[1].replace(",", "")) == written


@pytest.mark.parametrize(
    ("backend", "extra", "expected"),
    [
        # depth buckets: a chunk splits by read depth; OpenVINO runs one variant per stream
        ("openvino", (), {"batch": 2, "request": 1}),
        ("tensorflow", (), {"batch": 4, "request": 4}),
        ("onnxruntime", (), {"batch": 4, "request": 2}),
        # dense only: the chunk is the batch; OpenVINO and ONNX Runtime cut it per stream/thread
        ("openvino", ("--no-depth-adaptive",), {"batch": 8, "request": 4}),
        ("tensorflow", ("--no-depth-adaptive",), {"batch": 8, "request": 8}),
        ("onnxruntime", ("--no-depth-adaptive",), {"batch": 8, "request": 4}),
    ],
)
def test_metrics_say_what_the_inference_batch_became(tmp_path, backend, extra, expected):
    """--inference-batch-size is the chunk encoded and handed over together; the metrics report
    the batch each compiled model really runs and the variants per runtime request."""
    metrics = tmp_path / "m.json"
    run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--tensor-type",
            "read_tensor", "-L", "chr20:10000000-10010000", "--backend", backend, "--threads",
            "2", "--inference-batch-size", "8", "-O", tmp_path / "x.vcf", "--metrics-json",
            metrics, *extra, check=True)  # fmt: skip
    data = json.loads(metrics.read_text())
    assert data["inference_batch_size"] == 8
    batches = data["model_batches"]
    buckets = {name for name in batches if name.startswith("rows_")}
    assert "dense" in batches and bool(buckets) == (not extra), batches
    assert all(sizes == expected for sizes in batches.values()), batches
    # OpenVINO reads each bucket variant where the encoder stored it, at its bucket's height
    # (a dense one too when its tensor fills all 128 rows); the others copy every variant
    in_buckets = sum(n for name, n in data["rows_computed"].items() if name != "dense")
    in_place = data["variants_read_in_place"]
    if backend == "openvino" and not extra:
        assert 0 < in_buckets <= in_place <= data["variants_scored"], data["rows_computed"]
    else:
        assert in_place == 0


def test_encoding_beside_inference_from_two_threads_scores_as_inline(tmp_path):
    """From 2 threads the compiled encoder runs a chunk ahead in a thread (score.py's
    BESIDE_FROM_THREADS), with one thread between model calls; the records and scores are the
    same either way (4 threads on this machine's cores too: the threads need not be cores)."""
    runs = {}
    for name, extra in (("beside", ()), ("inline", ("--encode-workers", "0"))):
        output, metrics = tmp_path / f"{name}.vcf", tmp_path / f"{name}.json"
        run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--tensor-type",
                "read_tensor", "--threads", "4", "--inference-batch-size", "32", "-O", output,
                "--metrics-json", metrics, *extra, check=True)  # fmt: skip
        runs[name] = (data_lines(output), json.loads(metrics.read_text()))
    assert runs["beside"][1]["encoding"] == "beside" and runs["inline"][1]["encoding"] == "inline"
    assert runs["beside"][0] == runs["inline"][0] and len(runs["beside"][0]) == 252
    inline = runs["inline"][1]  # encoding ran in the scoring thread: its CPU time counts there
    assert 0 < inline["encode_cpu_seconds"] <= inline["scoring_thread_cpu_seconds"]
    run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--tensor-type",
            "read_tensor", "--threads", "1", "-L", "chr20:10000000-10003000", "-O",
            tmp_path / "one.vcf", "--metrics-json", tmp_path / "one.json", check=True)  # fmt: skip
    assert json.loads((tmp_path / "one.json").read_text())["encoding"] == "inline"
    run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--tensor-type",
            "read_tensor", "--threads", "2", "-L", "chr20:10000000-10003000", "-O",
            tmp_path / "two.vcf", "--metrics-json", tmp_path / "two.json", check=True)  # fmt: skip
    assert json.loads((tmp_path / "two.json").read_text())["encoding"] == "beside"


#: model file names (without their suffix) and how the provenance line writes them
ODD_NAMES = {
    "quotes and a newline": ('my "odd"\\model\n', r"my \"odd\"\\model\\x0a"),
    "a byte not UTF-8": (os.fsdecode(b"m\xffodel"), r"m\\xffodel"),
}


@pytest.mark.parametrize(
    ("odd", "name"),
    [("quotes and a newline", "out.vcf"), ("quotes and a newline", "out.vcf.gz"),
     ("a byte not UTF-8", "out.vcf")],
)  # fmt: skip
def test_model_file_names_that_need_quoting_keep_the_header_readable(tmp_path, odd, name):
    """A `"` in the model's file name ended the provenance value early (htslib: "Could not parse
    the header line"), a newline cut the header in two (exit 0, an unreadable VCF; a traceback
    for .vcf.gz), a byte that is not UTF-8 gave a traceback. Now quoted as VCF 4.3 says: \\ and
    " escaped, a control character or such a byte as \\xNN."""
    stem, written = ODD_NAMES[odd]
    weights, architecture = tmp_path / f"{stem}.hd5", tmp_path / f"{stem}.json"
    shutil.copyfile(SMALL_2D_HD5, weights)
    shutil.copyfile(SMALL_2D_JSON, architecture)
    out = tmp_path / name
    args = smoke_2d_args(out, "-L", "chr20:10000000-10000300")
    args[args.index(SMALL_2D_HD5)] = weights
    args[args.index(SMALL_2D_JSON)] = architecture
    run_cli(*args, check=True)
    (line,) = [h for h in header_lines(out) if h.startswith("##cnnscoreCommandLine")]
    assert line.endswith(f'Architecture="{written}.json",Weights="{written}.hd5">'), line
    with pysam.VariantFile(str(out)) as scored:
        (record,) = [r for r in scored.header.records if r.key == "cnnscoreCommandLine"]
        assert record["Weights"] == f'"{written}.hd5"'
        assert len(list(scored)) == len(data_lines(out)) > 0
