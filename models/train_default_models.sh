#!/usr/bin/env bash
# Train cnnscore's own default models (compact-1d, compact-2d) on the data that
# models/build_training_data.sh builds, evaluate them, and (with --install) put them into the
# package (python/cnnscore/models/default_models) with their SHA256SUMS and model card.
#   train      chr20 before 50 Mb: write-tensors (true SNPs downsampled to about the false ones),
#              cnnscore train with a seeded 10% validation split and early stopping
#   evaluate   held-out chr20 from 50 Mb: every candidate scored by cnnscore score, ROC AUC of true
#              vs false (models/evaluate.py); and the real NA12878 smoke set (testdata/)
#              against its GIAB truth, beside GATK's small_2d on the same calls
# Needs the venv (make setup). Re-running reuses finished steps; delete $out to retrain.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cache=${CNNSCORE_TRAIN_CACHE:-$HOME/.cache/cnnscore-train}
out=${MODELS_OUT:-$cache/models}
bin=${VENV_BIN:-$root/.venv/bin}
epochs=${EPOCHS:-15}
snp_fraction=${SNP_FRACTION:-0.5}
install=false
[ "${1:-}" = "--install" ] && install=true
smoke=$root/testdata/na12878_chr20_smoke
[ -s "$cache/candidates.vcf.gz" ] || { echo "run models/build_training_data.sh first" >&2; exit 1; }
mkdir -p "$out"
cd "$cache"

declare -A tensor_type=([1d]=reference [2d]=read_tensor)
for kind in 1d 2d; do
  name=cnnscore_compact_$kind
  if [ ! -s "$out/tensors_$kind/manifest.json" ]; then
    rm -rf "$out/tensors_$kind"
    "$bin/cnnscore" write-tensors -V candidates.vcf.gz -R 20.fa -I reads.bam \
      --truth-vcf truth.vcf.gz --truth-bed confident.bed -L train.bed \
      --tensor-type "${tensor_type[$kind]}" --downsample-snps "$snp_fraction" \
      --downsample-indels 1 --seed 1 -O "$out/tensors_$kind"
  fi
  if [ ! -s "$out/$name.hd5" ]; then
    "$bin/cnnscore" train --tensors "$out/tensors_$kind" --model-kind "compact-$kind" \
      --epochs "$epochs" --patience 3 --batch-size 64 --learning-rate 1e-3 --seed 1 \
      -O "$out/$name"
  fi
  if [ ! -s "$out/heldout.$kind.vcf.gz" ]; then
    reads=(); [ "$kind" = 2d ] && reads=(-I reads.bam)
    "$bin/cnnscore" score -V candidates.vcf.gz -R 20.fa "${reads[@]}" -L heldout.bed \
      --architecture "$out/$name.json" --backend onnxruntime -O "$out/heldout.$kind.vcf.gz"
  fi
  if [ ! -s "$out/smoke.$kind.vcf.gz" ]; then
    reads=(); [ "$kind" = 2d ] && reads=(-I "$smoke/NA12878.chr20_10M_10.1M.bam")
    "$bin/cnnscore" score -V "$smoke/hc.gatk4.vcf.gz" -R "$smoke/ref.chr20.fa.gz" \
      "${reads[@]}" --architecture "$out/$name.json" \
      --backend onnxruntime -O "$out/smoke.$kind.vcf.gz"
  fi
done

# GATK's own small_2d on the same smoke set, as the card's point of comparison
gatk_2d=$root/python/cnnscore/models/gatk_small_2d/small_2d
if [ ! -s "$out/smoke.gatk_small_2d.vcf.gz" ]; then
  "$bin/cnnscore" score -V "$smoke/hc.gatk4.vcf.gz" -R "$smoke/ref.chr20.fa.gz" \
    -I "$smoke/NA12878.chr20_10M_10.1M.bam" --architecture "$gatk_2d.json" \
    --weights "$gatk_2d.hd5" --backend onnxruntime -O "$out/smoke.gatk_small_2d.vcf.gz"
fi

"$bin/python" "$here/evaluate.py" --models "$out" --truth-vcf truth.vcf.gz \
  --truth-bed confident.bed --smoke-truth-vcf "$smoke/giab_truth.vcf.gz" \
  -O "$out/evaluation.json"

if $install; then
  target=$root/python/cnnscore/models/default_models
  for kind in 1d 2d; do
    cp "$out/cnnscore_compact_$kind.hd5" "$out/cnnscore_compact_$kind.json" "$target/"
  done
  cp "$out/evaluation.json" "$target/evaluation.json"
  (cd "$target" && sha256sum cnnscore_compact_*.hd5 cnnscore_compact_*.json evaluation.json > SHA256SUMS)
  echo "installed into $target; update MODEL_CARD.md from evaluation.json"
fi
