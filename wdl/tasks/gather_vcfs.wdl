version 1.0

import "../structs/structs.wdl"

task GatherVcfs {
  input {
    Array[File] scored_vcfs
    String output_prefix
    RuntimeSettings runtime_settings
  }

  # Every file this task writes is named from output_prefix with each character outside
  # [A-Za-z0-9._-] made "_": GCP Batch's transfer script passes object names through bash unquoted
  # (`$`, quotes, runs of spaces break them; docs/CROMWELL.md row 17).
  String file_prefix = sub(sub(output_prefix, "[^A-Za-z0-9._-]", "_"), "^-", "_")

  Int disk_gb = ceil(size(scored_vcfs, "GB") * 2.5) + 10

  command <<<
    set -euo pipefail
    # one -I per shard, read from a file: Cromwell cannot interpolate prefix() of an empty
    # array, and its write_lines([]) holds one newline (docs/CROMWELL.md)
    inputs=()
    while IFS= read -r vcf || [ -n "${vcf}" ]; do
      if [ -n "${vcf}" ]; then inputs+=(-I "${vcf}"); fi
    done < '~{write_lines(scored_vcfs)}'
    status=0
    cnnscore gather-vcfs "${inputs[@]}" -O '~{file_prefix}.vcf.gz' || status=$?
    # 137: killed by SIGKILL, most often the kernel's out-of-memory killer. Say so in the task's
    # stderr, which Cromwell's "retry with more memory" searches for OutOfMemory or Killed (bash's
    # own report of the kill may not reach it: docs/CROMWELL.md, row 18)
    if [ "${status}" -eq 137 ]; then echo "cnnscore: error: Killed (SIGKILL, most likely OutOfMemory): give the task more memory" >&2; fi
    exit "${status}"
  >>>

  output {
    File output_vcf = "~{file_prefix}.vcf.gz"
    File output_vcf_index = "~{file_prefix}.vcf.gz.tbi"
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
    scored_vcfs: "scored shards, in shard order (= input order)"
    output_prefix: "name of the gathered VCF (each character outside A-Z a-z 0-9 . _ - made _)"
    runtime_settings: "docker image, preemptible, retries, boot disk and CPU platform"
  }
}
