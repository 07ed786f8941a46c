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
    # the workflow's file lists against their index lists, compared in its first task so that a
    # mismatch stops the run before any scoring is paid for (the scoring and filter tasks, which
    # use them, compare them again)
    Int reads_count = 0
    Int reads_indexes_count = 0
    # read tensors need reads: with none, every scoring shard would stop on it, each on its own VM
    Boolean reads_needed = false
    Int resources_count = 0
    Int resources_indexes_count = 0
    # ValidateBackends' configurations: each is compared with the first, so one alone would end
    # "successfully" with no comparison at all
    Int configurations_count = 2
    RuntimeSettings runtime_settings
  }

  # only the contig lengths are read from the (streamed) reference's .fai
  Int disk_gb = ceil(size(input_vcf, "GB")) + 10

  command <<<
    set -euo pipefail
    if [ ~{reads_count} -eq 0 ] && ~{reads_needed}; then
      echo "cnnscore: error: reads: none given, and tensor_type read_tensor scores from them: give the BAM/CRAM files (with reads_indexes)" >&2
      exit 1
    fi
    if [ ~{reads_indexes_count} -ne ~{reads_count} ]; then
      echo "cnnscore: error: reads_indexes: ~{reads_indexes_count} indexes for ~{reads_count} reads files: give one per file, in the same order" >&2
      exit 1
    fi
    if [ ~{resources_indexes_count} -ne ~{resources_count} ]; then
      echo "cnnscore: error: resources_indexes: ~{resources_indexes_count} indexes for ~{resources_count} resources: give one per resource, in the same order" >&2
      exit 1
    fi
    if [ ~{configurations_count} -lt 2 ]; then
      echo "cnnscore: error: configurations: ~{configurations_count} given: each is compared with the first, so give at least two" >&2
      exit 1
    fi
    # cached indexes of gs:// inputs in the working folder, whatever HOME (docs/CROMWELL.md)
    export CNNSCORE_GCS_CACHE="${PWD}/.cnnscore-home/gcs"
    # paths and texts reach bash through a quoted here-document, one a line: no character in a
    # name (', $, `) is read by the shell (docs/CROMWELL.md, row 17)
    { IFS= read -r input_vcf; IFS= read -r input_vcf_index; IFS= read -r reference_fasta
      IFS= read -r reference_fasta_index; IFS= read -r gzi; IFS= read -r intervals
      IFS= read -r requester_pays_project; } <<'CNNSCORE_VALUES'
~{input_vcf}
~{input_vcf_index}
~{reference_fasta}
~{reference_fasta_index}
~{select_first([reference_fasta_gzi, ""])}
~{select_first([intervals, ""])}
~{select_first([requester_pays_project, ""])}
CNNSCORE_VALUES
    # the reference may arrive as gs:// URLs (localization_optional), with its own .fai (and
    # .gzi), whatever their names; a local .gzi that did not arrive fails here, clearly
    case "${gzi}" in
      ""|gs://*) ;;
      *) if [ ! -s "${gzi}" ]; then
           echo "cnnscore: error: reference_fasta_gzi: ${gzi}: missing or empty" >&2
           exit 1
         fi ;;
    esac
    reference="${reference_fasta}##idx##${reference_fasta_index}"
    if [ -n "${gzi}" ]; then reference="${reference}##idx##${gzi}"; fi
    optional=()
    if [ -n "${intervals}" ]; then optional+=(-L "${intervals}"); fi
    if [ -n "${requester_pays_project}" ]; then
      optional+=(--requester-pays-project "${requester_pays_project}")
    fi
    rm -rf shards
    status=0
    cnnscore split-intervals \
      -V "${input_vcf}##idx##${input_vcf_index}" \
      -R "${reference}" \
      "${optional[@]}" \
      --scatter-count ~{scatter_count} \
      -O shards || status=$?
    # 137: killed by SIGKILL, most often the kernel's out-of-memory killer. Say so in the task's
    # stderr, which Cromwell's "retry with more memory" searches for OutOfMemory or Killed (bash's
    # own report of the kill may not reach it: docs/CROMWELL.md, row 18)
    if [ "${status}" -eq 137 ]; then echo "cnnscore: error: Killed (SIGKILL, most likely OutOfMemory): give the task more memory" >&2; fi
    exit "${status}"
  >>>

  output {
    Array[File] shards = glob("shards/shard-*.interval_list")
  }

  runtime {
    docker: runtime_settings.docker
    cpu: 1
    memory: "2 GiB"
    disks: "local-disk ~{disk_gb} SSD"
    preemptible: runtime_settings.preemptible
    maxRetries: runtime_settings.max_retries
    bootDiskSizeGb: runtime_settings.boot_disk_gb
    cpuPlatform: runtime_settings.cpu_platform
  }

  parameter_meta {
    input_vcf: "VCF to score (bgzip + tabix index)"
    input_vcf_index: "tabix index of input_vcf, passed with it (htslib's ##idx##), so any name works; an index of another VCF is refused"
    reference_fasta: {description: "indexed reference FASTA (plain or bgzip); only contig lengths are read, so it is not copied", localization_optional: true}
    reference_fasta_index: {description: ".fai of reference_fasta: passed with it, so any name works", localization_optional: true}
    reference_fasta_gzi: {description: ".gzi of a bgzip reference_fasta", localization_optional: true}
    requester_pays_project: "Google Cloud project billed for reading requester-pays buckets"
    intervals: "optional BED or Picard interval_list restricting the records first (GATK -L)"
    scatter_count: "shards wanted; fewer are made when records overlap too much to cut cleanly, and one when there are no records"
    reads_count: "the workflow's reads files, compared with reads_indexes_count"
    reads_indexes_count: "the workflow's reads indexes: another count than reads_count stops the run here"
    reads_needed: "true where the scoring reads the reads (tensor_type read_tensor, no model of another type given): no reads stops the run here"
    resources_count: "the workflow's truth resources, compared with resources_indexes_count"
    resources_indexes_count: "the workflow's resource indexes: another count than resources_count stops the run here"
    configurations_count: "ValidateBackends' configurations: fewer than two stops the run here (nothing to compare)"
    runtime_settings: "docker image, preemptible, retries, boot disk and CPU platform"
  }
}
