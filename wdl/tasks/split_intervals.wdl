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
    RuntimeSettings runtime_settings
  }

  Int disk_gb = ceil(size(input_vcf, "GB") + size(reference_fasta_index, "GB")) + 10

  command <<<
    set -euo pipefail
    # a bgzip FASTA needs its .gzi beside it; fail early and clearly if it did not arrive
    ~{if defined(reference_fasta_gzi) then "test -s '" + select_first([reference_fasta_gzi]) + "'" else ""}
    rm -rf shards
    cnnscore split-intervals \
      -V '~{input_vcf}' \
      -R '~{reference_fasta}' \
      ~{if defined(intervals) then "-L '" + intervals + "'" else ""} \
      --scatter-count ~{scatter_count} \
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
    reference_fasta: "indexed reference FASTA (plain or bgzip); only contig lengths are read"
    reference_fasta_index: ".fai of reference_fasta"
    reference_fasta_gzi: ".gzi of a bgzip reference_fasta"
    intervals: "optional BED or Picard interval_list restricting the records first (GATK -L)"
    scatter_count: "shards wanted; fewer are made when records overlap too much to cut cleanly"
    runtime_settings: "docker image, preemptible and retry settings"
  }
}
