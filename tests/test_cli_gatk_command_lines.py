"""GATK's own command lines run unchanged: the CNNScoreVariants and FilterVariantTranches command
blocks of GATK 4.6.0's ``scripts/cnn_variant_wdl/cnn_variant_common_tasks.wdl`` and the argument
lists of its integration tests (``CNNScoreVariantsIntegrationTest``,
``FilterVariantTranchesIntegrationTest``), verbatim apart from the paths, with ``gatk
CNNScoreVariants`` run as ``cnnscore score`` and ``gatk FilterVariantTranches`` as ``cnnscore
filter``. Each output must equal the canonical cnnscore invocation's; GATK settings that mean
nothing here say so in one line; one that cannot be honoured stops with one line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from cnnscore.cli.parser import (
    GATK_ONLY_GROUP,
    build_parser,
    command_of,
    gatk_engine_notes,
    options_from,
    parse_notes,
)
from cnnscore.errors import InputError
from conftest import (
    GATK_1D,
    GOLDEN_2D,
    MODELS,
    SMALL_2D_JSON,
    SMOKE,
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
    assert_only_cnnscore_lines,
    data_lines,
    header_lines,
    run_cli,
    write_random_weights,
)

# GATK 4.6.0.0 (github.com/broadinstitute/gatk), scripts/cnn_variant_wdl/
# cnn_variant_common_tasks.wdl: the command of task CNNScoreVariants, as written there (WDL
# draft-2 placeholders, rendered below).
GATK_SCORE_TASK = r"""
        set -e
        export GATK_LOCAL_JAR=${default="/root/gatk.jar" gatk_override}

        gatk --java-options "-Xmx${command_mem}m" \
        CNNScoreVariants \
        ${"-I " + bam_file} \
        ${"--read-index " + bam_file_index} \
        -R ${reference_fasta} \
        -V ${input_vcf} \
        -O ${output_prefix}_cnn_annotated.vcf.gz \
        -L ${interval_list} \
        ${"--architecture " + architecture_json} \
        ${"--tensor-type " + tensor_type} \
        ${"--inference-batch-size " + inference_batch_size} \
        ${"--transfer-batch-size " + transfer_batch_size} \
        ${"--intra-op-threads " + intra_op_threads} \
        ${"--inter-op-threads " + inter_op_threads}
"""
# The same file's task FilterVariantTranches.
GATK_FILTER_TASK = r"""
        set -e
        export GATK_LOCAL_JAR=${default="/root/gatk.jar" gatk_override}

        gatk --java-options "-Xmx${command_mem}m" \
        FilterVariantTranches \
        -V ${input_vcf} \
        --output ${output_vcf} \
        -resource ${sep=" -resource " resources} \
        -info-key ${info_key} \
        ${snp_tranches} \
        ${indel_tranches} \
        ${extra_args}
"""
# broadinstitute/warp, tasks/broad/GermlineVariantDiscovery.wdl (GATK 4.6.1.0's image): the
# command of task CNNScoreVariants (WDL 1.0), whose outputs are the scored VCF and
# "~{output_vcf_index}", the name plus .tbi for a .vcf.gz input and .idx for a plain .vcf.
WARP_SCORE_TASK = r"""
     gatk --java-options "-Xmx10000m" CNNScoreVariants \
       -V ~{input_vcf} \
       -R ~{ref_fasta} \
       -O ~{output_vcf} \
       ~{bamout_param} \
       -tensor-type ~{tensor_type}
"""
#: ``gatk TOOL ARGS`` run as ``cnnscore SUBCOMMAND ARGS`` (the JVM's options dropped)
GATK_SHIM = f"""
gatk() {{
  local args=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --java-options) shift 2 ;;
      CNNScoreVariants) args+=(score); shift ;;
      FilterVariantTranches) args+=(filter); shift ;;
      *) args+=("$1"); shift ;;
    esac
  done
  "{sys.executable}" -m cnnscore "${{args[@]}}"
}}
"""
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def render_draft2(command: str, values: dict) -> str:
    """WDL draft-2 placeholders as Cromwell renders them: ``${x}``, ``${"-x " + x}`` (nothing when
    x is unset), ``${default="d" x}`` and ``${sep=" -r " xs}``."""

    def one(match: re.Match) -> str:
        body = match.group(1).strip()
        if body.startswith("sep="):
            separator, name = re.fullmatch(r'sep="([^"]*)"\s+(\w+)', body).groups()
            return separator.join(map(str, values[name]))
        if body.startswith("default="):
            default, name = re.fullmatch(r'default="([^"]*)"\s+(\w+)', body).groups()
            return str(values.get(name) or default)
        prefixed = re.fullmatch(r'"([^"]*)"\s*\+\s*(\w+)', body)
        if prefixed:
            value = values.get(prefixed.group(2))
            return "" if value is None else prefixed.group(1) + str(value)
        value = values.get(body)
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(one, command)


def run_gatk_block(command: str, values: dict, cwd) -> subprocess.CompletedProcess:
    script = GATK_SHIM + render_draft2(command, values)
    result = subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True,
                            timeout=900)  # fmt: skip
    assert_only_cnnscore_lines(result.stderr)
    return result


def same_output(a, b) -> None:
    """Same records byte for byte, same header but for cnnscore's own command-line line."""
    assert data_lines(a) == data_lines(b) and data_lines(a)
    keep = [line for line in header_lines(a) if not line.startswith("##cnnscoreCommandLine")]
    assert keep == [h for h in header_lines(b) if not h.startswith("##cnnscoreCommandLine")]


