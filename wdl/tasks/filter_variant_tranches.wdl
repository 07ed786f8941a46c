version 1.0

import "../structs/structs.wdl"

task FilterVariantTranches {
  input {
    File input_vcf
    File input_vcf_index
    Array[File] resources
    Array[File] resources_indexes
    String info_key = "CNN_2D"
    Array[Float] snp_tranches = [99.95]
    Array[Float] indel_tranches = [99.4]
    Boolean invalidate_previous_filters = false
    String output_prefix
    RuntimeSettings runtime_settings
  }

  # Two streaming passes: disk for the input, its filtered copy and the resources, little memory.
  # Every file this task writes is named from output_prefix with each character outside
  # [A-Za-z0-9._-] made "_": GCP Batch's transfer script passes object names through bash unquoted
  # (`$`, quotes, runs of spaces break them; docs/CROMWELL.md row 17).
  String file_prefix = sub(sub(output_prefix, "[^A-Za-z0-9._-]", "_"), "^-", "_")

  Int disk_gb = ceil(size(input_vcf, "GB") * 2.5 + size(resources, "GB")) + 10

  command <<<
    set -euo pipefail
    # a resource index per resource, in the same order: an index reaches a task only as an input
    # of its own (Cromwell and miniwdl localise each input alone, docs/CROMWELL.md row 14)
    if [ ~{length(resources_indexes)} -ne ~{length(resources)} ]; then
      echo "cnnscore: error: resources_indexes: ~{length(resources_indexes)} indexes for ~{length(resources)} resources: give one per resource, in the same order" >&2
      exit 1
    fi
    # flags built from files, not prefix(): Cromwell cannot interpolate prefix() of an empty
    # array, and its write_lines([]) holds one newline (docs/CROMWELL.md); no tranches given
    # means GATK's defaults. Each resource goes with the index given for it (htslib's ##idx##):
    # Cromwell localises each input by its own folder, so an index may not land beside its VCF
    resources=()
    while IFS= read -r resource || [ -n "${resource}" ]; do
      if [ -n "${resource}" ]; then resources+=("${resource}"); fi
    done < '~{write_lines(resources)}'
    indexes=()
    while IFS= read -r index || [ -n "${index}" ]; do
      if [ -n "${index}" ]; then indexes+=("${index}"); fi
    done < '~{write_lines(resources_indexes)}'
    args=()
    for i in "${!resources[@]}"; do
      args+=(--resource "${resources[$i]}##idx##${indexes[$i]}")
    done
    for tranche in ~{sep=" " snp_tranches}; do args+=(--snp-tranche "${tranche}"); done
    for tranche in ~{sep=" " indel_tranches}; do args+=(--indel-tranche "${tranche}"); done
    # the VCF's path and the key through a quoted here-document: no character is read by bash
    { IFS= read -r input_vcf; IFS= read -r info_key; } <<'CNNSCORE_VALUES'
~{input_vcf}
~{info_key}
CNNSCORE_VALUES
    status=0
    cnnscore filter \
      -V "${input_vcf}" \
      "${args[@]}" \
      --info-key "${info_key}" \
      ~{if invalidate_previous_filters then "--invalidate-previous-filters" else ""} \
      -O '~{file_prefix}.vcf.gz' || status=$?
    # 137: killed by SIGKILL, most often the kernel's out-of-memory killer. Say so in the task's
    # stderr, which Cromwell's "retry with more memory" searches for OutOfMemory or Killed (bash's
    # own report of the kill may not reach it: docs/CROMWELL.md, row 18)
    if [ "${status}" -eq 137 ]; then echo "cnnscore: error: Killed (SIGKILL, most likely OutOfMemory): give the task more memory" >&2; fi
    exit "${status}"
  >>>

  output {
    File filtered_vcf = "~{file_prefix}.vcf.gz"
    File filtered_vcf_index = "~{file_prefix}.vcf.gz.tbi"
  }

  runtime {
    docker: runtime_settings.docker
    cpu: 1
    memory: "~{runtime_settings.memory_gb} GiB"
    disks: "local-disk ~{disk_gb} SSD"
    preemptible: runtime_settings.preemptible
    maxRetries: runtime_settings.max_retries
    bootDiskSizeGb: runtime_settings.boot_disk_gb
    cpuPlatform: runtime_settings.cpu_platform
  }

  parameter_meta {
    input_vcf: "scored VCF (the gathered CNNScoreVariants output)"
    input_vcf_index: "its tabix index (not read: filtering reads the VCF whole, twice)"
    resources: "truth VCFs (bgzip), e.g. HapMap for SNPs and Mills for indels"
    resources_indexes: "their .tbi/.csi indexes, one per resource in the same order (passed with each, so any name and folder works); another count stops the task, and an index that does not belong to its VCF is refused"
    info_key: "INFO key holding the score: CNN_2D or CNN_1D"
    snp_tranches: "SNP truth sensitivities in percent (0 <= t < 100); empty: GATK's default"
    indel_tranches: "indel truth sensitivities in percent (0 <= t < 100); empty: GATK's default"
    invalidate_previous_filters: "drop the input's FILTER values and ##FILTER lines first"
    output_prefix: "name of the filtered VCF (each character outside A-Z a-z 0-9 . _ - made _)"
    runtime_settings: "docker image, memory, preemptible, retries, boot disk, CPU platform (one CPU is used)"
  }
}
