"""The CPU's instruction sets that decide which precisions run natively, and how fast.

Reduced precisions are a property of the machine as much as of the flag: OpenVINO runs bf16 only
with avx512_bf16 or AMX (and, unasked, picks it there), int8 is fast only with VNNI (avx512_vnni,
or avx_vnni, its 256-bit form on CPUs without AVX-512 such as Intel's E-core servers) or AMX. So
every record of a run (metrics JSON, VCF header provenance, benchmark) names the sets present,
and a number can always be traced to the kind of CPU that produced it; the metrics name the CPU's
model too, since one minimum platform on Google still lets two generations serve a run.
"""

from __future__ import annotations

import functools
import math
import os
import sys

#: The sets that matter for inference, as /proc/cpuinfo spells them.
RELEVANT = (
    "avx2",
    "avx_vnni",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    # AVX-VNNI-INT8 and AVX-NE-CONVERT: with avx_vnni, oneDNN's avx2_vnni_2, for which OpenVINO
    # lists BF16 too (bf16 converted to f32 and back, not bf16 dot products)
    "avx_vnni_int8",
    "avx_ne_convert",
)


def parse_cpuinfo_flags(text: str) -> set[str]:
    """The ``flags`` of the first processor in /proc/cpuinfo text."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def relevant_sets(flags: set[str]) -> tuple[str, ...]:
    """The :data:`RELEVANT` sets among ``flags``, in one order: every record spells a CPU alike."""
    return tuple(name for name in RELEVANT if name in flags)


def parse_cpuinfo_model(text: str) -> str | None:
    """The ``model name`` of the first processor in /proc/cpuinfo text, spaces collapsed; None
    where there is none (ARM's cpuinfo, for one, has no such line)."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return " ".join(value.split()) or None
    return None


def _cpuinfo() -> str | None:
    try:
        with open("/proc/cpuinfo") as handle:
            return handle.read()
    except OSError:
        return None


@functools.cache
def instruction_sets() -> tuple[str, ...]:
    """The relevant sets this CPU has, in :data:`RELEVANT` order; empty when unknown."""
    text = _cpuinfo()
    return relevant_sets(parse_cpuinfo_flags(text)) if text is not None else ()


@functools.cache
def model_name() -> str | None:
    """This CPU's model as /proc/cpuinfo names it (``Intel(R) Xeon(R) CPU @ 2.60GHz``, ``AMD
    EPYC 7B12``); None where the machine gives none."""
    text = _cpuinfo()
    return parse_cpuinfo_model(text) if text is not None else None


def describe() -> str:
    """The sets as one space-separated word list (``unknown`` off Linux)."""
    return " ".join(instruction_sets()) or "unknown"


def has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (avx512_bf16 or AMX), where OpenVINO's CPU plugin
    runs bf16, asked or, without an f32 hint, unasked. (OpenVINO also runs bf16 on AVX2 CPUs with
    AVX-NE-CONVERT; whether bf16 is refused is OpenVINO's own answer, asked by its backend.)"""
    return bool({"avx512_bf16", "amx_bf16"} & set(instruction_sets()))


#: Where cgroups are mounted (v2's unified tree, or v1's one folder per controller)
CGROUP_ROOT = "/sys/fs/cgroup"


def quota_cores(cpu_max: str | None, v1_quota: str | None = None, v1_period: str | None = None):
    """The cores a cgroup CPU quota allows, rounded up; None when there is no quota, or a file in
    a form not known here. ``cpu_max`` is cgroup v2's ``cpu.max`` (``"200000 100000"`` or
    ``"max 100000"``), the others v1's files."""
    try:
        if cpu_max is not None:
            quota, _, period = cpu_max.strip().partition(" ")
            if quota == "max" or not period or int(period) <= 0:
                return None
            return max(1, math.ceil(int(quota) / int(period)))
        if v1_quota is not None and v1_period is not None and int(v1_quota) > 0:
            return max(1, math.ceil(int(v1_quota) / int(v1_period))) if int(v1_period) > 0 \
                else None  # fmt: skip
    except ValueError:
        return None
    return None


def _read(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read()
    except (OSError, ValueError):
        return None


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (``taskset``, a container's
    ``--cpuset-cpus``) capped by its cgroup's CPU quota (``docker --cpus``; Kubernetes and Batch
    limits), as a container on Terra sees them, rather than the host's core count, which
    ``os.cpu_count()`` gives and which oversubscribes a small container on a large host."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = cgroup_quota_cores(_read("/proc/self/cgroup") or "")
    return max(1, min(cores, quota or cores))


def cgroup_quota_cores(proc_cgroup: str, root: str = CGROUP_ROOT) -> int | None:
    """The smallest CPU quota, in cores, of this process's cgroup and its ancestors, as
    ``/proc/self/cgroup`` names them (``proc_cgroup``), under ``root`` and at ``root`` itself: a
    container with its own cgroup namespace sees its quota at the root, but without one
    (``docker --cgroupns=host``, Apptainer, ``systemd-run -p CPUQuota``) the quota is on the
    path named there (session 31's multi-core review). None when no quota is set."""
    quotas = []
    for line in proc_cgroup.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and not controllers:  # cgroup v2
            folders = [os.path.join(root, name) for name in _path_and_ancestors(path)]
            found = [quota_cores(_read(os.path.join(f, "cpu.max"))) for f in folders]
        elif "cpu" in controllers.split(","):  # cgroup v1's cpu controller
            mounts = {os.path.join(root, controllers), os.path.join(root, "cpu")}
            found = [
                quota_cores(None, _read(os.path.join(mount, name, "cpu.cfs_quota_us")),
                            _read(os.path.join(mount, name, "cpu.cfs_period_us")))
                for mount in sorted(mounts) for name in _path_and_ancestors(path)
            ]  # fmt: skip
        else:
            continue
        quotas += [quota for quota in found if quota is not None]
    quotas += [quota for quota in (_quota_at_root(root),) if quota is not None]
    return min(quotas) if quotas else None


def _path_and_ancestors(path: str) -> list[str]:
    """``/a/b`` -> ``a/b``, ``a``, ``""`` (relative to a cgroup mount)."""
    parts = [part for part in path.strip().split("/") if part]
    return ["/".join(parts[:end]) for end in range(len(parts), -1, -1)]


def _quota_at_root(root: str) -> int | None:
    """The quota at the mount's root (cgroup v2, then v1): a container's own."""
    return quota_cores(
        _read(os.path.join(root, "cpu.max")),
        _read(os.path.join(root, "cpu", "cpu.cfs_quota_us")),
        _read(os.path.join(root, "cpu", "cpu.cfs_period_us")),
    )


def threads_for(asked: int) -> int:
    """``--threads``: 0 for every usable core, else at most those (with a note). OpenVINO runs no
    more streams than cores anyway, while the compilations, requests and metrics followed the
    count asked for (8 on 2 cores said 8 threads and made 32 requests a model)."""
    cores = usable_cores()
    if asked > cores:
        print(f"cnnscore: note: --threads {asked} is more than the {cores} cores this process "
              f"may use: using {cores}", file=sys.stderr)  # fmt: skip
    return min(asked, cores) if asked else cores
