"""Inference backends and the encoding pipeline: same scores as the TensorFlow baseline.

fp32 backends must agree with `tensorflow` within 0.001 on every smoke record (the score text has
three decimals, so a rounding flip of one unit is the most allowed). Reduced precisions are not
GATK-identical; bf16 is held to the tolerance bench/RESULTS.md measured (max |delta| 0.1, the
sign kept on 99% of records).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cnnscore.backends import available_backends, backend_class, cpu
from cnnscore.models.keras_builder import build_keras
from cnnscore.models.spec import load_model_spec
from conftest import (
    GATK_1D,
    MODELS,
    SMALL_2D_HD5,
    SMOKE_REF,
    SMOKE_VCF,
    data_lines,
    header_lines,
    info_scores,
    run_cli,
    small_2d_network,
    smoke_2d_args,
    write_random_weights,
)


def test_builtin_backends_are_registered():
    assert {"tensorflow", "openvino", "onnxruntime"} <= set(available_backends())


@pytest.mark.parametrize("name", ["tensorflow", "openvino", "onnxruntime"])
def test_padded_batches_return_one_row_per_input_in_order(name):
    network, weights = small_2d_network()
    rng = np.random.default_rng(5)
    reads = rng.random((5, 128, 128, 15), dtype=np.float32)
    annotations = rng.normal(30, 10, (5, 7)).astype(np.float32)
    expected = build_keras(network, weights)([reads, annotations], training=False).numpy()
    backend = backend_class(name)(network, weights, batch_size=2, threads=2)
    got = backend.predict([reads, annotations])  # batches of 2, 2, and 1 padded to 2
    assert got.shape == (5, 4)
    np.testing.assert_allclose(got, expected, atol=2e-6)


@pytest.mark.parametrize("name", ["openvino", "onnxruntime"])
def test_fp32_backends_match_tensorflow_on_the_smoke_set(tmp_path, smoke_2d_output, name):
    out = tmp_path / f"{name}.vcf"
    run_cli(
        *smoke_2d_args(
            out,
            "--backend",
            name,
            "--inference-batch-size",
            "64",
            "--metrics-json",
            tmp_path / "m.json",
        ),
        check=True,
    )
    baseline, candidate = info_scores(smoke_2d_output), info_scores(out)
    assert len(candidate) == 252
    assert max(abs(a - b) for a, b in zip(baseline, candidate, strict=True)) <= 0.001 + 1e-9
    assert json.loads((tmp_path / "m.json").read_text())["backend"] == name


def test_int8_is_refused_with_the_measurements_that_rule_it_out(tmp_path):
    """int8 failed the sign-flip gate for small_2d (bench/precision_gate.py): one line says so,
    with the numbers, before any file is read or written."""
    out = tmp_path / "out" / "x.vcf"
    out.parent.mkdir()
    result = run_cli(*smoke_2d_args(out, "--backend", "openvino", "--precision", "int8"))
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("cnnscore: error: --precision: int8 is not offered: ")
    assert "0.37% of score signs" in line and "bench/precision_gate.py" in line
    assert list(out.parent.iterdir()) == []


#: OpenVINO's CPU plugin as on a CPU without avx512_bf16 or AMX: no BF16 among its capabilities
_OPENVINO_WITHOUT_BF16 = """
import openvino

class _Core(openvino.Core):
    def get_property(self, *args):
        value = super().get_property(*args)
        if args[1:] == ("OPTIMIZATION_CAPABILITIES",):
            return [c for c in value if c != "BF16"]
        return value

