version 1.0

import "../structs/structs.wdl"

task ScoreVariants {
  input {
    File input_vcf
    File input_vcf_index
    File reference_fasta
    File reference_fasta_index
    File? reference_fasta_gzi
    Array[File] reads = []
    Array[File] reads_indexes = []
    File? architecture_json
    File? weights_hd5
    File intervals
    String tensor_type = "read_tensor"
    String backend = "openvino"
    String precision = "fp32"
    Int? inference_batch_size
    Int? transfer_batch_size
    String reservoir_scope = "site"
    String? requester_pays_project
    String output_prefix
    RuntimeSettings runtime_settings
  }

  # Every file this task writes is named from output_prefix with each character outside
  # [A-Za-z0-9._-] made "_": GCP Batch's transfer script passes object names through bash unquoted
  # (`$`, quotes, runs of spaces break them; docs/CROMWELL.md row 17).
  String file_prefix = sub(sub(output_prefix, "[^A-Za-z0-9._-]", "_"), "^-", "_")

  # The reads and the reference are streamed (parameter_meta: localization_optional), a CRAM's
  # reference included: htslib reads it by range too. So the disk holds only the VCF shard, the
  # outputs and the small indexes cnnscore caches in the working folder. Reads are streamed only
  # from gs://, though: Cromwell downloads a drs:// URI whole when it cannot resolve it to gs://
  # before the task (docs/CROMWELL.md, row 15), and other backends localise everything, so any
  # other reads are counted on the disk. The first file stands for all: give one kind of URL.
  Boolean reads_streamed = length(reads) == 0 || sub(reads[0], "^gs://.*", "") == ""
  Float reads_gb = if reads_streamed then 0 else size(reads, "GB") + size(reads_indexes, "GB")
  Int disk_gb = ceil(size(input_vcf, "GB") * 2 + reads_gb) + 20

  command <<<
    set -euo pipefail
    # What cnnscore caches (the indexes of gs:// inputs) stays in the working folder, on the
    # task's disk, whatever the user and HOME: Cromwell runs the image's user (or any uid) and
    # HOME is on the small boot disk (docs/CROMWELL.md)
    export CNNSCORE_GCS_CACHE="${PWD}/.cnnscore-home/gcs"
    # an index per reads file, in the same order: an index reaches a task only as an input of
    # its own (Cromwell and miniwdl localise each input alone, docs/CROMWELL.md row 14)
    if [ ~{length(reads_indexes)} -ne ~{length(reads)} ]; then
      echo "cnnscore: error: reads_indexes: ~{length(reads_indexes)} indexes for ~{length(reads)} reads files: give one per file, in the same order" >&2
      exit 1
    fi
    # Every path and text from the inputs reaches bash through a quoted here-document, one value a
    # line, so that no character in a name (', $, `) is read by the shell: gs:// names may hold
    # any, and streamed inputs reach the command as their URLs (docs/CROMWELL.md, row 17)
    { IFS= read -r input_vcf; IFS= read -r input_vcf_index; IFS= read -r reference_fasta
      IFS= read -r reference_fasta_index; IFS= read -r gzi; IFS= read -r intervals
      IFS= read -r architecture_json; IFS= read -r weights_hd5; IFS= read -r tensor_type
      IFS= read -r backend; IFS= read -r precision; IFS= read -r reservoir_scope
      IFS= read -r requester_pays_project; } <<'CNNSCORE_VALUES'
~{input_vcf}
~{input_vcf_index}
~{reference_fasta}
~{reference_fasta_index}
~{select_first([reference_fasta_gzi, ""])}
~{intervals}
~{select_first([architecture_json, ""])}
~{select_first([weights_hd5, ""])}
~{tensor_type}
~{backend}
~{precision}
~{reservoir_scope}
~{select_first([requester_pays_project, ""])}
CNNSCORE_VALUES
    mapfile -t reads <<'CNNSCORE_VALUES'
~{sep="\n" reads}
CNNSCORE_VALUES
    mapfile -t indexes <<'CNNSCORE_VALUES'
~{sep="\n" reads_indexes}
CNNSCORE_VALUES
    # Reads and reference arrive as gs:// URLs under Cromwell on Google (localization_optional),
    # which cnnscore reads by byte range, or as local paths (miniwdl and Cromwell's Local backend
    # localise everything). The reference goes with its own .fai (and .gzi), whatever their names.
    case "${gzi}" in
      ""|gs://*) ;;
      *) if [ ! -s "${gzi}" ]; then
           echo "cnnscore: error: reference_fasta_gzi: ${gzi}: missing or empty" >&2
           exit 1
         fi ;;
    esac
    reference="${reference_fasta}##idx##${reference_fasta_index}"
    if [ -n "${gzi}" ]; then reference="${reference}##idx##${gzi}"; fi
    # each BAM/CRAM with the index given for it (htslib's ##idx##), whatever the index's name
    read_args=()
    if [ ~{length(reads)} -gt 0 ]; then
      for i in "${!reads[@]}"; do read_args+=(-I "${reads[$i]}##idx##${indexes[$i]}"); done
    fi
    optional=()
    if [ -n "${architecture_json}" ]; then optional+=(--architecture "${architecture_json}"); fi
    if [ -n "${weights_hd5}" ]; then optional+=(--weights "${weights_hd5}"); fi
    if [ -n "${requester_pays_project}" ]; then
      optional+=(--requester-pays-project "${requester_pays_project}")
    fi
    status=0
    cnnscore score \
      -V "${input_vcf}##idx##${input_vcf_index}" \
      -R "${reference}" \
      "${read_args[@]}" \
      -L "${intervals}" \
      --tensor-type "${tensor_type}" \
      "${optional[@]}" \
      --backend "${backend}" \
      --precision "${precision}" \
      ~{"--inference-batch-size " + inference_batch_size} \
      ~{"--transfer-batch-size " + transfer_batch_size} \
      --reservoir-scope "${reservoir_scope}" \
      --threads ~{runtime_settings.cpu} \
      --progress-seconds 60 \
      --metrics-json '~{file_prefix}.metrics.json' \
      -O '~{file_prefix}.vcf.gz' || status=$?
    # 137: killed by SIGKILL, most often the kernel's out-of-memory killer. Say so in the task's
    # stderr, which Cromwell's "retry with more memory" searches for OutOfMemory or Killed (bash's
    # own report of the kill may not reach it: docs/CROMWELL.md, row 18)
    if [ "${status}" -eq 137 ]; then echo "cnnscore: error: Killed (SIGKILL, most likely OutOfMemory): give the task more memory" >&2; fi
    exit "${status}"
  >>>

  output {
    File scored_vcf = "~{file_prefix}.vcf.gz"
    File scored_vcf_index = "~{file_prefix}.vcf.gz.tbi"
    File metrics = "~{file_prefix}.metrics.json"
  }

  runtime {
    docker: runtime_settings.docker
    cpu: runtime_settings.cpu
    memory: "~{runtime_settings.memory_gb} GiB"
    disks: "local-disk ~{disk_gb} SSD"
    preemptible: runtime_settings.preemptible
    maxRetries: runtime_settings.max_retries
    bootDiskSizeGb: runtime_settings.boot_disk_gb
    cpuPlatform: runtime_settings.cpu_platform
  }

  parameter_meta {
    input_vcf: "VCF to score (bgzip + tabix index); only records overlapping `intervals` are scored"
    input_vcf_index: "tabix index of input_vcf, passed with it (htslib's ##idx##), so any name works; an index of another VCF is refused"
    reference_fasta: {description: "indexed reference FASTA (plain or bgzip); streamed: read by byte range from gs://, also for CRAM decoding (then its .fai and .gzi must also lie beside it, named FASTA.fai and FASTA.gzi, as htslib looks for them there)", localization_optional: true}
    reference_fasta_index: {description: ".fai of reference_fasta: passed with it, so any name works for BAM reads", localization_optional: true}
    reference_fasta_gzi: {description: ".gzi of a bgzip reference_fasta: passed with it", localization_optional: true}
    reads: {description: "BAM/CRAM files for the 2D model (read_tensor); streamed: read by byte range from gs://, not copied; any other URL (drs://) is counted on the disk, judged by the first file, so give all from gs:// or none", localization_optional: true}
    reads_indexes: {description: "their .bai/.crai/.csi indexes, one per file in the same order (passed with each file, so any name works); another count stops the task, and an index that does not belong to its file is refused", localization_optional: true}
    requester_pays_project: "Google Cloud project billed for reading requester-pays buckets"
    architecture_json: "GATK model JSON (e.g. small_2d.json); with weights_hd5 unset too, GATK's default for tensor_type: small_2d (read_tensor), shipped in the package; 1d_cnn_mix_train_full_bn (reference) where the image carries it (its /opt/cnnscore/models/MODELS.txt), else cnnscore_compact_1d, said in the task's stderr"
    weights_hd5: "GATK Keras-2 weights (e.g. small_2d.hd5)"
    intervals: "this shard's interval_list from SplitIntervals"
    tensor_type: "read_tensor (2D, needs reads) or reference (1D)"
    backend: "inference backend: openvino (default, the fastest exact fp32 backend measured; bench/RESULTS.md), onnxruntime, or tensorflow (the reference)"
    precision: "fp32 (default; GATK's scores), or bf16 with openvino on CPUs with avx512_bf16/AMX (int8 is refused: it changes calls)"
    inference_batch_size: "records encoded together and handed to the backend as one chunk; default 256 (2D) or 1024 (1D)"
    transfer_batch_size: "variants per output write; default 512 (2D) or 1024 (1D), GATK's; an inference_batch_size above it is refused, as by GATK"
    reservoir_scope: "site (default here: results independent of sharding) or run (GATK's one stream)"
    output_prefix: "name of the scored shard and its metrics (each character outside A-Z a-z 0-9 . _ - made _)"
    runtime_settings: "docker image, cpu (also inference threads), memory, preemptible, retries, boot disk, CPU platform"
  }
}
