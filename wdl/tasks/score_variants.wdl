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
    String backend = "tensorflow"
    String precision = "fp32"
    Int? inference_batch_size
    Int? transfer_batch_size
    String reservoir_scope = "site"
    String output_prefix
    RuntimeSettings runtime_settings
  }

  Int disk_gb = ceil(size(input_vcf, "GB") * 2 + size(reads, "GB") + size(reference_fasta, "GB")) + 20

  command <<<
    set -euo pipefail
    # a bgzip FASTA needs its .gzi beside it; fail early and clearly if it did not arrive
    ~{if defined(reference_fasta_gzi) then "test -s '" + select_first([reference_fasta_gzi]) + "'" else ""}
    cnnscore score \
      -V '~{input_vcf}' \
      -R '~{reference_fasta}' \
      ~{sep=" " prefix("-I ", reads)} \
      -L '~{intervals}' \
      --tensor-type ~{tensor_type} \
      ~{"--architecture '" + architecture_json + "'"} \
      ~{"--weights '" + weights_hd5 + "'"} \
      --backend ~{backend} \
      --precision ~{precision} \
      ~{"--inference-batch-size " + inference_batch_size} \
      ~{"--transfer-batch-size " + transfer_batch_size} \
      --reservoir-scope ~{reservoir_scope} \
      --threads ~{runtime_settings.cpu} \
      --progress-seconds 60 \
      --metrics-json '~{output_prefix}.metrics.json' \
      -O '~{output_prefix}.vcf.gz'
  >>>

  output {
    File scored_vcf = "~{output_prefix}.vcf.gz"
    File scored_vcf_index = "~{output_prefix}.vcf.gz.tbi"
    File metrics = "~{output_prefix}.metrics.json"
  }

  runtime {
    docker: runtime_settings.docker
    cpu: runtime_settings.cpu
    memory: "~{runtime_settings.memory_gb} GiB"
    disks: "local-disk ~{disk_gb} HDD"
    preemptible: runtime_settings.preemptible
    maxRetries: runtime_settings.max_retries
  }

  parameter_meta {
    input_vcf: "VCF to score (bgzip + tabix index); only records overlapping `intervals` are scored"
    input_vcf_index: "tabix index of input_vcf, localised beside it"
    reference_fasta: "indexed reference FASTA (plain or bgzip)"
    reference_fasta_index: ".fai of reference_fasta, localised beside it"
    reference_fasta_gzi: ".gzi of a bgzip reference_fasta, localised beside it"
    reads: {description: "BAM/CRAM files for the 2D model (read_tensor)", localization_optional: false}
    reads_indexes: "their .bai/.crai indexes, localised beside them"
    architecture_json: "GATK model JSON (e.g. small_2d.json); with weights_hd5 unset too, the image's default for tensor_type: GATK's small_2d (read_tensor) or 1d_cnn_mix_train_full_bn (reference), which the image carries when its build could fetch them (its /opt/cnnscore/models/MODELS.txt lists them), else cnnscore's own shipped model"
    weights_hd5: "GATK Keras-2 weights (e.g. small_2d.hd5)"
    intervals: "this shard's interval_list from SplitIntervals"
    tensor_type: "read_tensor (2D, needs reads) or reference (1D)"
    backend: "inference backend name: tensorflow, openvino or onnxruntime"
    precision: "fp32 (default; GATK's scores), or bf16 with openvino on CPUs with avx512_bf16/AMX (int8 is refused: it changes calls)"
    inference_batch_size: "variants per model call; default 256 (2D) or 1024 (1D)"
    transfer_batch_size: "variants per output write; default 512 (2D) or 1024 (1D)"
    reservoir_scope: "site (default here: results independent of sharding) or run (GATK's one stream)"
    output_prefix: "name of the scored shard and its metrics"
    runtime_settings: "docker image, cpu (also inference threads), memory, preemptible, retries"
  }
}