@pytest.fixture(scope="module")
def interval_list(tmp_path_factory):
    """A Picard interval_list, as GATK's workflow hands each shard (its split intervals)."""
    path = tmp_path_factory.mktemp("intervals") / "shard.interval_list"
    path.write_text("@HD\tVN:1.6\n@SQ\tSN:chr20\tLN:63025520\n"
                    "chr20\t10000000\t10060000\t+\t.\n")  # fmt: skip
    return path


def test_gatks_wdl_score_task_runs_unchanged(tmp_path, interval_list):
    values = {
        "command_mem": 4000, "bam_file": SMOKE_BAM, "bam_file_index": f"{SMOKE_BAM}.bai",
        "reference_fasta": SMOKE_REF, "input_vcf": SMOKE_VCF, "output_prefix": "gatk",
        "interval_list": interval_list, "architecture_json": SMALL_2D_JSON,
        "tensor_type": "read_tensor", "inference_batch_size": 16, "transfer_batch_size": 32,
        "intra_op_threads": 2, "inter_op_threads": 1,
    }  # fmt: skip
    result = run_gatk_block(GATK_SCORE_TASK, values, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "cnnscore: note: --inter-op-threads has no effect here" in result.stderr
    canonical = tmp_path / "canonical.vcf.gz"
    run_cli("score", "-I", SMOKE_BAM, "-R", SMOKE_REF, "-V", SMOKE_VCF, "-O", canonical,
            "-L", interval_list, "--architecture", SMALL_2D_JSON, "--tensor-type", "read_tensor",
            "--inference-batch-size", "16", "--transfer-batch-size", "32", "--threads", "2",
            check=True)  # fmt: skip
    same_output(tmp_path / "gatk_cnn_annotated.vcf.gz", canonical)


def test_warps_score_task_leaves_the_outputs_it_lists(tmp_path):
    """warp's task run on an uncompressed VCF, as Cromwell would: both outputs it lists exist
    (the .idx was missing, so Cromwell would fail the task after the work), and the records
    are those of a plain cnnscore command line."""
    plain = tmp_path / "calls.vcf"
    plain.write_text("\n".join([*header_lines(SMOKE_VCF), *data_lines(SMOKE_VCF)]) + "\n")
    values = {"input_vcf": plain, "ref_fasta": SMOKE_REF, "output_vcf": "calls.vcf.scored.vcf",
              "bamout_param": "", "tensor_type": "reference"}  # fmt: skip
    command = re.sub(r"~\{(\w+)\}", lambda m: str(values[m.group(1)]), WARP_SCORE_TASK)
    result = run_gatk_block(command, {}, tmp_path)
    assert result.returncode == 0, result.stderr
    outputs = [tmp_path / "calls.vcf.scored.vcf", tmp_path / "calls.vcf.scored.vcf.idx"]
    assert all(path.is_file() for path in outputs), sorted(p.name for p in tmp_path.iterdir())
    assert outputs[1].read_bytes()[:4] == b"TIDX"  # htsjdk's queries: test_io_tribble_index.py
    run_cli("score", "-V", plain, "-R", SMOKE_REF, "-O", tmp_path / "canonical.vcf", check=True)
    same_output(outputs[0], tmp_path / "canonical.vcf")


@pytest.mark.parametrize(
    ("snp", "indel", "extra", "canonical"),
    [
        (
            " --snp-tranche 99.9 ",
            " --indel-tranche 99.5 ",
            None,  # GATK's b37 inputs JSON
            ["--snp-tranche", "99.9", "--indel-tranche", "99.5"],
        ),
        (
            "--snp-tranche 99.9 --snp-tranche 95.0",
            "",
            "--invalidate-previous-filters true",
            ["--snp-tranche", "99.9", "95.0", "--invalidate-previous-filters"],
        ),
    ],
    ids=["b37 inputs", "two tranches, previous filters dropped"],
)
def test_gatks_wdl_filter_task_runs_unchanged(tmp_path, snp, indel, extra, canonical):
    resources = [SMOKE / "giab_truth.vcf.gz", SMOKE / "giab_truth.vcf.gz"]
    values = {"command_mem": 4000, "input_vcf": GOLDEN_2D, "output_vcf": "gatk.vcf.gz",
              "resources": resources, "info_key": "CNN_2D", "snp_tranches": snp,
              "indel_tranches": indel, "extra_args": extra}  # fmt: skip
    result = run_gatk_block(GATK_FILTER_TASK, values, tmp_path)
    assert result.returncode == 0, result.stderr
    expected = tmp_path / "canonical.vcf.gz"
    run_cli("filter", "-V", GOLDEN_2D, "-O", expected, "--resource", resources[0],
            "--resource", resources[1], "--info-key", "CNN_2D", *canonical, check=True)  # fmt: skip
    same_output(tmp_path / "gatk.vcf.gz", expected)


# ------------------------------------------------------- GATK's integration tests' arguments


@pytest.fixture(scope="module")
def random_1d(tmp_path_factory):
    """GATK's 1D architecture with seeded weights (its real weights are not available offline),
    under GATK's file names so that --architecture finds --weights beside it."""
    folder = tmp_path_factory.mktemp("one_d")
    architecture = folder / "1d_cnn_mix_train_full_bn.json"
    shutil.copyfile(MODELS / architecture.name, architecture)
    write_random_weights(architecture, folder / "1d_cnn_mix_train_full_bn.hd5", seed=4)
    return architecture


def _one_d(*args) -> list:
    return ["--variant", GATK_1D / "input.hc_vqsr.vcf.gz", "--reference",
            GATK_1D / "ref.b37.20_1-1M.fa.gz", *args]  # fmt: skip


@pytest.mark.parametrize(
    ("gatk_args", "canonical_args"),
    [
        # testAllDefaultArgs: no model given (cnnscore_compact_1d stands in for GATK's 1D)
        ([], []),
        # testInferenceArchitecture and testInferenceWeights: one file names the other
        (["--architecture", "{arch}"], ["--architecture", "{arch}"]),
        (["--weights", "{weights}"], ["--weights", "{weights}"]),
        # testInferenceArchitectureAndWeights
        (["--weights", "{weights}", "--architecture", "{arch}"], ["--architecture", "{arch}"]),
        # testIntervals
        (
            ["--intervals", "20:100000-200000", "--architecture", "{arch}"],
            ["-L", "20:100000-200000", "--architecture", "{arch}"],
        ),
        # testSmallBatchInference
        (
            [
                "--inference-batch-size",
                "8",
                "--transfer-batch-size",
                "16",
                "--architecture",
                "{arch}",
            ],
            ["--architecture", "{arch}"],
        ),
    ],
    ids=["defaults", "architecture", "weights", "both", "intervals", "small batches"],
)
def test_gatks_integration_test_score_arguments(tmp_path, random_1d, gatk_args, canonical_args):
    names = {"arch": random_1d, "weights": random_1d.with_suffix(".hd5")}
    fill = [str(a).format(**names) for a in gatk_args]
    gatk = run_cli("score", *_one_d(*fill), "--output", tmp_path / "gatk.vcf",
                   "--add-output-vcf-command-line", "false")  # fmt: skip
    assert gatk.returncode == 0, gatk.stderr
    assert not [h for h in header_lines(tmp_path / "gatk.vcf") if "cnnscoreCommandLine" in h]
    canonical = [str(a).format(**names) for a in canonical_args]
    run_cli("score", *_one_d(*canonical), "-O", tmp_path / "canonical.vcf", check=True)
    same_output(tmp_path / "gatk.vcf", tmp_path / "canonical.vcf")


def test_gatks_integration_test_2d_arguments(tmp_path):
    """testInference2dResourceModel: -I, batch sizes of 2 and the tensor type, long names."""
    gatk = run_cli("score", "--variant", SMOKE_VCF, "--input", SMOKE_BAM, "--output",
                   tmp_path / "gatk.vcf", "--reference", SMOKE_REF, "--inference-batch-size",
                   "2", "--transfer-batch-size", "2", "--tensor-type", "read_tensor",
                   "--add-output-vcf-command-line", "false",
                   "-L", "chr20:10000000-10020000")  # fmt: skip
    assert gatk.returncode == 0, gatk.stderr
    run_cli("score", "-V", SMOKE_VCF, "-I", SMOKE_BAM, "-R", SMOKE_REF, "--tensor-type",
            "read_tensor", "-L", "chr20:10000000-10020000", "-O", tmp_path / "canonical.vcf",
            check=True)  # fmt: skip
    same_output(tmp_path / "gatk.vcf", tmp_path / "canonical.vcf")


@pytest.mark.parametrize(
    ("extra", "canonical"),
    [
        ([], []),
        (
            [
                "-indel-tranche",
                "99.0",
                "-snp-tranche",
                "99.5",
                "--invalidate-previous-filters",
                "true",
            ],
            ["--indel-tranche", "99.0", "--snp-tranche", "99.5", "--invalidate-previous-filters"],
        ),
        (
            [
                "-snp-tranche",
                "95.0",
                "-snp-tranche",
                "99.0",
                "-snp-tranche",
                "99.9",
                "-indel-tranche",
                "95.0",
                "-indel-tranche",
                "99.0",
                "-indel-tranche",
                "99.9",
                "--invalidate-previous-filters",
                "true",
            ],
            [
                "--snp-tranche",
                "95.0",
                "99.0",
                "99.9",
                "--indel-tranche",
                "95.0",
                "99.0",
                "99.9",
                "--invalidate-previous-filters",
            ],
        ),
        (
            ["-snp-tranche", "99.0", "-indel-tranche", "99.0"],
            ["--snp-tranche", "99.0", "--indel-tranche", "99.0"],
        ),
    ],
    ids=["defaults", "99 99.5", "three each", "with old filters"],
)
def test_gatks_integration_test_filter_arguments(tmp_path, extra, canonical):
    truth = SMOKE / "giab_truth.vcf.gz"
    gatk = run_cli("filter", "--variant", GOLDEN_2D, "--resource", truth, "--resource", truth,
                   "--output", tmp_path / "gatk.vcf", "--info-key", "CNN_2D",
                   "--add-output-vcf-command-line", "false", *extra)  # fmt: skip
    assert gatk.returncode == 0, gatk.stderr
    run_cli("filter", "-V", GOLDEN_2D, "--resource", truth, "--resource", truth, "-O",
            tmp_path / "canonical.vcf", *canonical, check=True)  # fmt: skip
    same_output(tmp_path / "gatk.vcf", tmp_path / "canonical.vcf")


def test_list_files_expand_as_gatk_expands_them(tmp_path):
    """GATK's parser reads a collection argument's value ending in .list or .args as the file's
    values, one per line (blank lines and # lines skipped): `-I bams.list` and a tranche list
    were refused ("not a readable BAM/CRAM file", "invalid float value"). -L keeps reading a
    .list as an interval file."""
    truth = SMOKE / "giab_truth.vcf.gz"
    bams, tranches, intervals = (tmp_path / n for n in ("bams.list", "t.args", "i.list"))
    bams.write_text(f"# the sample\n\n  {SMOKE_BAM}  \n")
    tranches.write_text("99.0\n# and\n95.0\n")
    intervals.write_text("chr20:10000000-10004000\n")
    common = ["score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--tensor-type", "read_tensor",
              "-L", intervals, "--add-output-vcf-command-line", "false"]  # fmt: skip
    run_cli(*common, "-I", bams, "-O", tmp_path / "listed.vcf", check=True)
    run_cli(*common, "-I", SMOKE_BAM, "-O", tmp_path / "given.vcf", check=True)
    assert data_lines(tmp_path / "listed.vcf") == data_lines(tmp_path / "given.vcf")
    assert len(data_lines(tmp_path / "given.vcf")) > 20  # -L read as intervals, not expanded
    run_cli("filter", "-V", tmp_path / "given.vcf", "--resource", truth, "-O",
            tmp_path / "l.vcf", "--snp-tranche", tranches, check=True)  # fmt: skip
    run_cli("filter", "-V", tmp_path / "given.vcf", "--resource", truth, "-O",
            tmp_path / "g.vcf", "--snp-tranche", "99.0", "95.0", check=True)  # fmt: skip
    assert data_lines(tmp_path / "l.vcf") == data_lines(tmp_path / "g.vcf")
    assert any("SNP_Tranche_95.00_99.00" in line for line in header_lines(tmp_path / "l.vcf"))
    tranches.write_text("99.0\nninety\n")
    bad = run_cli("filter", "-V", tmp_path / "given.vcf", "--resource", truth, "-O",
                  tmp_path / "b.vcf", "--snp-tranche", tranches)  # fmt: skip
    assert bad.returncode == 2 and f"{tranches}: line 2:" in bad.stderr, bad.stderr
    assert not (tmp_path / "b.vcf").exists()


@pytest.mark.parametrize(
    ("args", "note"),
    [
        (["--disable-avx-check", "true"], "--disable-avx-check has no effect here"),
        (["--enable-journal"], "--enable-journal has no effect here"),
        (["--keep-temp-file", "true"], "--keep-temp-file has no effect here"),
        (["--python-profile", "profile.txt"], "--python-profile has no effect here"),
        (["--verbosity", "INFO"], "--verbosity has no effect here"),
        (["-imr", "OVERLAPPING_ONLY"], "-imr has no effect here"),
    ],
)
def test_gatk_settings_without_a_meaning_here_are_noted(tmp_path, args, note):
    result = run_cli("score", *_one_d("-L", "20:60000-100000", "-O", tmp_path / "x.vcf", *args))
    assert result.returncode == 0, result.stderr
    assert sum(line.startswith("cnnscore: note:") for line in result.stderr.splitlines()) == 1
    assert note in result.stderr


@pytest.mark.parametrize(
    "flag", ["-O", "--tensor-type", "--threads", "--add-output-vcf-command-line"]
)
def test_a_one_value_setting_given_twice_is_refused(tmp_path, flag):
    """As GATK's parser: argparse would keep the last value silently (-O a -O b writes b)."""
    value = {"-O": str(tmp_path / "y.vcf"), "--tensor-type": "reference", "--threads": "1",
             "--add-output-vcf-command-line": "false"}[flag]  # fmt: skip
    result = run_cli("score", *_one_d("-O", tmp_path / "x.vcf", flag, value, flag, value))
    assert result.returncode == 2
    assert result.stderr == (  # one line, as every error (the usage text is --help's)
        f"cnnscore: error: cnnscore score: {flag}: given more than once (one value only) "
        "(see cnnscore score --help)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_gatk_setting_that_cannot_be_honoured_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("score", *_one_d("-O", out / "x.vcf", "--output-tensor-dir", tmp_path))
    assert result.returncode == 1
    (error,) = [line for line in result.stderr.splitlines() if "error" in line]
    assert error.startswith("cnnscore: error: --output-tensor-dir: score saves no tensors")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("engine_args", "canonical_args"),
    [
        (["-L", "20:70000-80000", "-ip", "5000"], ["-L", "20:65000-85000"]),
        (
            ["-L", "20:61000-200000", "-XL", "20:100000-150000"],
            ["-L", "20:61000-99999", "-L", "20:150001-200000"],
        ),
        (
            [
                "-L",
                "20:61000-200000",
                "-L",
                "20:150000-300000",
                "--interval-set-rule",
                "INTERSECTION",
            ],
            ["-L", "20:150000-200000"],
        ),
        (
            ["-L", "20:61000-200000", "-L", "20:150000-300000", "-isr", "INTERSECTION"],
            ["-L", "20:150000-200000"],
        ),
        (
            ["-L", "20:61000-200000", "-XL", "20:100000-150000", "-ixp", "1000"],
            ["-L", "20:61000-98999", "-L", "20:151001-200000"],
        ),
        (["-L", GATK_1D / "input.hc_vqsr.vcf.gz"], []),  # every record overlaps itself
    ],
    ids=["padding", "exclusion", "intersection", "-isr", "exclusion padding", "a VCF as -L"],
)
def test_gatks_engine_interval_arguments_are_honoured(tmp_path, engine_args, canonical_args):
    gatk = run_cli("score", *_one_d(*engine_args, "-O", tmp_path / "gatk.vcf"), check=True)
    run_cli("score", *_one_d(*canonical_args, "-O", tmp_path / "canonical.vcf"), check=True)
    assert gatk.returncode == 0
    same_output(tmp_path / "gatk.vcf", tmp_path / "canonical.vcf")
    assert len(data_lines(tmp_path / "canonical.vcf")) > 3


# ------------------------------------------------- GATK's parser (Barclay 5.0.0) word by word


def _parse(*argv) -> tuple:
    """What the command line fills, in process: the options and every note the run prints."""
    args = build_parser().parse_args([str(a) for a in argv])
    command = command_of(args)
    notes = parse_notes(args) + gatk_engine_notes(command, args)
    options, option_notes = options_from(command.options, args)
    return options, notes + option_notes


def _refused(capsys, *argv) -> str:
    """The one usage line a command line stops with (exit status 2)."""
    with pytest.raises(SystemExit) as exit_:
        _parse(*argv)
    assert exit_.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    return line


_FILTER = ("filter", "-V", "in.vcf.gz", "--resource", "truth.vcf.gz", "-O", "out.vcf.gz")
_SCORE = ("score", "-V", "in.vcf.gz", "-R", "ref.fa", "-O", "out.vcf.gz")


def test_tagged_arguments_are_read_without_their_tags(tmp_path, capsys):
    """Barclay takes `--NAME:tag,key=value VALUE` on path arguments (GATKPath, FeatureInput),
    and these tools ignore the tags: the VQSR habit `--resource:hapmap,...,prior=15.0 FILE` was
    refused as "the following arguments are required: --resource", `-I:normal` as unrecognized."""
    tagged, notes = _parse("filter", "--variant:scored", "in.vcf.gz",
                           "--resource:hapmap,known=false,training=true,truth=true,prior=15.0",
                           "hapmap.vcf.gz", "-resource:mills", "mills.vcf.gz", "-O:out",
                           "out.vcf.gz")  # fmt: skip
    assert (tagged.variants, tagged.resources, tagged.output) == (
        "in.vcf.gz", ("hapmap.vcf.gz", "mills.vcf.gz"), "out.vcf.gz")  # fmt: skip
    (note,) = notes
    assert note.startswith("cnnscore: note: the tags of --variant:scored, --resource:hapmap")
    assert note.endswith("are ignored, as FilterVariantTranches ignores them")
    score, notes = _parse("score", "-V:x", "in.vcf.gz", "-R:ref", "r.fa", "-O", "o.vcf",
                          "-I:normal", "a.bam", "--input:tumour", "b.bam", "--read-index:n",
                          "a.bai", "--read-index", "b.bai")  # fmt: skip
    assert score.reads == ("a.bam##idx##a.bai", "b.bam##idx##b.bai") and len(notes) == 1
    # a flag GATK takes no tags on (a String, a number) is refused, naming the tagged word
    line = _refused(capsys, *_SCORE, "--architecture:x", "a.json")
    assert "--architecture:x: --architecture takes no tags" in line
    assert "-L:x: -L takes no tags" in _refused(capsys, *_SCORE, "-L:x", "chr20")
    assert "needs a tag and then a value" in _refused(capsys, *_FILTER, "--resource:x")
    # and the tagged line writes what the plain one writes
    truth = SMOKE / "giab_truth.vcf.gz"
    run_cli("filter", "-V:scored", GOLDEN_2D, "--resource:giab,known=false,training=true,"
            "truth=true,prior=15.0", truth, "-O", tmp_path / "tagged.vcf", check=True)  # fmt: skip
    run_cli("filter", "-V", GOLDEN_2D, "--resource", truth, "-O", tmp_path / "plain.vcf",
            check=True)  # fmt: skip
    same_output(tmp_path / "tagged.vcf", tmp_path / "plain.vcf")


def test_every_short_name_is_taken_with_two_dashes(capsys):
    """jopt-simple looks `--X` up among all of an argument's names, short ones too: `--V`,
    `--OVI false` and `--ip 100` are GATK; `--V x` was refused as "-V is required"."""
    one, _ = _parse("score", "-V", "v.vcf", "-R", "r.fa", "-O", "o.vcf.gz", "-I", "a.bam",
                    "-L", "chr20", "-XL", "chr20:1-5", "-ip", "100", "-ixp", "3", "-isr",
                    "INTERSECTION", "-OVI", "false")  # fmt: skip
    two, _ = _parse("score", "--V", "v.vcf", "--R", "r.fa", "--O", "o.vcf.gz", "--I", "a.bam",
                    "--L", "chr20", "--XL", "chr20:1-5", "--ip", "100", "--ixp", "3", "--isr",
                    "INTERSECTION", "--OVI", "false")  # fmt: skip
    assert one == two and two.create_index is False and two.interval_padding == 100
    assert _parse("filter", "--V", "v.vcf", "--resource", "r.vcf", "--O", "o.vcf")[0].variants
    # an unknown word is the mistake to name, not the required setting it hid
    line = _refused(capsys, "filter", "--varaint", "v.vcf", "--resource", "r.vcf", "-O", "o.vcf")
    assert "unrecognized arguments: --varaint v.vcf" in line
    line = _refused(capsys, "filter", "--resource", "r.vcf", "-O", "o.vcf")
    assert "the following arguments are required: -V/--variant" in line


def test_arguments_files_are_read_into_the_command_line(tmp_path, capsys):
    """Barclay's --arguments_file: each line not blank and not starting with # split on
    whitespace, put before the words given, each file read once, repeatable; it was refused as
    "the following arguments are required" (what the file held)."""
    first, second = tmp_path / "first.args", tmp_path / "second.args"
    first.write_text(f"-V in.vcf.gz\n# a comment\n\n --resource  a.vcf.gz\n"
                     f"--arguments_file {second}\n")  # fmt: skip
    second.write_text("--snp-tranche 99.0\t95.0\n-resource b.vcf.gz\n")
    options, _ = _parse("filter", "--arguments_file", first, "-O", "out.vcf", "--arguments_file",
                        first, f"--arguments_file={second}")  # fmt: skip
    inline, _ = _parse("filter", "-V", "in.vcf.gz", "--resource", "a.vcf.gz", "--snp-tranche",
                       "99.0", "95.0", "--resource", "b.vcf.gz", "-O", "out.vcf")  # fmt: skip
    assert options == inline
    line = _refused(capsys, "score", "--arguments_file", tmp_path / "none.args")
    assert line.startswith(f"cnnscore: error: cnnscore score: --arguments_file {tmp_path}/none")
    assert "cannot read it (No such file or directory)" in line


def test_null_is_read_as_gatks_parser_reads_it(capsys):
    """Barclay's `null`: an optional path or string unset (its default), a repeated setting
    cleared of what came before (and its default), refused for a required setting and for a
    number, true/false or choice ("not a nullable argument"). It was read as a file or interval
    named "null"."""
    options, notes = _parse(*_SCORE, "-L", "null", "--architecture", "null", "--read-index",
                            "null", "--tmp-dir", "null", "--python-profile", "null",
                            "-I", "a.bam", "-I", "null", "-I", "b.bam")  # fmt: skip
    assert options.intervals == () and options.architecture is None and options.reads == (
        "b.bam",)  # fmt: skip
    assert options.tmp_dir is None and notes == []  # null: not given, so no note either
    tranches, _ = _parse(*_FILTER, "--snp-tranche", "90", "--snp-tranche", "null",
                         "--snp-tranche", "99.9", "--indel-tranche", "null")  # fmt: skip
    assert (tranches.snp_tranches, tranches.indel_tranches) == ((99.9,), ())
    assert "--resource/-resource: null: a value is required" in _refused(
        capsys, "filter", "-V", "v", "--resource", "null", "-O", "o")  # fmt: skip
    assert "-V/--variant" in _refused(capsys, "filter", "-V", "null", "--resource", "r", "-O", "o")
    for flag, value in (("--threads", "null"), ("--tensor-type", "null"), ("--QUIET", "null"),
                        ("-ip", "null"), ("--add-output-vcf-command-line", "null")):  # fmt: skip
        assert "null: not a nullable argument" in _refused(capsys, *_SCORE, flag, value), flag
    # GATK sets a string with a default of its own to null, then stops on it: not the default
    with pytest.raises(InputError, match="null: GATK would run with no value for it"):
        _parse(*_FILTER, "--info-key", "null")


@pytest.mark.parametrize("command", ["score", "filter"])
def test_gatks_version_and_show_hidden_arguments(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("cnnscore ")
    # --showHidden changes only what GATK's help lists: the tool still runs
    words = _FILTER[1:] if command == "filter" else _SCORE[1:]
    for switch in (["--showHidden"], ["--showHidden", "false"]):
        assert _parse(command, *words, *switch)[1] == []
    # the help shows the required settings as required (they are unmarked while parsing), and
    # the GATK-only settings under one heading
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "-h"])
    text = capsys.readouterr().out
    assert exit_.value.code == 0 and f"usage: cnnscore {command} [-h] -V V " in text
    assert text.count(GATK_ONLY_GROUP + ":") == 1