openvino.Core = _Core
"""

#: the one line README documents for bf16 asked on a CPU without it
BF16_REFUSED = (
    "cnnscore: error: --precision: this CPU has no bf16 support (no AVX512_BF16/AMX): OpenVINO "
    "would silently run fp32; use --precision fp32"
)


def test_bf16_scores_stay_within_its_tolerance_of_fp32_or_are_refused(tmp_path, smoke_2d_output):
    """Where the CPU computes bf16 (avx512_bf16 or AMX): the whole smoke set in bf16 against the
    fp32 baseline (tensorflow) on the same 252 records: max |delta| <= 0.1 (bench/RESULTS.md
    measured 0.084 on 2,000 records for small_2d), the sign the same on at least 99% of the
    records (RESULTS.md: 2 flips in 2,000), and not fp32's scores under bf16's name (some record
    moves by more than the 0.001 fp32 backends may differ by). Elsewhere: refused with README's
    one line, nothing written."""
    out, metrics = tmp_path / "bf16.vcf", tmp_path / "m.json"
    args = smoke_2d_args(out, "--backend", "openvino", "--precision", "bf16",
                         "--metrics-json", metrics)  # fmt: skip
    result = run_cli(*args)
    import openvino as ov  # the CPU plugin's own answer decides, as the backend asks it

    if "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        assert result.returncode == 1
        assert result.stderr.splitlines() == [BF16_REFUSED]
        assert list(tmp_path.iterdir()) == []
        return
    assert result.returncode == 0, result.stderr
    ran = json.loads(metrics.read_text())
    assert ran["effective_precision"] == "bf16"
    # bf16 runs the convolutions directly where the CPU computes in bf16 (auto_convolution)
    assert ran["convolution"] == ("direct" if cpu.has_bf16() else "dft")
    (line,) = [h for h in header_lines(out) if h.startswith("##cnnscoreCommandLine=<ID=score")]
    assert 'Precision="bf16"' in line
    ours, baseline = data_lines(out), data_lines(smoke_2d_output)
    assert [r.split("\t")[:7] for r in ours] == [r.split("\t")[:7] for r in baseline]
    bf16, fp32 = np.array(info_scores(out)), np.array(info_scores(smoke_2d_output))
    assert len(bf16) == 252
    worst = np.abs(bf16 - fp32).max()
    same_sign = ((bf16 < 0) == (fp32 < 0)).mean()
    assert 0.001 < worst <= 0.1, f"bf16 max |delta| {worst} against fp32"
    assert same_sign >= 0.99, f"bf16 keeps fp32's sign on only {same_sign:.2%} of records"


def test_bf16_is_refused_with_one_line_where_openvino_has_no_bf16(tmp_path):
    """The refusal, on any CPU: OpenVINO made to report no BF16 capability, as on AVX2-only
    CPUs and AVX-512 ones without avx512_bf16."""
    out = tmp_path / "out" / "x.vcf"
    out.parent.mkdir()
    args = smoke_2d_args(out, "--backend", "openvino", "--precision", "bf16",
                         "-L", "chr20:10000000-10010000")  # fmt: skip
    result = run_cli(*args, prelude=_OPENVINO_WITHOUT_BF16)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [BF16_REFUSED]
    assert list(out.parent.iterdir()) == []


def _cpu_runs_bf16() -> bool:
    import openvino

    return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


@pytest.mark.parametrize(
    "name, precision",
    [("tensorflow", "fp32"), ("openvino", "fp32"), ("onnxruntime", "fp32"), ("openvino", "bf16")],
)
def test_each_backend_runs_the_precision_asked_for(name, precision):
    """Read back from the runtime: OpenVINO would pick bf16 by itself on bf16 CPUs. Where the CPU
    has no bf16 (AVX2-only, AVX-512 without avx512_bf16), asking for it is refused instead."""
    from cnnscore.errors import InputError

    network, weights = small_2d_network()
    if precision == "bf16" and not _cpu_runs_bf16():
        with pytest.raises(InputError, match="this CPU has no bf16 support"):
            backend_class(name)(network, weights, batch_size=2, threads=2, precision=precision)
        return
    backend = backend_class(name)(network, weights, batch_size=2, threads=2, precision=precision)
    assert backend.effective_precision() == precision


@pytest.mark.parametrize("cached", [False, True], ids=["compiled", "read-back"])
def test_openvino_models_are_compiled_without_snippets(tmp_path, cached):
    """The CPU plugin wraps each of small_2d's lone elementwise ops in a generated-code
    subgraph unless told not to, ~20 ms of every model's compilation for no speed: the
    executed graph holds plain Eltwise nodes, compiled or read back from the compiled cache
    (whose import must be given the setting too)."""
    network, weights = small_2d_network()
    openvino = backend_class("openvino")
    for _ in range(2 if cached else 1):
        backend = openvino(network, weights, batch_size=2, threads=2, compiled_cache=str(tmp_path))
    assert backend.compiled_cache == ("hit" if cached else "stored")
    layer_types = {
        op.get_rt_info()["layerType"].astype(str)
        for op in backend._compiled.get_runtime_model().get_ordered_ops()
    }
    assert "Eltwise" in layer_types and "Subgraph" not in layer_types


def _thread_masks() -> set[str]:
    """The CPU affinity (Cpus_allowed_list) of each thread of this process."""
    masks = set()
    for status in Path(f"/proc/{os.getpid()}/task").glob("*/status"):
        for line in status.read_text().splitlines():
            if line.startswith("Cpus_allowed_list:"):
                masks.add(line.split()[1])
    return masks


@pytest.mark.parametrize("cached", [False, True], ids=["compiled", "read-back"])
def test_openvino_leaves_its_threads_where_the_kernel_puts_them(tmp_path, cached):
    """OpenVINO pins each stream's thread to the next core of the affinity mask, from its first,
    unless told not to: processes sharing a mask (shards under a CPU quota, or side by side) then
    all ran on the first cores (session 31's review: two 1-thread processes on two cores, both
    pinned to core 0). Its threads keep the process's mask, compiled or read back."""
    network, weights = small_2d_network()
    openvino = backend_class("openvino")
    for _ in range(2 if cached else 1):
        backend = openvino(network, weights, batch_size=2, threads=1, compiled_cache=str(tmp_path))
    assert backend._compiled.get_property("ENABLE_CPU_PINNING") is False
    if len(os.sched_getaffinity(0)) > 1:  # on one core, a pinned thread has the process's mask
        assert len(_thread_masks()) == 1, _thread_masks()


