#!/usr/bin/env bash
# Issue #32's 16-core scaling run, prepared here and run in one call on a lent machine that reaches
# no network (the device tool's 16-core machines: Python 3.12 with numpy, h5py, Cython and a C
# compiler, but no pysam or OpenVINO; a working tree of at most 64 MiB travels, ignored folders
# only when carried). ../shared/notes/sixteen-cores.md says how the issue's numbers were taken.
#
#   bench/device_kit.sh prepare [BASELINE]   here: .device-kit/ with the pinned openvino,
#                                            openvino-telemetry, pysam and setuptools for
#                                            CPython 3.12
#                                            (openvino without its GPU/NPU plugins and model
#                                            frontends, xz-compressed: ~22 MB, not its 59) and
#                                            BASELINE's python/ (default f55defb, the issue's)
#   bench/device_kit.sh run [scaling.py options]
#                                            there (carry .device-kit): installs into /tmp/site,
#                                            builds both trees' encoders, runs bench/scaling.py
#                                            against the baseline; to $OUT if set: the table
#                                            (scaling.md), each run as it ends (runs/), and the
#                                            machine (machine.txt)
#
# Why a kit: a machine is lent for 15 minutes in all, start-up included, so everything that can
# be done beforehand is, and the run is one command whose failure says which step failed.
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=.device-kit
SITE=${SITE:-/tmp/site}
PYTHON=${PYTHON:-python3}

prepare() {
    local baseline=${1:-f55defb}
    rm -rf "$KIT"
    mkdir -p "$KIT/wheels" "$KIT/unpacked" "$KIT/baseline"
    # exact pins from the lock, so the run measures what the image ships
    mapfile -t pins < <(grep -E '^(openvino|openvino-telemetry|pysam)==' python/requirements.lock)
    [ "${#pins[@]}" -eq 3 ] || { echo "device_kit: pins not found in the lock" >&2; exit 1; }
    # and the image's setuptools: python/pyproject.toml's SPDX license needs setuptools >= 77 to
    # build the encoder, whatever the lent machine has
    local setuptools_pin
    setuptools_pin=$(grep -E '^setuptools==' docker/build-requirements.txt) \
        || { echo "device_kit: setuptools pin not found" >&2; exit 1; }
    pins+=("$setuptools_pin")
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$KIT/wheels" "${pins[@]}"
    local wheel
    wheel=$(ls "$KIT"/wheels/openvino-2*.whl)
    "$PYTHON" -m zipfile -e "$wheel" "$KIT/unpacked"
    rm "$wheel"
    # what the CPU path never loads
    rm -f "$KIT"/unpacked/openvino/libs/libopenvino_intel_{gpu,npu}_plugin.so \
        "$KIT"/unpacked/openvino/libs/cache.json \
        "$KIT"/unpacked/openvino/libs/libopenvino_{pytorch,paddle,tensorflow,tensorflow_lite,jax,onnx}_frontend.so*
    tar -C "$KIT/unpacked" -cJf "$KIT/openvino.tar.xz" .
    rm -rf "$KIT/unpacked"
    git archive "$baseline" python | tar -x -C "$KIT/baseline"
    echo "$baseline" >"$KIT/baseline/COMMIT"
    # ignored, so it travels only when a call carries it
    mkdir -p .git/info
    grep -qxF "/$KIT/" .git/info/exclude 2>/dev/null || echo "/$KIT/" >>.git/info/exclude
    du -sh "$KIT"
}

run() {
    [ -f "$KIT/openvino.tar.xz" ] || { echo "device_kit: no $KIT (prepare it, carry it)" >&2; exit 1; }
    mkdir -p "$SITE"
    echo "device_kit: installing into $SITE" >&2
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "$KIT"/wheels/*.whl
    tar -C "$SITE" -xJf "$KIT/openvino.tar.xz"
    export PYTHONPATH=$SITE
    for tree in . "$KIT/baseline"; do
        echo "device_kit: building the encoder of $tree" >&2
        (cd "$tree/python" && "$PYTHON" setup.py -q build_ext --inplace >/dev/null)
    done
    local out=${OUT:-.}
    # what the numbers were measured on, beside them: the CPU's topology (16 logical CPUs may be
    # 8 cores with 2 threads each), the kernel (gVisor says 4.4.0), the affinity and CPU quota
    # the process got
    {
        echo "# uname -a"; uname -a
        echo "# lscpu"; lscpu 2>&1 || true
        echo "# nproc"; nproc
        echo "# taskset -pc \$\$"; taskset -pc $$ 2>&1 || true
        echo "# /proc/self/cgroup"; cat /proc/self/cgroup 2>&1 || true
        echo "# /sys/fs/cgroup/cpu.max"; cat /sys/fs/cgroup/cpu.max 2>&1 || true
    } >"$out/machine.txt"
    echo "device_kit: bench/scaling.py against $(cat "$KIT/baseline/COMMIT")" >&2
    PYTHONPATH=$PWD/python:$SITE PYTHONUNBUFFERED=1 "$PYTHON" bench/scaling.py \
        --compare-with "$KIT/baseline" --keep "$out/runs" "$@" | tee "$out/scaling.md"
}

case "${1:-}" in
    prepare) shift; prepare "$@" ;;
    run) shift; run "$@" ;;
    *) echo "usage: bench/device_kit.sh prepare [BASELINE] | run [scaling.py options]" >&2; exit 2 ;;
esac
