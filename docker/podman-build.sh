#!/usr/bin/env bash
# Build the task image with rootful podman where there is no Docker engine (CI, Docker-less hosts).
#
# Usage: [CNNSCORE_GATK_MODELS=DIR] docker/podman-build.sh [TAG [DOCKERFILE]]
#        (defaults: cnnscore:local, docker/Dockerfile; e.g. cnnscore-ovtf:local docker/Dockerfile.ovtf;
#        DIR: a folder of GATK's model files whose 1D/2d_cnn_mix_train models to bake in;
#        `release` fetches them from GATK's release; unset: none, small_2d is in the package)
# Needs root and Debian 12. Idempotent: installs podman once, builds a stand-in
# debian:<suite>-slim base (the suite the Dockerfile's FROM names) with mmdebstrap once (no registry
# needed), then `podman build`s the Dockerfile unchanged (podman's layer cache makes rebuilds cheap).
# Writes the containers.conf it uses to $CNNSCORE_PODMAN_CONF (default /etc/cnnscore/containers.conf).
set -euo pipefail
tag=${1:-cnnscore:local}
repo=$(cd "$(dirname "$0")/.." && pwd)
dockerfile=${2:-$repo/docker/Dockerfile}
conf=${CNNSCORE_PODMAN_CONF:-/etc/cnnscore/containers.conf}
suite=$(sed -n 's/^FROM debian:\([a-z]*\)-slim.*/\1/p' "$dockerfile" | head -1)
[ -n "$suite" ] || { echo "$dockerfile: expected FROM debian:<suite>-slim" >&2; exit 1; }
base=docker.io/library/debian:$suite-slim

need=()
for tool in podman runc mmdebstrap; do command -v "$tool" >/dev/null || need+=("$tool"); done
if ((${#need[@]})); then
  apt-get update -qq
  apt-get install -y -qq podman runc uidmap slirp4netns fuse-overlayfs mmdebstrap >/dev/null
fi

# runc (Debian 12's crun refuses this host's cgroup layout), cgroupfs, file event log, and ulimits
# that root can actually grant here.
mkdir -p "$(dirname "$conf")"
hard=$(ulimit -Hn)
cat > "$conf" <<CONF
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[containers]
default_ulimits = ["nofile=${hard}:${hard}", "nproc=32768:32768"]
CONF
export CONTAINERS_CONF=$conf

if ! podman image exists "$base"; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # The host's CA bundle goes in under its own name so HTTPS from the build (pip) trusts the same
  # chain as the host; the Dockerfile's own ca-certificates install does not overwrite it.
  cat /etc/ssl/certs/ca-certificates.crt /usr/local/share/ca-certificates/*.crt \
    > "$work/host-ca.crt" 2>/dev/null || true
  mmdebstrap --quiet --variant=minbase \
    --customize-hook="mkdir -p \"\$1/etc/ssl/certs\" && cp $work/host-ca.crt \"\$1/etc/ssl/certs/host-ca.crt\"" \
    "$suite" "$work/rootfs.tar"
  podman import \
    --change 'ENV PIP_CERT=/etc/ssl/certs/host-ca.crt' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/host-ca.crt' \
    --change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/host-ca.crt' \
    --change 'CMD ["/bin/bash"]' \
    "$work/rootfs.tar" "$base" >/dev/null
fi

# GATK's models beyond small_2d for the image (docker/Dockerfile's GATK_MODELS_MIRROR): with
# CNNSCORE_GATK_MODELS set to a folder, serve it on loopback for the build, which checks every
# file by size and sha256 as it would from GATK's release; the folder's digest keys the layer
# cache. `release`: the build fetches from GATK's release. Unset: none are fetched.
extra=()
if [ "${CNNSCORE_GATK_MODELS:-}" = release ]; then
  extra=(--build-arg GATK_MODELS_MIRROR=release)
elif [ -n "${CNNSCORE_GATK_MODELS:-}" ] && grep -q GATK_MODELS_MIRROR "$dockerfile"; then
  [ -d "$CNNSCORE_GATK_MODELS" ] || { echo "CNNSCORE_GATK_MODELS: no folder $CNNSCORE_GATK_MODELS" >&2; exit 1; }
  port=${CNNSCORE_GATK_MODELS_PORT:-18765}
  python3 -m http.server --bind 127.0.0.1 --directory "$CNNSCORE_GATK_MODELS" "$port" \
    >/dev/null 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null; rm -rf "${work:-}"' EXIT
  for _ in $(seq 50); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" \
      2>/dev/null && break
    sleep 0.1
  done
  digest=$(cd "$CNNSCORE_GATK_MODELS" && sha256sum -- * 2>/dev/null | sha256sum | cut -c1-16)
  extra=(--network host --build-arg "GATK_MODELS_MIRROR=http://127.0.0.1:$port"
         --build-arg "GATK_MODELS_DIGEST=$digest")
fi

podman build --quiet "${extra[@]}" -t "$tag" -f "$dockerfile" "$repo" >/dev/null
size=$(podman image inspect "$tag" --format '{{.Size}}')
echo "built $tag ($((size / 1000000)) MB)"