#: /proc/cpuinfo fixtures: (the text, the sets every record must name, in this order)
CPUINFO = {
    # AMD EPYC 7B12 (Zen 2): AVX2, no AVX-512, no VNNI
    "epyc-avx2": (
        "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B12\n"
        "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 "
        "clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc "
        "rep_good nopl nonstop_tsc cpuid pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe "
        "popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm sse4a misalignsse "
        "3dnowprefetch topoext ssbd ibrs ibpb stibp fsgsbase bmi1 avx2 smep bmi2 rdseed adx smap "
        "clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 clzero arat npt umip rdpid\n"
        "bugs\t\t: sysret_ss_attrs spectre_v1 spectre_v2\n\n"
        # a second processor listing other flags: only the first is read
        "processor\t: 1\nflags\t\t: fpu avx2 avx512f avx512_bf16\n",
        ("avx2",),
    ),
    # Intel Sapphire Rapids: AVX-512 with bf16 and AMX, and the 256-bit avx_vnni; near-misses
    # (avx512_fp16, avx512_vp2intersect, avx512vl, amx_fp16) are not sets the records name
    "sapphire-rapids": (
        "processor\t: 0\nvendor_id\t: GenuineIntel\n"
        "model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz\n"
        "flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma bmi1 avx2 bmi2 avx_vnni "
        "avx512_bf16 avx512f avx512dq avx512cd avx512bw avx512vl avx512ifma avx512vbmi "
        "avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq "
        "avx512_vp2intersect amx_bf16 avx512_fp16 amx_tile amx_int8 amx_fp16\n",
        (
            "avx2",
            "avx_vnni",
            "avx512f",
            "avx512_vnni",
            "avx512_bf16",
            "amx_tile",
            "amx_bf16",
            "amx_int8",
        ),  # fmt: skip
    ),
}


#: the model each fixture names, as the metrics record it
CPU_MODELS = {"epyc-avx2": "AMD EPYC 7B12",
              "sapphire-rapids": "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz"}  # fmt: skip


def _cpuinfo_served(text: str) -> str:
    """A prelude that makes cnnscore.backends.cpu read ``text`` as /proc/cpuinfo.

    cpu.py has no parameter for the file: it calls ``open("/proc/cpuinfo")``, so a module-level
    ``open`` in cpu's namespace (looked up before the builtin) serves the fixture. Should cpu.py
    read the file another way, the real flags come through and the exact checks below fail."""
    return (
        "import builtins, io\n"
        "from cnnscore.backends import cpu\n"
        "def _open(path, *args, **kwargs):\n"
        "    if str(path) == '/proc/cpuinfo':\n"
        f"        return io.StringIO({text!r})\n"
        "    return builtins.open(path, *args, **kwargs)\n"
        "cpu.open = _open\n"
    )