def test_gatks_tool_names_and_java_options_are_taken(tmp_path):
    """`gatk --java-options "-Xmx4g" CNNScoreVariants ARGS` runs as `cnnscore ...` with the
    same words: the tool names are the subcommands' other names, and --java-options (the
    launcher's, before or after the tool's name) is dropped with a note."""
    gatk = run_cli("--java-options", "-Xmx4g", "CNNScoreVariants",
                   *_one_d("-L", "20:60000-100000", "-O", tmp_path / "gatk.vcf",
                           "--java-options", "-Xmx4g -XX:+UseSerialGC"))  # fmt: skip
    assert gatk.returncode == 0, gatk.stderr
    assert gatk.stderr.count("cnnscore: note: --java-options has no effect here") == 1
    run_cli("score", *_one_d("-L", "20:60000-100000", "-O", tmp_path / "plain.vcf"), check=True)
    same_output(tmp_path / "gatk.vcf", tmp_path / "plain.vcf")
    # GATK's WDL command block with nothing in between: `gatk` is `cnnscore`
    values = {"command_mem": 4000, "input_vcf": GOLDEN_2D, "output_vcf": "gatk.vcf.gz",
              "resources": [SMOKE / "giab_truth.vcf.gz"], "info_key": "CNN_2D",
              "snp_tranches": "", "indel_tranches": "", "extra_args": None}  # fmt: skip
    shim = f'gatk() {{ "{sys.executable}" -m cnnscore "$@"; }}\n'
    script = shim + render_draft2(GATK_FILTER_TASK, values)
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, timeout=900)  # fmt: skip
    assert result.returncode == 0, result.stderr
    run_cli("filter", "-V", GOLDEN_2D, "--resource", SMOKE / "giab_truth.vcf.gz", "-O",
            tmp_path / "canonical.vcf.gz", check=True)  # fmt: skip
    same_output(tmp_path / "gatk.vcf.gz", tmp_path / "canonical.vcf.gz")


