"""`cnnscore compare`: each counter on a hand-made VCF pair, gates, errors, the HTML in Chromium.

The expected numbers below were worked out by hand from the two files in `_BASELINE`/`_CANDIDATE`
(the comment on each record says what it exercises), not by running the code.
"""

from __future__ import annotations

import base64
import html
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import data_lines, header_lines, info_text, run_cli, smoke_2d_args

HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=1000>
##contig=<ID=chr2,length=1000>
##INFO=<ID=CNN_2D,Number=1,Type=Float,Description="Log odds">
##FILTER=<ID=LowQual,Description="low">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
"""

# (chrom, pos, ref, alt, filter, info) rows
_BASELINE = [
    ("chr1", 10, "A", "G", "PASS", "CNN_2D=1.000"),  # identical
    ("chr1", 20, "C", "T", "PASS", "CNN_2D=2.000"),  # delta 0.0005, same 3 significant digits
    ("chr1", 30, "G", "A", "PASS", "CNN_2D=5.000"),  # delta 0.02, 3rd digit differs
    ("chr1", 40, "T", "TA", "PASS", "CNN_2D=0.050"),  # indel, delta 0.15, sign flip
    ("chr1", 50, "A", "C,T", "PASS", "CNN_2D=3.000"),  # multi-allelic SNP, delta 0.004
    ("chr1", 60, "C", "G", "PASS", "CNN_2D=1.500"),  # missing in candidate
    ("chr1", 70, "G", "T,C", "PASS", "CNN_2D=1.000"),  # candidate has only G>T: missing both ways
    ("chr1", 80, "A", "G", ".", "DP=3"),  # unscored in baseline
    ("chr1", 90, "A", "G", "LowQual;CNN", "CNN_2D=."),  # unscored on both sides
    ("chr1", 100, "G", "C", "PASS", "CNN_2D=-0.000"),  # -0 vs 0: no sign flip, text differs
    ("chr1", 110, "AC", "GT", "PASS", "CNN_2D=1.000"),  # MNP: never filtered by cutoffs
    ("chr2", 15, "A", "G", "PASS", "CNN_2D=4.000"),  # two records at one position,
    ("chr2", 15, "A", "AT", "PASS", "CNN_2D=-1.000"),  # in the other order in the candidate
]
_CANDIDATE = [
    ("chr1", 10, "A", "G", "PASS", "CNN_2D=1.000"),
    ("chr1", 20, "C", "T", "PASS", "CNN_2D=2.0005"),
    ("chr1", 30, "G", "A", "CNN_2D_SNP_Tranche_99.95_100.00", "CNN_2D=5.020"),
    ("chr1", 40, "T", "TA", "PASS", "CNN_2D=-0.100"),
    ("chr1", 50, "A", "C,T", "PASS", "CNN_2D=3.004"),
    ("chr1", 70, "G", "T", "PASS", "CNN_2D=1.000"),
    ("chr1", 80, "A", "G", "PASS", "DP=3;CNN_2D=1.000"),
    ("chr1", 90, "A", "G", "CNN;LowQual", "CNN_2D=."),
    ("chr1", 100, "G", "C", "PASS", "CNN_2D=0.000"),
    ("chr1", 110, "AC", "GT", "PASS", "CNN_2D=1.000"),
    ("chr2", 5, "A", "T", "PASS", "CNN_2D=0.500"),  # missing in baseline
    ("chr2", 15, "A", "AT", "PASS", "CNN_2D=-1.000"),
    ("chr2", 15, "A", "G", "PASS", "CNN_2D=4.000"),
]


def _write_vcf(path: Path, rows) -> Path:
    body = "".join(
        f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t50\t{filt}\t{info}\n"
        for chrom, pos, ref, alt, filt, info in rows
    )
    path.write_text(HEADER + body)
    return path


def _write_metrics(path: Path, variants: int, seconds: float) -> Path:
    path.write_text(
        json.dumps(
            {"variants_scored": variants, "wall_seconds": seconds, "backend": "x", "precision": "y"}
        )
    )
    return path


@pytest.fixture
def pair(tmp_path) -> tuple[Path, Path]:
    return _write_vcf(tmp_path / "a.vcf", _BASELINE), _write_vcf(tmp_path / "b.vcf", _CANDIDATE)


def _compare(pair, out: Path, *extra) -> tuple[subprocess.CompletedProcess, dict | None]:
    result = run_cli(
        "compare", "--baseline", pair[0], "--candidate", pair[1], "-O", out, *extra
    )  # fmt: skip
    json_path = out.with_suffix(".json")
    return result, json.loads(json_path.read_text()) if json_path.exists() else None


def test_every_counter_on_a_hand_made_pair(pair, tmp_path):
    result, report = _compare(pair, tmp_path / "report")
    assert result.returncode == 0, result.stderr
    s = report["summary"]
    assert report["schema"] == "cnnscore.compare/1"
    assert report["baseline"]["records"] == 13 and report["candidate"]["records"] == 13
    assert report["matching"]["matched"] == 11
    assert s["records_compared"] == 9
    assert s["missing_in_candidate"] == 2  # chr1:60, chr1:70 G>T,C
    assert s["missing_in_baseline"] == 2  # chr1:70 G>T, chr2:5
    assert s["unscored_in_baseline"] == 2 and s["unscored_in_candidate"] == 1
    assert s["max_abs_delta"] == pytest.approx(0.15)
    assert s["mean_abs_delta"] == pytest.approx((0.0005 + 0.02 + 0.15 + 0.004) / 9)
    assert (s["over_0_001"], s["over_0_01"], s["over_0_1"]) == (3, 2, 1)
    assert s["third_digit_differs"] == 2
    assert s["sign_flips"] == 1
    assert s["identical_text_fraction"] == pytest.approx(4 / 9)
    assert s["concordance"] is None and s["speedup"] is None
    assert report["largest_deltas"][0]["record"] == "chr1:40 T>TA"
    assert [d["abs_delta"] for d in report["largest_deltas"]] == sorted(
        (d["abs_delta"] for d in report["largest_deltas"]), reverse=True
    )
    assert "max |delta|" in result.stdout  # the short table


def test_cutoff_concordance_follows_filter_variant_tranches_rule(pair, tmp_path):
    # SNP filtered iff score <= 2.0, indel iff <= 0.0, MNP never.
    _, report = _compare(pair, tmp_path / "r", "--snp-cutoff", "2.0", "--indel-cutoff", "0")
    cut = report["classification"]["cutoffs"]
    # discordant: chr1:20 (2.000 filtered vs 2.0005 pass), chr1:40 (0.05 pass vs -0.1 filtered),
    # chr1:80 (unscored in the baseline, which FilterVariantTranches never filters, vs 1.000
    # filtered); chr1:90, unscored on both sides, is not classified
    assert cut == {
        "classified": 10,
        "concordant": 7,
        "discordant": 3,
        "baseline_filtered": 4,  # chr1:10, chr1:20, chr1:100, chr2:15 A>AT
        "candidate_filtered": 5,  # chr1:10, chr1:40, chr1:80, chr1:100, chr2:15 A>AT
        "concordance": pytest.approx(7 / 10),
    }
    assert report["summary"]["concordance"] == pytest.approx(7 / 10)
    # With only a SNP cutoff, the two indels are left unclassified (the MNP is classified: pass).
    _, report = _compare(pair, tmp_path / "snp", "--snp-cutoff", "2.0")
    assert report["classification"]["cutoffs"]["classified"] == 8


@pytest.mark.parametrize("flag", ["--snp-cutoff", "--indel-cutoff"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_cutoff_that_is_not_finite_is_refused(pair, tmp_path, flag, value):
    """A NaN cutoff filtered nothing on either side, so concordance was 1.0 and a
    'concordance<0.999' gate passed whatever the scores; it is refused when parsed."""
    result, report = _compare(pair, tmp_path / "r", flag, value, "--fail-if", "concordance<0.999")
    assert result.returncode == 2 and report is None
    (error,) = result.stderr.strip().splitlines()
    assert error.startswith(f"cnnscore: error: cnnscore compare: argument {flag}"), error
    assert "must be a finite number" in error
    assert not list(tmp_path.glob("r.*"))


def test_filter_concordance_compares_filter_columns(pair, tmp_path):
    _, report = _compare(pair, tmp_path / "r", "--compare-filters")
    filters = report["classification"]["filters"]
    # every matched record; '.' = PASS, filter order ignored; only chr1:30 differs
    assert (filters["classified"], filters["concordant"]) == (11, 10)
    assert filters["baseline_filtered"] == 1 and filters["candidate_filtered"] == 2


def test_throughput_sums_shard_metrics_and_gates_exit_3(pair, tmp_path):
    base = [
        _write_metrics(tmp_path / "b1.json", 100, 10),
        _write_metrics(tmp_path / "b2.json", 50, 5),
    ]
    cand = _write_metrics(tmp_path / "c.json", 150, 5)
    metrics = ["--baseline-metrics", *base, "--candidate-metrics", cand]
    result, report = _compare(pair, tmp_path / "ok", *metrics, "--fail-if", "max_abs_delta>0.2")
    assert result.returncode == 0, result.stderr
    s = report["summary"]
    assert s["baseline_variants_per_minute"] == pytest.approx(600)
    assert s["candidate_variants_per_minute"] == pytest.approx(1800)
    assert s["speedup"] == pytest.approx(3.0)
    assert report["fail_if"] == [{"gate": "max_abs_delta>0.2", "value": s["max_abs_delta"],
                                  "failed": False}]  # fmt: skip

    gates = ["--fail-if", "max_abs_delta>0.01", "--fail-if", "speedup<2"]
    result, report = _compare(pair, tmp_path / "bad", *metrics, *gates)
    assert result.returncode == 3
    assert [g["failed"] for g in report["fail_if"]] == [True, False]
    assert "--fail-if failed: max_abs_delta>0.01" in result.stderr
    assert (tmp_path / "bad.html").stat().st_size > 10_000  # reports are written either way


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fail-if", "max_delta>0.1"], "unknown metric 'max_delta'"),
        (["--fail-if", "max_abs_delta=0.1"], "is not METRIC<op>NUMBER"),
        (["--fail-if", "concordance<0.999"], "concordance was not measured"),
    ],
)
def test_bad_gates_are_errors(pair, tmp_path, extra, message):
    result, report = _compare(pair, tmp_path / "r", *extra)
    assert result.returncode == 1
    assert message in result.stderr and "--fail-if" in result.stderr
    assert report is None and not (tmp_path / "r.html").exists()


def test_bad_inputs_name_the_file_and_record(pair, tmp_path):
    unsorted = _write_vcf(tmp_path / "unsorted.vcf", [_CANDIDATE[1], _CANDIDATE[0]])
    result, report = _compare((pair[0], unsorted), tmp_path / "r")
    assert result.returncode == 1 and report is None
    assert "unsorted.vcf: record chr1:10 A>G: records are not coordinate-sorted" in result.stderr

    garbage = _write_vcf(tmp_path / "garbage.vcf", [("chr1", 10, "A", "G", "PASS", "CNN_2D=abc")])
    result, _ = _compare((garbage, pair[1]), tmp_path / "r")
    assert "garbage.vcf: record chr1:10 A>G: CNN_2D=abc is not a number" in result.stderr

    result, _ = _compare((pair[0], tmp_path / "absent.vcf"), tmp_path / "r")
    assert "absent.vcf: VCF file does not exist" in result.stderr

    other_key = tmp_path / "one_d.vcf"  # a CNN_1D run against CNN_2D: was "compared 0", exit 0
    other_key.write_text(pair[1].read_text().replace("CNN_2D", "CNN_1D"))
    result, _ = _compare((pair[0], other_key), tmp_path / "r")
    assert result.returncode == 1
    assert "one_d.vcf: no ##INFO line for CNN_2D: not scored with that key" in result.stderr

    bad_metrics = tmp_path / "m.json"
    bad_metrics.write_text("{}")
    result, _ = _compare(pair, tmp_path / "r", "--baseline-metrics", bad_metrics)
    assert result.returncode == 1 and "m.json: not a cnnscore --metrics-json file" in result.stderr
    assert not list(tmp_path.glob("r.*")) and not list(tmp_path.glob(".partial-*"))


@pytest.mark.parametrize(
    ("value", "why"),
    [("-Infinity", "is infinite: no score difference can be measured from it"),
     ("1e400", "is infinite: no score difference can be measured from it"),
     ("inf", "is not a number")],  # Java's Double.parseDouble, as filter reads a score
)  # fmt: skip
def test_an_infinite_score_is_refused_naming_the_file_and_record(
    smoke_2d_output, tmp_path, value, why
):
    """An infinite score (on one side it was a numpy traceback after the whole comparison; on
    both, a NaN mean difference that --fail-if passed as "ok (nan)" and a JSON with NaN in it):
    one line naming the file and record, exit 1, no report."""
    header, records = header_lines(smoke_2d_output), data_lines(smoke_2d_output)
    chrom, pos, _, ref, alt = records[3].split("\t")[:5]
    old = f"CNN_2D={info_text(records[3])}"
    records[3] = records[3].replace(old, f"CNN_2D={value}")
    infinite = tmp_path / "infinite.vcf"
    infinite.write_text("\n".join(header + records) + "\n")
    for pair, gate in [((smoke_2d_output, infinite), "max_abs_delta>0.001"),
                       ((infinite, infinite), "mean_abs_delta>0.001")]:  # fmt: skip
        result, report = _compare(pair, tmp_path / "r", "--fail-if", gate)
        assert result.returncode == 1 and report is None, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1] == (
            f"cnnscore: error: {infinite}: record {chrom}:{pos} {ref}>{alt}: CNN_2D={value} {why}"
        )
        assert not list(tmp_path.glob("r.*")) and not list(tmp_path.glob(".partial-*"))


@pytest.mark.parametrize(
    "where, says",
    [("a_file/report", "output folder is not a folder"),
     ("typo/sub/report", "output folder does not exist")],
)  # fmt: skip
def test_a_bad_report_folder_is_refused_before_comparing(pair, tmp_path, where, says):
    """-O in a folder that is a file, or that does not exist: one line, as every subcommand
    says it, before the VCFs are read (an unsorted candidate is not reached). It was a
    traceback after the comparison, and a missing folder was created."""
    (tmp_path / "a_file").write_text("a file\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    unsorted = _write_vcf(tmp_path / "unsorted.vcf", [_CANDIDATE[1], _CANDIDATE[0]])
    for candidate in (pair[1], unsorted):
        result, _ = _compare((pair[0], candidate), tmp_path / where)
        errors = [line for line in result.stderr.splitlines() if line.startswith("cnnscore: e")]
        assert result.returncode == 1 and len(errors) == 1, result.stderr
        assert errors[0] == f"cnnscore: error: {tmp_path / where}.json: {says}", errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "unsorted.vcf"])
    assert (tmp_path / "a_file").read_text() == "a file\n"


def test_real_smoke_output_against_a_copy_with_known_changes(smoke_2d_output, tmp_path):
    """small_2d's scores of the 252 smoke records against a copy with five scores changed by
    known amounts: +0.002 on three records, -0.5 on one (both kinds scoring >= 1, so no sign
    changes), and the sign flipped on the record nearest 0 with |score| > 0.05 (a SNP or indel
    under 0.25, so its delta, 2|score|, lies between 0.1 and 0.5). With cutoffs at 0 for SNPs
    and indels only the flipped record changes class. Every count follows from the changes."""
    header, records = header_lines(smoke_2d_output), data_lines(smoke_2d_output)
    scores = [float(info_text(line)) for line in records]
    raised = [i for i, value in enumerate(scores) if value >= 1.0][:3]
    lowered = next(i for i, value in enumerate(scores) if value >= 1.0 and i not in raised)
    flipped = min((i for i, value in enumerate(scores) if abs(value) > 0.05),
                  key=lambda i: abs(scores[i]))  # fmt: skip
    ref, alt = records[flipped].split("\t")[3:5]
    assert 0.05 < abs(scores[flipped]) < 0.25 and "," not in alt
    assert len(ref) == len(alt) == 1 or len(ref) != len(alt)  # a SNP or an indel: has a cutoff
    changes = {i: scores[i] + 0.002 for i in raised}
    changes |= {lowered: scores[lowered] - 0.5, flipped: -scores[flipped]}
    changed = list(records)
    for i, value in changes.items():
        old = f"CNN_2D={info_text(records[i])}"
        changed[i] = records[i].replace(old, f"CNN_2D={value:.3f}")
        assert changed[i].count("CNN_2D=") == 1 and changed[i] != records[i]
    candidate = tmp_path / "changed.vcf"
    candidate.write_text("\n".join(header + changed) + "\n")

    result, report = _compare((smoke_2d_output, candidate), tmp_path / "known",
                              "--snp-cutoff", "0", "--indel-cutoff", "0")  # fmt: skip
    assert result.returncode == 0, result.stderr
    s = report["summary"]
    flip_delta = round(2 * abs(scores[flipped]), 3)
    assert s["records_compared"] == 252 and report["matching"]["matched"] == 252
    assert s["missing_in_baseline"] == s["missing_in_candidate"] == 0
    assert s["max_abs_delta"] == 0.5
    assert s["mean_abs_delta"] == pytest.approx((3 * 0.002 + 0.5 + flip_delta) / 252)
    assert (s["over_0_001"], s["over_0_01"], s["over_0_1"]) == (5, 2, 2)
    assert s["sign_flips"] == 1
    assert s["identical_text_fraction"] == pytest.approx(247 / 252)
    cut = report["classification"]["cutoffs"]
    assert (cut["classified"], cut["concordant"], cut["discordant"]) == (252, 251, 1)
    moved = 1 if scores[flipped] > 0 else -1  # the flipped record's class changes, no other
    assert cut["candidate_filtered"] == cut["baseline_filtered"] + moved
    assert s["concordance"] == pytest.approx(251 / 252)
    chrom, pos, _, lowered_ref, lowered_alt = records[lowered].split("\t")[:5]
    assert report["largest_deltas"][0]["record"] == f"{chrom}:{pos} {lowered_ref}>{lowered_alt}"
    assert [d["abs_delta"] for d in report["largest_deltas"][:6]] == [
        0.5, flip_delta, 0.002, 0.002, 0.002, 0.0]  # fmt: skip


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.fail("Chromium is needed to render the report (apt-get install chromium; make test)")


def test_html_renders_in_headless_chromium(pair, tmp_path):
    base = _write_metrics(tmp_path / "b.json", 100, 10)
    cand = _write_metrics(tmp_path / "c.json", 150, 5)
    _, report = _compare(
        pair, tmp_path / "report", "--baseline-metrics", base, "--candidate-metrics", cand
    )
    page = (tmp_path / "report.html").read_text()
    images = page.split('src="data:image/png;base64,')[1:]
    assert len(images) == 3
    for image in images:
        assert base64.b64decode(image.split('"', 1)[0])[:8] == b"\x89PNG\r\n\x1a\n"

    shot = tmp_path / "shot.png"
    subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1280,1800", f"--screenshot={shot}", (tmp_path / "report.html").as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    not_white = (pixels < 0.95).any(axis=-1).mean()
    colours = len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert not_white > 0.05, f"screenshot nearly blank ({not_white:.3f} non-white)"
    assert colours > 50, f"screenshot has only {colours} colours: plots did not render"


#: a model no machine here has, and the Python run before a scorer to give it: this machine's
#: /proc/cpuinfo with its model names replaced (cnnscore.backends.cpu opens the file through
#: its module's ``open``)
OTHER_CPU = "Test CPU 9000 @ 1.00GHz"
ANOTHER_CPU_MODEL = rf"""
import builtins, io, re
from cnnscore.backends import cpu
served = open("/proc/cpuinfo").read()
served = re.sub(r"(?m)^model name\s*:.*$", "model name\t: {OTHER_CPU}", served)
if "model name" not in served:
    served = "model name\t: {OTHER_CPU}\n" + served