@pytest.mark.parametrize("machine", sorted(CPUINFO))
def test_cpu_flags_fixture_is_parsed_to_the_named_sets(machine, monkeypatch):
    """What cpu.py makes of each fixture served as /proc/cpuinfo (the seam _cpuinfo_served
    uses): the sets, their one-line description and whether bf16 is native."""
    import io

    text, sets = CPUINFO[machine]
    real_open = open

    def served(path, *args, **kwargs):
        if str(path) == "/proc/cpuinfo":
            return io.StringIO(text)
        return real_open(path, *args, **kwargs)

    cpu.instruction_sets.cache_clear()
    cpu.model_name.cache_clear()
    monkeypatch.setattr(cpu, "open", served, raising=False)
    try:
        assert cpu.instruction_sets() == sets
        assert cpu.describe() == " ".join(sets)
        assert cpu.has_bf16() is (machine == "sapphire-rapids")
        assert cpu.model_name() == CPU_MODELS[machine]
    finally:
        monkeypatch.undo()
        cpu.instruction_sets.cache_clear()  # the next caller reads the real CPU again
        cpu.model_name.cache_clear()


@pytest.mark.parametrize("machine", sorted(CPUINFO))
def test_metrics_and_header_name_the_effective_precision_and_cpu(tmp_path, machine):
    """The CPU's sets as the metrics JSON and the VCF header record them, for a /proc/cpuinfo
    of known flags (an AVX2-only EPYC, an AVX-512 + bf16 + AMX Xeon), and its model in the
    metrics (two machines' throughputs are then told apart: cnnscore compare warns)."""
    text, sets = CPUINFO[machine]
    out, metrics = tmp_path / "o.vcf", tmp_path / "m.json"
    region = ("-L", "chr20:10000000-10010000", "--metrics-json", metrics)
    args = smoke_2d_args(out, "--backend", "openvino", *region)
    result = run_cli(*args, prelude=_cpuinfo_served(text))
    assert result.returncode == 0, result.stderr
    data = json.loads(metrics.read_text())
    assert data["precision"] == data["effective_precision"] == "fp32"
    assert data["cpu_instruction_sets"] == list(sets)
    assert data["cpu_model"] == CPU_MODELS[machine]
    (line,) = [h for h in header_lines(out) if h.startswith("##cnnscoreCommandLine=<ID=score")]
    assert f'Precision="fp32",CPU="{" ".join(sets)}",' in line


@pytest.mark.parametrize(
    ("variable", "value", "runs"),
    [("ONEDNN_DEFAULT_FPMATH_MODE", "BF16", "bf16"), ("TF_SET_ONEDNN_FPMATH_MODE", "BF16", "bf16"),
     ("ONEDNN_DEFAULT_FPMATH_MODE", "f16", "fp16")],
)  # fmt: skip
def test_a_runtime_that_lowers_precision_by_itself_is_refused(tmp_path, monkeypatch, variable,
                                                              value, runs):  # fmt: skip
    """oneDNN told to compute below float32, by its own variable or TensorFlow's, makes
    TensorFlow's fp32 not fp32: refused, nothing left (TensorFlow's variable went unseen)."""
    monkeypatch.setenv(variable, value)
    result = run_cli(*smoke_2d_args(tmp_path / "x.vcf", "-L", "chr20:10000000-10010000"))
    assert result.returncode == 1
    assert f"backend tensorflow runs {runs} on this CPU" in result.stderr
    assert "not the fp32 asked for" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_bf16_under_an_isa_cap_below_the_cpus_is_one_line(tmp_path, monkeypatch):
    """oneDNN's ONEDNN_MAX_CPU_ISA caps OpenVINO's kernels but not its list of capabilities, so
    bf16 under an AVX2 cap passed the capability check on a bf16 CPU and ended in a traceback
    (no bf16 pooling kernel under AVX2): one line naming the cap; on a CPU without bf16, the usual
    refusal. Nothing written either way."""
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("CNNSCORE_COMPILED_CACHE", "off")
    args = smoke_2d_args(tmp_path / "x.vcf", "--backend", "openvino", "--precision", "bf16")
    result = run_cli(*args)
    assert result.returncode == 1
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("cnnscore: error")]
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in error or error == BF16_REFUSED, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_cpu_flags_are_read_from_cpuinfo():
    text = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile\n"
    assert cpu.parse_cpuinfo_flags(text) == {"fpu", "sse", "avx2", "avx512f", "avx512_bf16",
                                             "amx_tile"}  # fmt: skip
    # this machine: the first flags line of /proc/cpuinfo, read here, against what cpu.py reports
    with open("/proc/cpuinfo") as handle:
        first = next(line for line in handle if line.split(":")[0].strip() == "flags")
    here = set(first.split(":", 1)[1].split())
    assert cpu.instruction_sets() == tuple(name for name in cpu.RELEVANT if name in here)
    assert cpu.has_bf16() == bool(here & {"avx512_bf16", "amx_bf16"})
    with open("/proc/cpuinfo") as handle:
        models = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
    assert cpu.model_name() == (" ".join(models[0].split()) if models else None)


