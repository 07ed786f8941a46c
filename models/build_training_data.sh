#!/usr/bin/env bash
# Build cnnscore's training and evaluation data from public sources, reproducibly (fixed seeds),
# in $CNNSCORE_TRAIN_CACHE (default ~/.cache/cnnscore-train):
#   reference  GRCh37 chromosome 20 from Debian's vt-examples (bench/get_reference.sh), kept in
#              $CNNSCORE_REFERENCE_DIR (default: the cache; the benchmark's cache can be reused)
#   truth      $VARIANTS simulated SNVs and 1-10 bp indels, 60% het, none within the real smoke
#              set's region (chr20:9.9-10.2 Mb) so that it stays an independent test
#   artefacts  a 10% share of the 1 kb windows get 1-3 copies of an unplaced paralog (0.6%
#              substitutions, 0.05% small indels) whose reads mismap onto them: false candidates
#              with the read evidence of collapsed segmental duplications
#   reads      2x150 HiSeq 2500 reads (art_illumina) at 2 x $COVERAGE x per window, paralog copies
#              at $PARALOG_COVERAGE x each, aligned with bwa mem
#   candidates a permissive caller: bcftools mpileup (map/base quality 0/10) | call -mv with a 10x
#              higher prior, left-aligned; GATK-named annotations at HaplotypeCaller's scale
#              (bench/make_candidates.py --gatk-scale)
#   regions    train.bed: chr20 before 50 Mb, heldout.bed: from 50 Mb on (the evaluation region)
# Needs root (apt-get) on Debian 12. Re-running reuses every finished step.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$here/../bench
cache=${CNNSCORE_TRAIN_CACHE:-$HOME/.cache/cnnscore-train}
reference_dir=${CNNSCORE_REFERENCE_DIR:-$cache}
python=${PYTHON:-$here/../.venv/bin/python}
threads=${THREADS:-2}
variants=${VARIANTS:-8000}
coverage=${COVERAGE:-22}
paralog_coverage=${PARALOG_COVERAGE:-7}
heldout_start=50000000
mkdir -p "$cache" "$reference_dir"
"$bench/get_reference.sh" "$reference_dir"
reference_dir=$(cd "$reference_dir" && pwd)
cd "$cache"
for suffix in "" .fai .amb .ann .bwt .pac .sa; do
  [ "$reference_dir" = "$(pwd)" ] || ln -sf "$reference_dir/20.fa$suffix" "20.fa$suffix"
done

if [ ! -s truth.vcf.gz ]; then
  "$python" "$bench/simulate_variants.py" --reference 20.fa --contig 20 --count "$variants" \
    --seed 20261128 --exclude 9900000-10200000 --truth-vcf truth.raw.vcf --haplotype-prefix hap \
    --confident-bed confident.bed --paralog-fraction 0.1 --paralog-divergence 0.006 \
    --paralog-indel-rate 0.0005 --paralog-max-copies 3 --paralog-fasta paralogs.fa
  bcftools norm -f 20.fa -Oz -o truth.vcf.gz truth.raw.vcf 2> /dev/null
  tabix -f -p vcf truth.vcf.gz
  rm truth.raw.vcf
fi
length=$(cut -f2 20.fa.fai)
printf '20\t0\t%s\n' "$heldout_start" > train.bed
printf '20\t%s\t%s\n' "$heldout_start" "$length" > heldout.bed

if [ ! -s reads.bam ]; then
  art_illumina -ss HS25 -p -l 150 -f "$coverage" -m 400 -s 50 -rs 31 -na -q -i hap1.fa -o h1_ > art.log
  art_illumina -ss HS25 -p -l 150 -f "$coverage" -m 400 -s 50 -rs 32 -na -q -i hap2.fa -o h2_ >> art.log
  art_illumina -ss HS25 -p -l 150 -f "$paralog_coverage" -m 400 -s 50 -rs 33 -na -q \
    -i paralogs.fa -o p_ >> art.log
  bwa mem -t "$threads" -R '@RG\tID:train\tSM:train\tPL:ILLUMINA' 20.fa \
      <(cat h1_1.fq h2_1.fq p_1.fq) <(cat h1_2.fq h2_2.fq p_2.fq) 2> bwa-mem.log \
    | samtools sort -@ "$threads" -m 1G -o reads.bam.partial -
  mv reads.bam.partial reads.bam
  samtools index reads.bam
  rm -f h1_*.fq h2_*.fq p_*.fq
fi

if [ ! -s candidates.vcf.gz ]; then
  bcftools mpileup --threads "$threads" -f 20.fa -q 0 -Q 10 -a FORMAT/AD,FORMAT/DP,INFO/AD -Ou \
      reads.bam \
    | bcftools call --threads "$threads" -mv -P 0.011 -Ou \
    | bcftools norm -f 20.fa -Oz -o calls.raw.vcf.gz 2> /dev/null
  "$python" "$bench/make_candidates.py" --gatk-scale calls.raw.vcf.gz | bgzip > candidates.vcf.gz.partial
  mv candidates.vcf.gz.partial candidates.vcf.gz
  tabix -f -p vcf candidates.vcf.gz
fi

echo "training data in $cache:"
echo "  truth $(zcat truth.vcf.gz | grep -vc '^#') variants in $(wc -l < confident.bed) windows,"
echo "  $(grep -c '^>' paralogs.fa) paralog copies, candidates $(zcat candidates.vcf.gz | grep -vc '^#')"