def _open(path, *args, **kwargs):
    if str(path) == "/proc/cpuinfo":
        return io.StringIO(served)
    return builtins.open(path, *args, **kwargs)
cpu.open = _open
"""


def test_throughput_measured_on_two_cpu_models_is_warned_of(smoke_2d_output, tmp_path):
    """The metrics name the CPU's model, and compare warns (report and stderr) when the sides'
    metrics name two: their speeds then compare machines, as a minimum CPU platform on Google
    allows. The same metrics on both sides: no CPU warning, but one that the two sides ran the
    same settings (a configuration whose field was misspelt runs the defaults: the workflow's
    engines drop a field a struct does not declare, session 31's Terra review); the settings
    named include the batch sizes, which a misspelt field leaves at their defaults."""
    here = smoke_2d_output.with_suffix(".json")
    model_here = json.loads(here.read_text())["cpu_model"]  # None where the machine names none
    other = tmp_path / "other.json"
    run_cli(*smoke_2d_args(tmp_path / "other.vcf.gz", "-L", "chr20:10000000-10010000",
                           "--metrics-json", other, "--inference-batch-size", "128"),
            prelude=ANOTHER_CPU_MODEL, check=True)  # fmt: skip
    assert json.loads(other.read_text())["cpu_model"] == OTHER_CPU
    vcfs = (smoke_2d_output, smoke_2d_output)
    result, report = _compare(vcfs, tmp_path / "one", "--baseline-metrics", here,
                              "--candidate-metrics", here)  # fmt: skip
    assert result.returncode == 0, result.stderr
    (same,) = report["warnings"]
    assert same.startswith("the baseline and the candidate ran the same backend, precision and "
                           "batch sizes "
                           "(tensorflow fp32, batches 256/512): ")  # fmt: skip
    assert f"cnnscore: warning: {same}" in result.stderr.splitlines()
    assert report["baseline"]["cpu_models"] == ([model_here] if model_here else [])
    result, report = _compare(vcfs, tmp_path / "two", "--baseline-metrics", here,
                              "--candidate-metrics", other)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert report["candidate"]["cpu_models"] == [OTHER_CPU]
    assert report["candidate"]["settings"] == ["tensorflow fp32, batches 128/512"]
    assert report["candidate"]["backends"] == ["tensorflow fp32"]
    assert "tensorflow fp32, batches 128/512" in (tmp_path / "two.html").read_text()
    if model_here is None:  # one side names no model: nothing to tell apart
        assert report["warnings"] == []
        return
    (warning,) = report["warnings"]
    assert f"cnnscore: warning: {warning}" in result.stderr.splitlines()
    assert "2 CPU models" in warning and OTHER_CPU in warning and model_here in warning
    assert html.escape(warning) in (tmp_path / "two.html").read_text()


# --------------------------------------------------------------------------------------------
# what a comparison leaves out, and inputs that only looked comparable (review of session 26)


def _one_error(result) -> str:
    """The bad-input contract: exit 1, one error line (warnings aside)."""
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if "cnnscore: error:" in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    return errors[0]


@pytest.mark.parametrize(
    "candidate",
    [
        [("chr1", 10, "A", "G", "PASS", "CNN_2D=5.000")],  # another site only
        [],  # no record at all: a scoring run that wrote none
        [(c, p, r, a, f, "DP=3") for c, p, r, a, f, _ in _BASELINE],
    ],  # every score missing
    ids=["other sites", "no records", "no scores"],
)
def test_nothing_compared_is_an_error_not_a_pass(tmp_path, candidate):
    """With no record scored on both sides every count was 0, so 'over_0_01>0' and the other
    count gates passed with exit 0 (the Terra example's gate among them)."""
    baseline = _write_vcf(tmp_path / "a.vcf", [row for row in _BASELINE if row[1] != 10])
    cand = _write_vcf(tmp_path / "b.vcf", candidate)
    result, report = _compare((baseline, cand), tmp_path / "r", "--fail-if", "over_0_01>0")
    error = _one_error(result)
    assert error.startswith(
        f"cnnscore: error: {cand}: no record was compared: none has a "
        "CNN_2D score in both files at the same CHROM, POS, REF and ALT ("
    ), error
    assert report is None and not list(tmp_path.glob("r.*"))


def test_records_left_out_of_the_deltas_are_warned_of(tmp_path):
    """A candidate that lost 99 of 100 records had deltas of 0 and concordance 1, silently:
    the counts were in the report, but no gate or line said so."""
    rows = [("chr1", 10 * i, "A", "C", "PASS", f"CNN_2D={i / 10:.3f}") for i in range(1, 101)]
    baseline = _write_vcf(tmp_path / "a.vcf", rows)
    cand = _write_vcf(tmp_path / "b.vcf", rows[:1])
    gates = ["--fail-if", "max_abs_delta>0.001", "--fail-if", "missing_in_candidate>0"]
    result, report = _compare((baseline, cand), tmp_path / "r", *gates)
    assert result.returncode == 3
    warning = (
        "records not in the deltas: 99 (baseline 100 records, candidate 1; 99 missing "
        "in the candidate, 0 in the baseline; 0 unscored in the baseline, 0 in the "
        "candidate); gate on missing_in_candidate, unscored_in_candidate (and the "
        "baseline's) to fail on them"
    )
    assert f"cnnscore: warning: {warning}" in result.stderr.splitlines()
    assert report["warnings"] == [warning]
    assert [gate["failed"] for gate in report["fail_if"]] == [False, True]


def test_contig_order_and_build_come_from_both_headers(tmp_path):
    """##contig lines without a length were left out of the order (a sorted file was 'in no
    ##contig line' or 'not sorted'); headers in two orders were called unsorted, with bcftools
    sort as the remedy, which keeps each header's order; another build went unnoticed."""
    rows = [
        ("chr1", 10, "A", "G", "PASS", "CNN_2D=1.000"),
        ("chr2", 10, "A", "G", "PASS", "CNN_2D=2.000"),
    ]
    plain = _write_vcf(tmp_path / "a.vcf", rows)
    _write_vcf(tmp_path / "a1.vcf", [rows[0], ("chr1", 20, "A", "G", "PASS", "CNN_2D=2.000")])
    no_lengths = tmp_path / "no_lengths.vcf"
    no_lengths.write_text(plain.read_text().replace(",length=1000", ""))
    result, report = _compare((no_lengths, no_lengths), tmp_path / "r1")
    assert result.returncode == 0, result.stderr
    assert report["summary"]["records_compared"] == 2

    swapped = tmp_path / "swapped.vcf"
    head, body = plain.read_text().split("#CHROM")
    chr1_line = "##contig=<ID=chr1,length=1000>\n"
    head = head.replace(chr1_line, "") + chr1_line
    rows_swapped = body.replace("chr1\t10", "X").replace("chr2\t10", "chr1\t10")
    swapped.write_text(head + "#CHROM" + rows_swapped.replace("X", "chr2\t10"))
    error = _one_error(_compare((plain, swapped), tmp_path / "r2")[0])
    assert error == (
        f"cnnscore: error: {swapped}: record chr1:10 A>G: records are not coordinate-sorted in "
        f"the headers' contig order (its header lists contig chr2 before chr1, {plain}'s the "
        "other way round, and each file is sorted in its own header's order: give one file the "
        "other's ##contig lines (bcftools reheader) and sort it again (bcftools sort))"
    )
    one_contig = tmp_path / "one_contig.vcf"  # the orders differ, but no record crosses them
    one_contig.write_text(head + "#CHROM" + (tmp_path / "a1.vcf").read_text().split("#CHROM")[1])
    result, report = _compare((plain.with_name("a1.vcf"), one_contig), tmp_path / "r4")
    assert result.returncode == 0 and report["summary"]["records_compared"] == 2, result.stderr

    other_build = tmp_path / "other_build.vcf"
    other_build.write_text(plain.read_text().replace("ID=chr2,length=1000", "ID=chr2,length=999"))
    error = _one_error(_compare((plain, other_build), tmp_path / "r3")[0])
    assert error == (
        f"cnnscore: error: {other_build}: ##contig chr2 has length 999 here but 1000 in {plain}: "
        "the two files are on different reference builds"
    )


def test_compare_filters_needs_a_tranche_filtered_file(tmp_path):
    """Unfiltered files are all 'pass' on both sides: concordance 1.0 with sign flips."""
    baseline = _write_vcf(tmp_path / "a.vcf", [("chr1", 10, "A", "G", ".", "CNN_2D=5.000")])
    cand = _write_vcf(tmp_path / "b.vcf", [("chr1", 10, "A", "G", ".", "CNN_2D=-5.000")])
    result, report = _compare((baseline, cand), tmp_path / "r", "--compare-filters")
    error = _one_error(result)
    assert error.startswith(
        "cnnscore: error: --compare-filters: neither file was "
        "tranche-filtered: no CNN_2D tranche in a ##FILTER line"
    ), error
    assert report is None
    declared = tmp_path / "declared.vcf"  # every record passed, but the tranches were applied
    tranche_line = '##FILTER=<ID=CNN_2D_SNP_Tranche_99.95_100.00,Description="x">\n'
    declared.write_text(cand.read_text().replace("#CHROM", tranche_line + "#CHROM"))
    result, report = _compare((baseline, declared), tmp_path / "r2", "--compare-filters")
    assert result.returncode == 0 and report["summary"]["concordance"] == 1.0


def test_labels_and_values_that_broke_the_html(tmp_path):
    """A label with two $ was read as mathematics (a parser's traceback); one delta repeated
    far from 0 had no room for histogram bins; scores near a double's limit overflowed their
    difference and matplotlib's ticks: a score must lie in float32's range, as GATK's do."""
    rows = [("chr1", 10, "A", "G", ".", "CNN_2D=3e38"), ("chr1", 20, "A", "G", ".", "CNN_2D=3e38")]
    baseline = _write_vcf(tmp_path / "a.vcf", rows)
    cand = _write_vcf(tmp_path / "b.vcf", [row[:5] + ("CNN_2D=-3e38",) for row in rows])
    label = "ov $\\bad$ fp16"
    result, report = _compare((baseline, cand), tmp_path / "r", "--candidate-label", label)
    assert result.returncode == 0, result.stderr
    assert report["candidate"]["label"] == label and report["summary"]["max_abs_delta"] == 6e38

    far = _write_vcf(tmp_path / "c.vcf", [("chr1", 10, "A", "G", ".", "CNN_2D=-1.7e308")])
    error = _one_error(_compare((baseline, far), tmp_path / "r2")[0])
    assert error == (
        f"cnnscore: error: {far}: record chr1:10 A>G: CNN_2D=-1.7e308 is beyond float32's "
        "range, where GATK's scores lie"
    )


@pytest.mark.parametrize(
    ("metrics", "says"),
    [
        ({"variants_scored": 99.9, "wall_seconds": 10}, "variants_scored 99.9 is not a count"),
        ({"variants_scored": True, "wall_seconds": 10}, "variants_scored True is not a count"),
        ({"variants_scored": -100, "wall_seconds": 10}, "variants_scored -100 is not a count"),
        ({"variants_scored": 100, "wall_seconds": 0}, "wall_seconds 0 is not a run's time"),
        ({"variants_scored": 100, "wall_seconds": 1e-320}, "100 variants in 1e-320 s is no speed"),
    ],
    ids=["fraction", "boolean", "negative", "no time", "no speed"],
)
def test_metrics_files_must_hold_a_count_and_a_time(pair, tmp_path, metrics, says):
    """Truncated, taken as 1, a speed below zero or of infinity (written as Infinity, which is
    no JSON), or 'throughput needs both files' when both were given."""
    good = _write_metrics(tmp_path / "good.json", 100, 10)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(metrics))
    args = ("--baseline-metrics", good, "--candidate-metrics", bad, "--fail-if", "speedup<0.5")
    result, report = _compare(pair, tmp_path / "r", *args)
    assert f"bad.json: {says}" in _one_error(result) and report is None


def test_alleles_in_either_case_and_scores_as_java_reads_them(tmp_path):
    """ALT was matched as written (REF upper-cased): htsjdk's upper-cased output against
    lower-case input was 'missing' both ways. Scores were read by Python's float, which takes
    1_0 and non-ASCII digits that filter (Java's rule) refuses. Duplicates paired silently."""
    baseline = _write_vcf(
        tmp_path / "a.vcf",
        [
            ("chr1", 10, "a", "g", ".", "CNN_2D=1.000"),
            ("chr1", 20, "A", "G", ".", "CNN_2D=1.000"),
            ("chr1", 20, "A", "G", ".", "CNN_2D=2.000"),
        ],
    )
    cand = _write_vcf(
        tmp_path / "b.vcf",
        [
            ("chr1", 10, "A", "G", ".", "CNN_2D=1.000"),
            ("chr1", 20, "A", "G", ".", "CNN_2D=1.000"),
            ("chr1", 20, "A", "G", ".", "CNN_2D=2.000"),
        ],
    )
    result, report = _compare((baseline, cand), tmp_path / "r")
    assert report["summary"]["records_compared"] == 3, result.stderr
    assert report["summary"]["max_abs_delta"] == 0
    assert (
        "cnnscore: warning: records sharing CHROM, POS, REF and ALT with another of their file: "
        "2 (overlapping shards?); they were paired in file order"
    ) in result.stderr
    for text in ("1_0", "\u0661"):
        odd = _write_vcf(tmp_path / "odd.vcf", [("chr1", 10, "A", "G", ".", f"CNN_2D={text}")])
        error = _one_error(_compare((baseline, odd), tmp_path / "r2")[0])
        assert error.endswith(f"record chr1:10 A>G: CNN_2D={text} is not a number"), error


@pytest.mark.parametrize(
    ("gate", "says"),
    [
        ("max_abs_delta>1e400", "'1e400' is not a finite number"),
        ("MAX_ABS_DELTA>0.1", "unknown metric 'MAX_ABS_DELTA'"),
    ],
)
def test_gates_that_could_never_hold_or_were_misread(pair, tmp_path, gate, says):
    result, report = _compare(pair, tmp_path / "r", "--fail-if", gate)
    assert says in _one_error(result) and report is None


def test_a_gate_is_reported_with_every_digit_given(pair, tmp_path):
    _, report = _compare(pair, tmp_path / "r", "--fail-if", "max_abs_delta>0.00123456789")
    assert report["fail_if"][0]["gate"] == "max_abs_delta>0.00123456789"


def test_a_negative_cutoff_in_exponent_form_is_a_value(pair, tmp_path):
    """argparse read -1e-3 as a flag ('expected one argument'); only -0.001 was taken."""
    _, report = _compare(pair, tmp_path / "r", "--snp-cutoff", "-1e-3", "--indel-cutoff", "-1E+0")
    _, same = _compare(pair, tmp_path / "s", "--snp-cutoff", "-0.001", "--indel-cutoff", "-1")
    assert report is not None and report["classification"] == same["classification"]


def test_two_speeds_without_a_finite_ratio_are_one_line(pair, tmp_path):
    """Each side's speed finite, their ratio not: a traceback from the JSON writer before."""
    slow = _write_metrics(tmp_path / "slow.json", 1, 1e300)
    fast = _write_metrics(tmp_path / "fast.json", 10**9, 1e-290)
    metrics = ("--baseline-metrics", slow, "--candidate-metrics", fast)
    result, report = _compare(pair, tmp_path / "r", *metrics)
    assert "have no finite ratio: check the metrics files' wall_seconds" in _one_error(result)
    assert report is None and not list(tmp_path.glob("r.*"))