def test_the_cpu_model_is_the_first_processors_or_none():
    text = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R)  CPU @ 2.20GHz\n\nmodel name\t: Other\n"
    assert cpu.parse_cpuinfo_model(text) == "Intel(R) Xeon(R) CPU @ 2.20GHz"
    arm = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd\nCPU part\t: 0xd0c\n"
    assert cpu.parse_cpuinfo_model(arm) is None
    assert cpu.parse_cpuinfo_model("model name\t:  \n") is None


def test_vex_vnni_is_named_where_avx512_is_absent():
    """int8 speed on AVX2-only servers with avx_vnni (Intel E-cores) must be traceable too."""
    flags = cpu.parse_cpuinfo_flags("flags\t\t: fpu avx2 avx_vnni fma\n")
    assert cpu.relevant_sets(flags) == ("avx2", "avx_vnni")
    zen5 = "flags\t\t: avx2 avx_vnni avx512f avx512_vnni avx512_bf16 avx512_vp2intersect\n"
    assert cpu.relevant_sets(cpu.parse_cpuinfo_flags(zen5)) == (
        "avx2", "avx_vnni", "avx512f", "avx512_vnni", "avx512_bf16")  # fmt: skip


def test_bf16_is_native_with_avx512_bf16_or_amx_only(monkeypatch):
    for sets, native in ((("avx2", "avx512f", "avx512_vnni"), False), (("avx2",), False),
                         (("avx2", "avx512f", "avx512_bf16"), True),
                         (("avx2", "amx_tile", "amx_bf16", "amx_int8"), True)):  # fmt: skip
        monkeypatch.setattr(cpu, "instruction_sets", lambda sets=sets: sets)
        assert cpu.has_bf16() is native, sets


def test_openvino_evaluates_convolutions_directly_only_for_bf16(monkeypatch):
    """--convolution auto: the DFT for fp32 on every CPU; direct for bf16, which runs where the
    CPU has bf16 instructions (bench/RESULTS.md: 2.7x the DFT with AMX, session 19; 1.07x with
    avx512_bf16 alone, session 24). Other backends evaluate convolutions one way only."""
    from cnnscore.backends import backend_class

    openvino = backend_class("openvino")
    for sets, bf16 in ((("avx2",), "dft"), (("avx2", "avx512f", "avx512_bf16"), "direct"),
                       (("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"), "direct"),
                       (("avx2", "amx_tile", "amx_bf16", "amx_int8"), "direct")):  # fmt: skip
        monkeypatch.setattr(cpu, "instruction_sets", lambda sets=sets: sets)
        assert (openvino.auto_convolution("fp32"), openvino.auto_convolution("bf16")) == (
            "dft", bf16), sets  # fmt: skip
    for name in ("tensorflow", "onnxruntime"):
        assert backend_class(name).auto_convolution("fp32") == "direct"


def test_reduced_precision_is_refused_by_fp32_only_backends(tmp_path):
    result = run_cli(*smoke_2d_args(tmp_path / "x.vcf", "--precision", "bf16"))
    assert result.returncode == 1
    assert "backend tensorflow runs fp32, not bf16" in result.stderr


@pytest.fixture(scope="module")
def random_1d_weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("w1d")
    return write_random_weights(MODELS / "1d_cnn_mix_train_full_bn.json", folder / "w.hd5", seed=9)


@pytest.mark.parametrize("workers", ["0", "3"])
def test_encoder_processes_keep_order_and_scores(tmp_path, random_1d_weights, workers):
    common = ["score", "-V", GATK_1D / "input.hc_vqsr.vcf.gz",
              "-R", GATK_1D / "ref.b37.20_1-1M.fa.gz",
              "--architecture", MODELS / "1d_cnn_mix_train_full_bn.json",
              "--weights", random_1d_weights, "--inference-batch-size", "16",
              "--reservoir-scope", "site"]  # fmt: skip
    run_cli(*common, "-O", tmp_path / "one.vcf", check=True)  # default: one encoder process
    run_cli(*common, "-O", tmp_path / "n.vcf", "--encode-workers", workers, check=True)
    assert data_lines(tmp_path / "n.vcf") == data_lines(tmp_path / "one.vcf")
    assert len(data_lines(tmp_path / "n.vcf")) == 472


