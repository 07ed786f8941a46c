version 1.0

import "../structs/structs.wdl"

task CompareScores {
  input {
    File baseline_vcf
    File candidate_vcf
    Array[File] baseline_metrics = []
    Array[File] candidate_metrics = []
    String baseline_label
    String candidate_label
    String info_key = "CNN_2D"
    Float? snp_cutoff
    Float? indel_cutoff
    Boolean compare_filters = false
    Array[String] fail_if = []
    Boolean fail_on_gates = true
    String output_prefix
    RuntimeSettings runtime_settings
  }

  # Every file this task writes is named from output_prefix with each character outside
  # [A-Za-z0-9._-] made "_": GCP Batch's transfer script passes object names through bash unquoted
  # (`$`, quotes, runs of spaces break them; docs/CROMWELL.md row 17).
  String file_prefix = sub(sub(output_prefix, "[^A-Za-z0-9._-]", "_"), "^-", "_")

  Int disk_gb = ceil(size(baseline_vcf, "GB") + size(candidate_vcf, "GB")) + 10

  command <<<
    set -euo pipefail
    # matplotlib's cache in the working folder, whatever the user and HOME (docs/CROMWELL.md)
    export MPLCONFIGDIR="${PWD}/.cnnscore-home/matplotlib"
    # gates hold shell metacharacters (> <): pass each one as a single quoted argument. Cromwell's
    # write_lines([]) is a file holding one newline (miniwdl's is empty): skip empty lines.
    gates=()
    while IFS= read -r gate || [ -n "${gate}" ]; do
      if [ -n "${gate}" ]; then gates+=(--fail-if "${gate}"); fi
    done < '~{write_lines(fail_if)}'
    # each metrics file one argument, whatever its name holds (a configuration name is a user's)
    metrics=()
    if [ ~{length(baseline_metrics)} -gt 0 ]; then
      mapfile -t baseline <<'CNNSCORE_VALUES'
~{sep="\n" baseline_metrics}
CNNSCORE_VALUES
      metrics+=(--baseline-metrics "${baseline[@]}")
    fi
    if [ ~{length(candidate_metrics)} -gt 0 ]; then
      mapfile -t candidate <<'CNNSCORE_VALUES'
~{sep="\n" candidate_metrics}
CNNSCORE_VALUES
      metrics+=(--candidate-metrics "${candidate[@]}")
    fi
    # the labels are a user's text, quotes included: read them from a file, not the command line
    labels='~{write_lines([baseline_label, candidate_label])}'
    baseline_label=$(sed -n 1p "${labels}")
    candidate_label=$(sed -n 2p "${labels}")
    if [ "$(grep -c '' "${labels}")" -gt 2 ]; then  # lines, the last one ended or not
      echo "cnnscore: error: baseline_label, candidate_label: a label holds a line break" >&2
      exit 1
    fi
    # paths and the key through a quoted here-document: no character in them is read by bash
    { IFS= read -r baseline_vcf; IFS= read -r candidate_vcf; IFS= read -r info_key; } <<'CNNSCORE_VALUES'
~{baseline_vcf}
~{candidate_vcf}
~{info_key}
CNNSCORE_VALUES
    status=0
    cnnscore compare \
      --baseline "${baseline_vcf}" \
      --candidate "${candidate_vcf}" \
      "${metrics[@]}" \
      --baseline-label="${baseline_label}" \
      --candidate-label="${candidate_label}" \
      --info-key "${info_key}" \
      ~{"--snp-cutoff " + snp_cutoff} \
      ~{"--indel-cutoff " + indel_cutoff} \
      ~{true="--compare-filters" false="" compare_filters} \
      "${gates[@]}" \
      -O '~{file_prefix}' || status=$?
    # 137: killed by SIGKILL, most often the kernel's out-of-memory killer. Say so in the task's
    # stderr, which Cromwell's "retry with more memory" searches for OutOfMemory or Killed (bash's
    # own report of the kill may not reach it: docs/CROMWELL.md, row 18)
    if [ "${status}" -eq 137 ]; then echo "cnnscore: error: Killed (SIGKILL, most likely OutOfMemory): give the task more memory" >&2; fi
    # 3 = a --fail-if gate held; the reports are complete either way
    if [ "${status}" -ne 0 ] && [ "${status}" -ne 3 ]; then exit "${status}"; fi
    if [ "${status}" -eq 3 ]; then echo false > gates_passed.txt; else echo true > gates_passed.txt; fi
    if [ "${status}" -eq 3 ] && [ '~{fail_on_gates}' = 'true' ]; then exit 3; fi
  >>>

  output {
    File report_json = "~{file_prefix}.json"
    File report_html = "~{file_prefix}.html"
    Boolean gates_passed = read_boolean("gates_passed.txt")
  }

  runtime {
    docker: runtime_settings.docker
    cpu: 1
    memory: "2 GiB"
    disks: "local-disk ~{disk_gb} SSD"
    preemptible: runtime_settings.preemptible
    # a gate that holds holds again: Cromwell retries any failure, so never retry this one
    maxRetries: 0
    bootDiskSizeGb: runtime_settings.boot_disk_gb
    cpuPlatform: runtime_settings.cpu_platform
  }

  parameter_meta {
    baseline_vcf: "scored VCF of the reference configuration"
    candidate_vcf: "scored VCF of the configuration being checked"
    baseline_metrics: "the baseline's per-shard --metrics-json files (throughput)"
    candidate_metrics: "the candidate's per-shard --metrics-json files"
    baseline_label: "name of the baseline in the report"
    candidate_label: "name of the candidate in the report"
    info_key: "INFO key compared: CNN_2D or CNN_1D"
    snp_cutoff: "tranche cutoff for SNP classification concordance (filtered iff score <= cutoff)"
    indel_cutoff: "tranche cutoff for indel classification concordance"
    compare_filters: "inputs are tranche-filtered: compare their FILTER columns"
    fail_if: "gates such as max_abs_delta>0.01 or concordance<0.999"
    fail_on_gates: "fail the task when a gate holds (otherwise report it in gates_passed)"
    output_prefix: "report name: writes PREFIX.json and PREFIX.html (each character outside A-Z a-z 0-9 . _ - made _)"
    runtime_settings: "docker image, preemptible, boot disk and CPU platform (retries: never)"
  }
}