_NO_EFFECT = [
    ("--use-jdk-deflater",), ("-jdk-inflater", "true"), ("-CPB", "0"), ("-CIPB", "1"),
    ("-DBIC",), ("-OBI", "false"), ("--create-output-bam-md5",),
    ("--add-output-sam-program-record", "false"), ("--disable-sequence-dictionary-validation",),
    ("--gatk-config-file", "gatk.properties"), ("--max-variants-per-shard", "0"),
]  # fmt: skip


def test_gatks_engine_arguments_without_an_effect_are_noted(tmp_path):
    """GATK's engine arguments that do not change these tools' output (Broad WDLs pass -DBIC,
    -CPB 0, the JDK deflater) run with one note each; they were unrecognized arguments."""
    engine = [word for words in _NO_EFFECT for word in words]
    gatk = run_cli("score", *_one_d("-L", "20:60000-100000", "-O", tmp_path / "gatk.vcf",
                                    *engine))  # fmt: skip
    assert gatk.returncode == 0, gatk.stderr
    notes = [line for line in gatk.stderr.splitlines() if line.startswith("cnnscore: note:")]
    assert len(notes) == len(_NO_EFFECT), notes
    for flag in ("--use-jdk-deflater", "--use-jdk-inflater", "--cloud-prefetch-buffer",
                 "--disable-bam-index-caching", "--max-variants-per-shard"):  # fmt: skip
        assert f"cnnscore: note: {flag} has no effect here: " in gatk.stderr, flag
    assert "score refuses a VCF contig" in gatk.stderr  # the checks stay on, and say so
    run_cli("score", *_one_d("-L", "20:60000-100000", "-O", tmp_path / "plain.vcf"), check=True)
    same_output(tmp_path / "gatk.vcf", tmp_path / "plain.vcf")
    _, notes = _parse(*_FILTER, *engine)  # and filter takes them alike
    assert len(notes) == len(_NO_EFFECT)