#: the kernel's out-of-memory killer choosing the encoder process, as the parent first waits
_KILL_THE_ENCODER_PROCESS = """
import os, signal
from cnnscore.scoring import pipeline
_result_of = pipeline._result_of
def _killing(result, workers):
    if not getattr(_killing, "done", False):
        _killing.done = True
        os.kill(workers[0].pid, signal.SIGKILL)
    return _result_of(result, workers)
pipeline._result_of = _killing
"""


def test_an_encoder_process_killed_ends_the_run_at_once_with_one_line(tmp_path, random_1d_weights):
    """A pool replaces a dead worker but not the chunk it held: the run waited for that chunk
    until its stall guard ended it, 30 minutes on (Terra review). Now one line, naming Killed and
    OutOfMemory (what Terra's retry with more memory looks for), exit 1, no output."""
    out = tmp_path / "out" / "scored.vcf"
    out.parent.mkdir()
    started = time.monotonic()
    result = run_cli("score", "-V", GATK_1D / "input.hc_vqsr.vcf.gz",
                     "-R", GATK_1D / "ref.b37.20_1-1M.fa.gz",
                     "--architecture", MODELS / "1d_cnn_mix_train_full_bn.json",
                     "--weights", random_1d_weights, "--inference-batch-size", "16",
                     "--encode-workers", "1", "-O", out,
                     prelude=_KILL_THE_ENCODER_PROCESS, timeout=300)  # fmt: skip
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()[-1:]
    assert line.startswith("cnnscore: error: --encode-workers: an encoder process ended (killed "
                           "by signal 9: Killed, most likely by the kernel for want of memory "
                           "(OutOfMemory))"), result.stderr  # fmt: skip
    assert list(out.parent.iterdir()) == []
    assert time.monotonic() - started < 120  # not the stall guard's 30 minutes


def test_encoder_processes_are_at_most_the_cores_usable(tmp_path, monkeypatch):
    """A thousand encoder processes filled 24 GB of a 2-core machine before any was used: the
    count is capped at the cores this process may use, with a note, and the records are the
    same. (Score and write-tensors share the cap; the metrics say the count used.)"""
    from cnnscore.backends.cpu import usable_cores

    cores = usable_cores()
    metrics = tmp_path / "m.json"
    result = run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-L", "chr20:10000000-10010000",
                     "-O", tmp_path / "c.vcf", "--encode-workers", str(cores + 3),
                     "--metrics-json", metrics, check=True)  # fmt: skip
    assert f"--encode-workers {cores + 3} is more than the {cores} cores" in result.stderr
    assert json.loads(metrics.read_text())["encode_workers"] == cores
    run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-L", "chr20:10000000-10010000",
            "-O", tmp_path / "i.vcf", "--encode-workers", "0", check=True)  # fmt: skip
    assert data_lines(tmp_path / "c.vcf") == data_lines(tmp_path / "i.vcf")


def test_gatk_stream_forces_one_encoder_process(tmp_path, smoke_2d_output):
    """The metrics say the one process used (they said the count asked for, capped at the cores)."""
    out, metrics = tmp_path / "w.vcf.gz", tmp_path / "w.json"
    result = run_cli(
        *smoke_2d_args(out, "--encode-workers", "2", "--metrics-json", metrics), check=True
    )
    assert result.stderr.count("using 1 encoder process") == 1
    assert data_lines(out) == data_lines(smoke_2d_output)
    assert json.loads(metrics.read_text())["encode_workers"] == 1


