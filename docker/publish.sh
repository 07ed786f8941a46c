#!/usr/bin/env bash
# Publish the task images so that a workflow can pin them by digest (Terra, Cromwell, miniwdl).
#
# Usage: docker/publish.sh REGISTRY/NAME:TAG [main|ovtf|all]
#   pushes cnnscore:local as REGISTRY/NAME:TAG and cnnscore-ovtf:local as REGISTRY/NAME-ovtf:TAG
#   (build them first: `make image`, or `docker build` as the README shows), with podman where it
#   is installed, else docker, and prints one line per image pushed: the digest reference
#   REGISTRY/NAME@sha256:... to put in the workflow's `docker` input. `main` or `ovtf` publishes
#   that image alone (an error when it was not built); `all` (the default) publishes each image
#   that was built and says on stderr which one was not. Exit 1 when nothing was published.
# Environment: CNNSCORE_IMAGE / CNNSCORE_OVTF_IMAGE (the local images, defaults above);
#   CNNSCORE_PUBLISH_TLS_VERIFY=false for a plain-http registry (a local test registry).
# Log in to the registry first (podman login / docker login) where it needs credentials.
set -euo pipefail
target=${1:-}
which=${2:-all}
last=${target##*/}
if [ -z "$target" ] || [ "$last" = "$target" ] || [[ "$last" != *:* ]] \
   || [[ ! "$which" =~ ^(main|ovtf|all)$ ]]; then
  echo "usage: docker/publish.sh REGISTRY/NAME:TAG [main|ovtf|all] (e.g. ghcr.io/me/cnnscore:0.1.0)" >&2
  exit 2
fi
name=${target%:*}
tag=${target##*:}
main="${CNNSCORE_IMAGE:-cnnscore:local}=$name:$tag"
ovtf="${CNNSCORE_OVTF_IMAGE:-cnnscore-ovtf:local}=$name-ovtf:$tag"
case "$which" in
  main) images=("$main") ;;
  ovtf) images=("$ovtf") ;;
  all) images=("$main" "$ovtf") ;;
esac

if command -v podman >/dev/null; then
  engine=podman
  conf=${CNNSCORE_PODMAN_CONF:-/etc/cnnscore/containers.conf}  # written by docker/podman-build.sh
  [ -z "${CONTAINERS_CONF:-}" ] && [ -f "$conf" ] && export CONTAINERS_CONF=$conf
elif command -v docker >/dev/null; then
  engine=docker
else
  echo "publish.sh: neither podman nor docker is installed" >&2
  exit 1
fi
tls=()
if [ "${CNNSCORE_PUBLISH_TLS_VERIFY:-true}" = false ]; then
  [ "$engine" = podman ] && tls=(--tls-verify=false)  # docker: list it as an insecure registry
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
published=0
missing=()
for pair in "${images[@]}"; do
  source=${pair%%=*}
  destination=${pair#*=}
  if ! "$engine" image inspect "$source" >/dev/null 2>&1; then
    if [ "$which" != all ]; then
      echo "publish.sh: no local image $source: build it first (make image)" >&2
      exit 1
    fi
    missing+=("$source")
    continue
  fi
  if [ "$engine" = podman ]; then
    podman push --quiet "${tls[@]}" --digestfile "$work/digest" "$source" "$destination" >&2
    digest=$(cat "$work/digest")
  else
    docker tag "$source" "$destination"
    docker push --quiet "$destination" >&2
    reference=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' \
                "$destination" | grep -F "${destination%:*}@" | head -1)
    digest=${reference#*@}
  fi
  [[ "$digest" == sha256:* ]] || { echo "publish.sh: no digest for $destination" >&2; exit 1; }
  echo "${destination%:*}@$digest"
  published=$((published + 1))
done
for source in "${missing[@]}"; do
  echo "publish.sh: not published: $source was not built (make image builds both images)" >&2
done
if [ "$published" -eq 0 ]; then
  echo "publish.sh: nothing published: build the images first (make image)" >&2
  exit 1
fi