_READ_WORDS = ("-RF", "-DF", "--disable-tool-default-read-filters", "-VS")


@pytest.mark.parametrize(
    "words",
    [("--sites-only-vcf-output",), ("-OVM", "true"), ("-RF", "MappingQualityReadFilter"),
     ("-DF", "WellformedReadFilter"), ("--disable-tool-default-read-filters",),
     ("-VS", "LENIENT"), ("-LE",), ("--sequence-dictionary", "ref.dict")],
    ids=lambda words: words[0],
)  # fmt: skip
def test_gatks_engine_arguments_that_change_the_output_are_refused(tmp_path, words):
    if words[0] in _READ_WORDS:  # they change the reads of a 2D run only (below)
        words = (*words, "-I", SMOKE / "NA12878.chr20_10M_10.1M.bam", "--tensor-type",
                 "read_tensor")  # fmt: skip
    result = run_cli("score", *_one_d("-O", tmp_path / "x.vcf", *words))
    assert result.returncode == 1
    (error,) = [line for line in result.stderr.splitlines() if "error" in line]
    pattern = r"cnnscore: error: --[a-z0-9-]+: a GATK engine argument cnnscore does not implement: "
    assert re.match(pattern, error), error
    assert list(tmp_path.iterdir()) == []
    assert _parse(*_FILTER, "--lenient", "false", "-OVM", "false", "-VS", "SILENT")[1] == []
    # GATK's defaults: given as such, they change nothing