@pytest.mark.parametrize(
    "json_name",
    [
        "small_2d.json", "2d_cnn_mix_train.json", "1d_cnn_mix_train_full_bn.json",
        "compact-2d", "compact-1d",
    ],
)  # fmt: skip
@pytest.mark.parametrize("name", ["openvino", "onnxruntime"])
def test_graph_built_without_keras_equals_keras(name, json_name):
    """OpenVINO's and ONNX Runtime's graphs are built from the description, not converted from
    Keras: layouts (channels-first convolutions, channels-last Flatten), the folded batch norm and
    the second annotation concatenation of the legacy models must all agree with Keras. GATK's
    JSONs, and cnnscore's own compact networks (their --model-kind JSONs)."""
    from cnnscore.models.architectures import network_for
    from cnnscore.models.network import bind_weights
    from conftest import model_kind_spec, random_layers

    if json_name.endswith(".json"):
        spec = load_model_spec(str(MODELS / json_name))
    else:
        spec = model_kind_spec(json_name)
    network = network_for(spec)
    weights = bind_weights(network, random_layers(network, seed=11), json_name, "random")
    rng = np.random.default_rng(2)
    tensors = rng.random((3, *network.tensor_shape), dtype=np.float32)
    annotations = rng.normal(0, 2, (3, network.annotation_count)).astype(np.float32)
    expected = build_keras(network, weights)([tensors, annotations], training=False).numpy()
    got = backend_class(name)(network, weights, batch_size=2, threads=2).predict(
        [tensors, annotations]
    )
    np.testing.assert_allclose(got, expected, atol=2e-6)


