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
  Int disk_gb = ceil(size(input_vcf, "GB") * 2.5 + size(resources, "GB")) + 10

  command <<<
    set -euo pipefail
    cnnscore filter \
      -V '~{input_vcf}' \
      ~{sep=" " prefix("--resource ", resources)} \
      --info-key ~{info_key} \
      ~{sep=" " prefix("--snp-tranche ", snp_tranches)} \
      ~{sep=" " prefix("--indel-tranche ", indel_tranches)} \
      ~{if invalidate_previous_filters then "--invalidate-previous-filters" else ""} \
      -O '~{output_prefix}.vcf.gz'
  >>>

  output {
    File filtered_vcf = "~{output_prefix}.vcf.gz"
    File filtered_vcf_index = "~{output_prefix}.vcf.gz.tbi"
  }

  runtime {
    docker: runtime_settings.docker
    cpu: 1
    memory: "~{runtime_settings.memory_gb} GiB"
    disks: "local-disk ~{disk_gb} HDD"
    preemptible: runtime_settings.preemptible
    maxRetries: runtime_settings.max_retries
  }

  parameter_meta {
    input_vcf: "scored VCF (the gathered CNNScoreVariants output)"
    input_vcf_index: "its tabix index, localised beside it"
    resources: "truth VCFs (bgzip), e.g. HapMap for SNPs and Mills for indels"
    resources_indexes: "their .tbi/.csi indexes, same order, localised beside them"
    info_key: "INFO key holding the score: CNN_2D or CNN_1D"
    snp_tranches: "SNP truth sensitivities in percent (0 <= t < 100)"
    indel_tranches: "indel truth sensitivities in percent (0 <= t < 100)"
    invalidate_previous_filters: "drop the input's FILTER values and ##FILTER lines first"
    output_prefix: "name of the filtered VCF"
    runtime_settings: "docker image, memory, preemptible and retry settings (one CPU is used)"
  }
}