def test_read_arguments_are_noted_where_no_reads_are_read(tmp_path):
    """FilterVariantTranches takes GATK's reads, read filters and read validation, as every GATK
    tool does, and they change nothing there: noted, the output the same (they were refused as
    if they changed scores; -I and --read-index as unknown arguments). So does a 1D score run,
    which reads no reads (GATK command-line review: a wrapper adding -RF to every command
    stopped); a 2D one still refuses the filters."""
    bam = SMOKE / "NA12878.chr20_10M_10.1M.bam"
    words = ["-RF", "MappingQualityReadFilter", "-DF", "NotDuplicateReadFilter",
             "--disable-tool-default-read-filters", "-VS", "STRICT", "-I", bam,
             "--read-index", f"{bam}.bai"]  # fmt: skip
    truth = SMOKE / "giab_truth.vcf.gz"
    gatk = run_cli("FilterVariantTranches", "-V", GOLDEN_2D, "--resource", truth,
                   "-O", tmp_path / "gatk.vcf.gz", *words)  # fmt: skip
    assert gatk.returncode == 0, gatk.stderr
    for flag in ("--read-filter", "--disable-read-filter", "--disable-tool-default-read-filters",
                 "--read-validation-stringency"):  # fmt: skip
        assert f"cnnscore: note: {flag} has no effect here: no reads are read here" in (
            gatk.stderr
        ), gatk.stderr
    for flag in ("-I", "--read-index"):  # filter's own
        assert f"cnnscore: note: {flag} has no effect here: this command reads no reads" in (
            gatk.stderr
        ), gatk.stderr
    run_cli("filter", "-V", GOLDEN_2D, "--resource", truth, "-O", tmp_path / "plain.vcf.gz",
            check=True)  # fmt: skip
    same_output(tmp_path / "gatk.vcf.gz", tmp_path / "plain.vcf.gz")
    with pytest.raises(InputError, match="a read filter would change"):
        _parse(*_SCORE, "-RF", "MappingQualityReadFilter", "-I", bam, "--tensor-type",
               "read_tensor")  # fmt: skip
    with pytest.raises(InputError, match="a read filter would change"):  # a model: may read
        _parse(*_SCORE, "-RF", "MappingQualityReadFilter", "-I", bam, "--model", "small_2d")
    for one_d in ((), ("-I", bam), ("-I", bam, "--tensor-type", "reference")):
        _, notes = _parse(*_SCORE, *one_d, "-RF", "MappingQualityReadFilter", "-VS", "STRICT")
        assert any(note.startswith("cnnscore: note: --read-filter has no effect here") for
                   note in notes), notes  # fmt: skip


