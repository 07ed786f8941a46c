version 1.0

import "../structs/structs.wdl"

task SplitIntervals {
  input {
    File input_vcf
    File input_vcf_index
    File reference_fasta
    File reference_fasta_index
    File? reference_fasta_gzi
    File? intervals
    Int scatter_count
    String? requester_pays_project
    RuntimeSettings runtime_settings
  }

  # only the contig lengths are read from the (streamed) reference's .fai
  Int disk_gb = ceil(size(input_vcf, "GB")) + 10

  command <<<
    set -euo pipefail
    # the reference may arrive as gs:// URLs (localization_optional); a local bgzip FASTA needs
    # its .gzi beside it: fail early and clearly if it did not arrive
    gzi='~{select_first([reference_fasta_gzi, ""])}'
    case "$gzi" in ""|gs://*) ;; *) test -s "$gzi" ;; esac
    rm -rf shards
    cnnscore split-intervals \
      -V '~{input_vcf}' \
      -R '~{reference_fasta}' \
      ~{if defined(intervals) then "-L '" + intervals + "'" else ""} \
      --scatter-count ~{scatter_count} \
      ~{"--requester-pays-project '" + requester_pays_project + "'"} \
      -O shards
  >>>

  output {
    Array[File] shards = glob("shards/shard-*.interval_list")
  }

  runtime {
    docker: runtime_settings.docker
    cpu: 1
    memory: "2 GiB"
    disks: "local-disk ~{disk_gb} HDD"
    preemptible: runtime_settings.preemptible
    maxRetries: runtime_settings.max_retries
  }

  parameter_meta {
    input_vcf: "VCF to score (bgzip + tabix index)"
    input_vcf_index: "tabix index of input_vcf, localised beside it"
    reference_fasta: {description: "indexed reference FASTA (plain or bgzip); only contig lengths are read, so it is not copied", localization_optional: true}
    reference_fasta_index: {description: ".fai of reference_fasta, beside it", localization_optional: true}
    reference_fasta_gzi: {description: ".gzi of a bgzip reference_fasta", localization_optional: true}
    requester_pays_project: "Google Cloud project billed for reading requester-pays buckets"
    intervals: "optional BED or Picard interval_list restricting the records first (GATK -L)"
    scatter_count: "shards wanted; fewer are made when records overlap too much to cut cleanly"
    runtime_settings: "docker image, preemptible and retry settings"
  }
}
