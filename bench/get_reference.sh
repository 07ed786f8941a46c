#!/usr/bin/env bash
# Put GRCh37 chromosome 20 (complete, 63 Mb, from Debian's vt-examples package) with its samtools
# and bwa indexes in the folder given (default: the current one). Re-running reuses finished steps.
set -euo pipefail
cd "${1:-.}"
need=()
for tool in art_illumina bwa samtools bcftools bgzip; do command -v "$tool" >/dev/null || need+=("$tool"); done
if ((${#need[@]})); then
  apt-get update -qq
  apt-get install -y -qq art-nextgen-simulation-tools bwa samtools bcftools tabix >/dev/null
fi
if [ ! -s 20.fa ]; then
  work=$(mktemp -d)
  (cd "$work" && apt-get download vt-examples >/dev/null && dpkg-deb -x vt-examples_*.deb x)
  zcat "$work/x/usr/share/doc/vt/examples/ref/20.fa.gz" > 20.fa.partial
  mv 20.fa.partial 20.fa
  rm -rf "$work"
fi
[ -s 20.fa.fai ] || samtools faidx 20.fa
[ -s 20.fa.bwt ] || bwa index 20.fa 2> bwa-index.log