@pytest.mark.parametrize(
    ("tool", "ours"), [("CNNVariantWriteTensors", "write-tensors"), ("CNNVariantTrain", "train")]
)
def test_gatks_training_tools_are_named_for_what_they_are_here(capsys, tool, ours):
    """GATK's training tools are write-tensors and train here, with flags and a tensor store of
    their own: GATK's javadoc line stopped with argparse's "invalid choice", naming neither."""
    line = _refused(capsys, "--java-options", "-Xmx4g", tool, "-R", "ref.fa", "-tensor-type",
                    "reference")  # fmt: skip
    assert f"{tool}: GATK's tool is `cnnscore {ours}` here" in line
    assert "docs/TRAINING.md" in line


def test_output_sharding_is_refused(capsys):
    line = _refused(capsys, *_FILTER, "--max-variants-per-shard", "5")
    assert "a nonzero value makes GATK write the output in shards" in line


@pytest.mark.parametrize(
    ("tensor_type", "sizes"),
    [("reference", ("512", "256")), ("read_tensor", ("48", "8"))],
    ids=["1D 512/256 (both 1024 in GATK)", "2D 48/8 (both 64 in GATK)"],
)
def test_batch_sizes_gatk_raises_to_its_floors_run(tmp_path, tensor_type, sizes):
    """GATK raises both batch sizes to 1024 (1D) or 64 (2D) and only then refuses an inference
    batch larger than the transfer batch; cnnscore refused 512/256 and 48/8, which GATK runs."""
    common = ["score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--tensor-type", tensor_type,
              "-L", "chr20:10000000-10010000", "--threads", "1"]  # fmt: skip
    common += ["--model", "cnnscore_compact_1d"] if tensor_type == "reference" else [
        "-I", SMOKE_BAM]  # fmt: skip
    given = run_cli(*common, "--inference-batch-size", sizes[0], "--transfer-batch-size",
                    sizes[1], "-O", tmp_path / "given.vcf")  # fmt: skip
    assert given.returncode == 0, given.stderr
    run_cli(*common, "-O", tmp_path / "default.vcf", check=True)
    same_output(tmp_path / "given.vcf", tmp_path / "default.vcf")
    refused = run_cli(*common, "--inference-batch-size", "2048" if tensor_type == "reference"
                      else "512", "--transfer-batch-size", "1500" if tensor_type == "reference"
                      else "256", "-O", tmp_path / "refused.vcf")  # fmt: skip
    assert refused.returncode == 1 and "exceeds transfer batch" in refused.stderr
    # given alone, above GATK's default transfer batch (after its floors): GATK refuses it too
    # (cnnscore raised the transfer batch to it without a word)
    alone = run_cli(*common, "--inference-batch-size", "2048" if tensor_type == "reference"
                    else "600", "-O", tmp_path / "alone.vcf")  # fmt: skip
    assert alone.returncode == 1 and "exceeds transfer batch" in alone.stderr, alone.stderr
    assert not (tmp_path / "alone.vcf").exists()


@pytest.mark.parametrize("folder", ["", "no/such/folder"], ids=["empty", "missing"])
def test_an_output_tensor_dir_that_does_not_exist_is_noted(tmp_path, folder):
    """GATK's Python writes tensors only into a folder that exists, so `--output-tensor-dir ""`
    (its default) and a missing folder do nothing there; they were refused."""
    result = run_cli("score", *_one_d("-L", "20:60000-100000", "-O", tmp_path / "x.vcf",
                                      "--output-tensor-dir", folder), check=True)  # fmt: skip
    assert "cnnscore: note: --output-tensor-dir has no effect here" in result.stderr
    assert "nothing is written" in result.stderr