@pytest.mark.parametrize("name", ["openvino", "onnxruntime"])
def test_scoring_never_imports_tensorflow(tmp_path, name):
    """The openvino and onnxruntime backends build their graphs from the description: a whole 2D
    score (depth buckets included) must run without TensorFlow, Keras or tf2onnx in the process."""
    import subprocess
    import sys

    out = tmp_path / f"{name}.vcf"
    args = [str(a) for a in smoke_2d_args(out, "--backend", name)]
    code = (
        "import sys\n"
        "from cnnscore.cli.main import main\n"
        f"rc = main({args!r})\n"
        "loaded = sorted(m for m in ('tensorflow', 'keras', 'tf2onnx') if m in sys.modules)\n"
        "print('LOADED', loaded)\n"
        "sys.exit(rc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout
    assert len(data_lines(out)) == 252


def test_the_default_backend_is_openvino_the_fastest_exact_one(tmp_path):
    """No --backend: openvino (measured fastest among the exact fp32 backends, RESULTS.md), with
    its DFT convolutions, fp32 and the same scores as tensorflow within 0.001."""
    from conftest import SMOKE_BAM

    out, metrics = tmp_path / "o.vcf", tmp_path / "m.json"
    run_cli("score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--weights", SMALL_2D_HD5,
            "-L", "chr20:10000000-10020000", "--metrics-json", metrics, "-O", out,
            check=True)  # fmt: skip
    data = json.loads(metrics.read_text())
    assert (data["backend"], data["convolution"], data["effective_precision"]) == (
        "openvino", "dft", "fp32")  # fmt: skip
    reference = tmp_path / "tf.vcf"
    run_cli(*smoke_2d_args(reference, "-L", "chr20:10000000-10020000"), check=True)
    deltas = [abs(a - b) for a, b in zip(info_scores(out), info_scores(reference), strict=True)]
    assert deltas and max(deltas) <= 0.001 + 1e-9


def test_a_cgroup_cpu_quota_caps_the_threads():
    """cgroup v2 cpu.max and v1 cfs files as a container sees them (docker --cpus 1.5: 2)."""
    assert cpu.quota_cores("max 100000\n") is None
    assert cpu.quota_cores("150000 100000\n") == 2
    assert cpu.quota_cores("400000 100000") == 4
    assert cpu.quota_cores("20000 100000") == 1
    assert cpu.quota_cores(None, "-1", "100000") is None
    assert cpu.quota_cores(None, "250000", "100000") == 3
    assert cpu.quota_cores(None, None, None) is None


def test_a_quota_on_the_process_cgroup_path_counts_not_only_the_roots(tmp_path):
    """Without a cgroup namespace of its own (docker --cgroupns=host, Apptainer, systemd-run -p
    CPUQuota) a process's quota is on the path /proc/self/cgroup names, or an ancestor's: only
    the mount's root was read, so such a quota was missed (session 31's review). The smallest
    along the path counts; v1's cpu controller likewise."""
    v2 = tmp_path / "v2"
    (v2 / "batch" / "job").mkdir(parents=True)
    (v2 / "batch" / "cpu.max").write_text("400000 100000\n")
    (v2 / "batch" / "job" / "cpu.max").write_text("max 100000\n")
    assert cpu.cgroup_quota_cores("0::/batch/job\n", str(v2)) == 4
    (v2 / "cpu.max").write_text("150000 100000\n")  # a container's own, at the root
    assert cpu.cgroup_quota_cores("0::/batch/job\n", str(v2)) == 2
    assert cpu.cgroup_quota_cores("0::/elsewhere\n", str(tmp_path / "none")) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu,cpuacct" / "slurm" / "job7").mkdir(parents=True)
    (v1 / "cpu,cpuacct" / "slurm" / "job7" / "cpu.cfs_quota_us").write_text("300000\n")
    (v1 / "cpu,cpuacct" / "slurm" / "job7" / "cpu.cfs_period_us").write_text("100000\n")
    lines = "4:memory:/slurm/job7\n3:cpu,cpuacct:/slurm/job7\n0::/\n"
    assert cpu.cgroup_quota_cores(lines, str(v1)) == 3
    (v1 / "cpu.max").write_text("garbled")  # a form not known here: no quota from it
    assert cpu.cgroup_quota_cores(lines, str(v1)) == 3


def test_threads_default_to_the_cores_this_process_may_use(tmp_path):
    """Pinned to one core with taskset, as a container with --cpuset-cpus is, the default run
    uses one thread, not the host's count."""
    from conftest import SMOKE_BAM

    if len(os.sched_getaffinity(0)) < 2:
        pytest.fail("this test needs a machine with two cores or more to show the cap")
    out, metrics = tmp_path / "x.vcf", tmp_path / "m.json"
    args = ["score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "-O", out,
            "-L", "chr20:10000000-10002000", "--metrics-json", metrics]  # fmt: skip
    subprocess.run(["taskset", "-c", "0", sys.executable, "-m", "cnnscore", *map(str, args)],
                   check=True, capture_output=True, timeout=600)  # fmt: skip
    assert json.loads(metrics.read_text())["threads"] == 1
    subprocess.run([sys.executable, "-m", "cnnscore", *map(str, args)],
                   check=True, capture_output=True, timeout=600)  # fmt: skip
    assert json.loads(metrics.read_text())["threads"] == len(os.sched_getaffinity(0))
    # more than the cores: capped with a note (8 on 2 cores ran 8 compilations at once and 32
    # requests a model, and the metrics said 8), and GATK's 4096 at most
    command = [sys.executable, "-m", "cnnscore", *map(str, args)]
    more = subprocess.run(["taskset", "-c", "0", *command, "--threads", "64"],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert more.returncode == 0, more.stderr
    assert "--threads 64 is more than the 1 cores this process may use: using 1" in more.stderr
    assert json.loads(metrics.read_text())["threads"] == 1
    refused = subprocess.run([*command, "--intra-op-threads", "5000"],
                             capture_output=True, text=True, timeout=600)  # fmt: skip
    assert refused.returncode == 2 and "must be 0..4096" in refused.stderr, refused.stderr


def test_openvino_is_imported_without_its_model_converter(tmp_path):
    """cnnscore never converts a model, so its import of openvino leaves the converter (and the
    telemetry its import starts) out; the converter stays importable afterwards. An openvino
    whose ``__init__`` cannot do without its converter is imported as it is."""
    probe = (
        "import sys\n"
        "from cnnscore.backends.openvino_backend import OpenVinoBackend\n"
        "OpenVinoBackend.configure_runtime(2)  # imports it, before any model is built\n"
        "print('openvino' in sys.modules)\n"
        "left_out = ('openvino.tools.ovc', 'openvino_telemetry')\n"
        "print(sorted(m for m in left_out if m in sys.modules))\n"
        "import openvino\n"
        "from openvino.tools.ovc import convert_model\n"
        "print(callable(convert_model), getattr(openvino, 'NEEDS_CONVERTER', None))\n"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True).stdout.splitlines()  # fmt: skip
    assert found == ["True", "[]", "True None"]

    # a stand-in openvino that imports its converter unconditionally (with a Tensor, for the
    # bindings' first use that cnnscore's import makes)
    package = tmp_path / "openvino"
    (package / "tools" / "ovc").mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import openvino.tools.ovc\nNEEDS_CONVERTER = 1\n"
        "class Tensor:\n    def __init__(self, array):\n        self.data = array\n"
    )
    (package / "tools" / "__init__.py").write_text("")
    (package / "tools" / "ovc" / "__init__.py").write_text("def convert_model(): pass\n")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True, env=environment).stdout.splitlines()  # fmt: skip
    assert found == ["True", "['openvino.tools.ovc']", "True 1"]
