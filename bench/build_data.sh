#!/usr/bin/env bash
# Build the benchmark data set from public sources, reproducibly (fixed seeds), cached outside the
# repository in $CNNSCORE_BENCH_CACHE (default ~/.cache/cnnscore-bench):
#   reference  GRCh37 chromosome 20, complete (63 Mb), from Debian's vt-examples package
#   truth      ~13,000 simulated SNVs and 1-10 bp indels (60% het), seeded
#   reads      paired 2x150 HiSeq 2500 reads at 30x (15x per haplotype) from art_illumina,
#              simulated in 1 kb windows around the variants, aligned with bwa mem
#   candidates bcftools mpileup | call -mv, annotated with GATK-named INFO keys (make_candidates.py)
# SEED (default 0, the benchmark) draws another set: other sites and other reads from the same
# recipe, e.g. independent training pileups for models/distill_compact_2d.sh (bench/RESULTS.md).
# Needs root (apt-get) on Debian 12. Re-running reuses every finished step.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${CNNSCORE_BENCH_CACHE:-$HOME/.cache/cnnscore-bench}
python=${PYTHON:-$here/../.venv/bin/python}
threads=${THREADS:-2}
variants=${VARIANTS:-13000}
seed=${SEED:-0}
if [[ ! $seed =~ ^[0-9]+$ ]]; then
  echo "build_data.sh: SEED must be a whole number, not '$seed'" >&2
  exit 1
fi
mkdir -p "$cache"
cd "$cache"

"$here/get_reference.sh" .

if [ ! -s truth.vcf.gz ]; then
  "$python" "$here/simulate_variants.py" --reference 20.fa --contig 20 --count "$variants" \
    --seed $((20261127 + seed)) --truth-vcf truth.vcf --haplotype-prefix hap
  bgzip -f truth.vcf && tabix -f -p vcf truth.vcf.gz
fi

if [ ! -s bench.bam ]; then
  art_illumina -ss HS25 -p -l 150 -f 15 -m 400 -s 50 -rs $((11 + 100 * seed)) -na -q \
    -i hap1.fa -o h1_ > art.log
  art_illumina -ss HS25 -p -l 150 -f 15 -m 400 -s 50 -rs $((22 + 100 * seed)) -na -q \
    -i hap2.fa -o h2_ >> art.log
  bwa mem -t "$threads" -R '@RG\tID:bench\tSM:bench\tPL:ILLUMINA' 20.fa \
      <(cat h1_1.fq h2_1.fq) <(cat h1_2.fq h2_2.fq) 2> bwa-mem.log \
    | samtools sort -@ "$threads" -m 1G -o bench.bam.partial -
  mv bench.bam.partial bench.bam
  samtools index bench.bam
  rm -f h1_*.fq h2_*.fq
fi

if [ ! -s candidates.vcf.gz ]; then
  bcftools mpileup --threads "$threads" -f 20.fa -a FORMAT/AD,FORMAT/DP,INFO/AD -Ou bench.bam \
    | bcftools call --threads "$threads" -mv -Oz -o calls.raw.vcf.gz
  "$python" "$here/make_candidates.py" calls.raw.vcf.gz | bgzip > candidates.vcf.gz.partial
  mv candidates.vcf.gz.partial candidates.vcf.gz
  tabix -f -p vcf candidates.vcf.gz
fi

echo "bench data in $cache:"
echo "  reference 20.fa ($(cut -f2 20.fa.fai) bp), truth $(zcat truth.vcf.gz | grep -vc '^#') variants,"
echo "  reads bench.bam, candidates $(zcat candidates.vcf.gz | grep -vc '^#') records"
