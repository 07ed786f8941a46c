version 1.0

# Score a VCF with a GATK CNN model (CNN_1D or CNN_2D), scattered over interval shards balanced by
# record count: SplitIntervals -> ScoreVariants (scatter) -> GatherVcfs, then, when truth resources
# are given, FilterVariantTranches (GATK's tranche filtering of the scores).

import "structs/structs.wdl"
import "tasks/split_intervals.wdl" as split
import "tasks/score_variants.wdl" as score
import "tasks/gather_vcfs.wdl" as gather
import "tasks/filter_variant_tranches.wdl" as tranches

workflow CNNScoreVariants {
  input {
    File input_vcf
    File input_vcf_index
    File reference_fasta
    File reference_fasta_index
    File? reference_fasta_gzi
    Array[File] reads = []
    Array[File] reads_indexes = []
    String? requester_pays_project
    File? architecture_json
    File? weights_hd5
    File? intervals
    String tensor_type = "read_tensor"
    String backend = "openvino"
    String precision = "fp32"
    Int? inference_batch_size
    Int? transfer_batch_size
    String reservoir_scope = "site"
    Int scatter_count = 10
    String output_prefix = "cnn_scored"

    Array[File] resources = []
    Array[File] resources_indexes = []
    String? info_key
    Array[Float] snp_tranches = [99.95]
    Array[Float] indel_tranches = [99.4]
    Boolean invalidate_previous_filters = false

    String docker
    Int score_cpu = 2
    Int score_memory_gb = 4
    Int preemptible = 3
    Int max_retries = 0
    Int boot_disk_gb = 0
    String? cpu_platform
  }

  # WDL 1.0 builds struct values from object literals (openwdl/wdl#801: no map-to-struct coercion
  # in 1.0; Cromwell rejects mixed-type map literals for structs, broadinstitute/cromwell#5414).
  String platform = select_first([cpu_platform, ""])
  RuntimeSettings light = object {
    docker: docker, cpu: 1, memory_gb: 2, preemptible: preemptible, max_retries: max_retries,
    boot_disk_gb: boot_disk_gb, cpu_platform: platform
  }
  RuntimeSettings scoring = object {
    docker: docker, cpu: score_cpu, memory_gb: score_memory_gb, preemptible: preemptible,
    max_retries: max_retries, boot_disk_gb: boot_disk_gb, cpu_platform: platform
  }

  call split.SplitIntervals {
    input:
      input_vcf = input_vcf,
      input_vcf_index = input_vcf_index,
      reference_fasta = reference_fasta,
      reference_fasta_index = reference_fasta_index,
      reference_fasta_gzi = reference_fasta_gzi,
      intervals = intervals,
      scatter_count = scatter_count,
      requester_pays_project = requester_pays_project,
      reads_count = length(reads),
      reads_indexes_count = length(reads_indexes),
      reads_needed = tensor_type == "read_tensor" && !defined(architecture_json),
      resources_count = length(resources),
      resources_indexes_count = length(resources_indexes),
      # ValidateBackends' check, passed as it passes (nothing is compared here): a task input a
      # call leaves unset is a workflow input to Cromwell, shown on Terra's inputs tab
      configurations_count = 2,
      runtime_settings = light
  }

  scatter (shard_index in range(length(SplitIntervals.shards))) {
    call score.ScoreVariants {
      input:
        input_vcf = input_vcf,
        input_vcf_index = input_vcf_index,
        reference_fasta = reference_fasta,
        reference_fasta_index = reference_fasta_index,
        reference_fasta_gzi = reference_fasta_gzi,
        reads = reads,
        reads_indexes = reads_indexes,
        requester_pays_project = requester_pays_project,
        architecture_json = architecture_json,
        weights_hd5 = weights_hd5,
        intervals = SplitIntervals.shards[shard_index],
        tensor_type = tensor_type,
        backend = backend,
        precision = precision,
        inference_batch_size = inference_batch_size,
        transfer_batch_size = transfer_batch_size,
        reservoir_scope = reservoir_scope,
        output_prefix = "~{output_prefix}.shard-~{shard_index}",
        runtime_settings = scoring
    }
  }

  call gather.GatherVcfs {
    input:
      scored_vcfs = ScoreVariants.scored_vcf,
      output_prefix = output_prefix,
      runtime_settings = light
  }

  if (length(resources) > 0) {
    call tranches.FilterVariantTranches {
      input:
        input_vcf = GatherVcfs.output_vcf,
        input_vcf_index = GatherVcfs.output_vcf_index,
        resources = resources,
        resources_indexes = resources_indexes,
        info_key = select_first([
          info_key, if tensor_type == "reference" then "CNN_1D" else "CNN_2D"
        ]),
        snp_tranches = snp_tranches,
        indel_tranches = indel_tranches,
        invalidate_previous_filters = invalidate_previous_filters,
        output_prefix = "~{output_prefix}.filtered",
        runtime_settings = light
    }
  }

  output {
    File scored_vcf = GatherVcfs.output_vcf
    File scored_vcf_index = GatherVcfs.output_vcf_index
    Array[File] shard_metrics = ScoreVariants.metrics
    File? filtered_vcf = FilterVariantTranches.filtered_vcf
    File? filtered_vcf_index = FilterVariantTranches.filtered_vcf_index
  }

  parameter_meta {
    input_vcf: "VCF to score (bgzip + tabix index)"
    input_vcf_index: "tabix index of input_vcf"
    reference_fasta: "indexed reference FASTA (plain or bgzip)"
    reference_fasta_index: ".fai of reference_fasta"
    reference_fasta_gzi: ".gzi of a bgzip reference_fasta"
    reads: "BAM/CRAM files for the 2D model; empty for the 1D model; all gs:// (streamed) or all another kind (drs://: counted on the scoring disk, judged by the first)"
    reads_indexes: ".bai/.crai/.csi of reads, one per file in the same order (passed with each, so any name works); another count stops the run in its first task"
    requester_pays_project: "Google Cloud project billed for reading requester-pays buckets (the reads and reference are streamed from gs://, not copied)"
    architecture_json: "GATK model JSON (small_2d.json, 1d_cnn_mix_train_full_bn.json, ...); leave both model files unset to score with GATK's default for tensor_type, as GATK did: small_2d (read_tensor), shipped in the package; 1d_cnn_mix_train_full_bn (reference) where the image carries it (see /opt/cnnscore/models/MODELS.txt in the image), else cnnscore_compact_1d, said in the task's stderr"
    weights_hd5: "GATK Keras-2 weights matching architecture_json (check its sha256)"
    intervals: "optional BED/interval_list: only records overlapping it are scored and written"
    tensor_type: "read_tensor (CNN_2D) or reference (CNN_1D)"
    backend: "inference backend: openvino (default: the fastest exact fp32 backend measured, same scores as tensorflow within 0.001; bench/RESULTS.md), onnxruntime, or tensorflow (the reference)"
    precision: "fp32 (default; GATK's scores), or bf16 with openvino on CPUs with avx512_bf16/AMX (int8 is refused: it changes calls)"
    inference_batch_size: "records encoded together and handed to the backend as one chunk (default 256 for 2D, 1024 for 1D); a backend may run a chunk in smaller requests (docs/SCORING.md)"
    transfer_batch_size: "variants per write (default 512 for 2D, 1024 for 1D, GATK's); an inference_batch_size above it is refused, as by GATK"
    reservoir_scope: "site: scores independent of scatter_count (default); run: GATK's one stream"
    scatter_count: "number of scoring shards wanted (balanced by record count)"
    output_prefix: "name of the gathered VCF (the filtered one adds .filtered); in file names each character outside A-Z a-z 0-9 . _ - becomes _"
    resources: "truth VCFs for tranche filtering (e.g. HapMap, Mills); none: no filtering step"
    resources_indexes: ".tbi/.csi of resources, one per resource in the same order (passed with each, so any name works); another count stops the run in its first task"
    info_key: "score key to filter on; default CNN_1D for tensor_type reference, else CNN_2D"
    snp_tranches: "SNP truth sensitivities in percent (GATK default 99.95)"
    indel_tranches: "indel truth sensitivities in percent (GATK default 99.4)"
    invalidate_previous_filters: "drop the input's FILTERs before tranche filtering"
    docker: "task image, required: on Terra the digest reference docker/publish.sh printed (REGISTRY/NAME@sha256:...), which the workspace's proxy group can read; locally cnnscore:local, what docker/podman-build.sh builds"
    score_cpu: "CPUs per scoring task (also the inference threads)"
    score_memory_gb: "memory per scoring task (GiB): peak measured 0.74 GB (2D, openvino, batch 256, 2 threads), 1.12 GB on tensorflow; 4 leaves room for 128-read pileups throughout a chunk (about 0.25 GB a chunk, up to four held with encoding beside inference)"
    preemptible: "preemptible tries on Terra before a regular VM (Spot preemption only: a VM rebooted or recreated while a task runs is retried only through max_retries)"
    max_retries: "retries of a failed task. Cromwell retries every failure, a bad input or a failed gate too, so keep 0 unless failures are transient (preemptions are retried by preemptible, apart); CompareScores never retries. Terra's Retry with more memory needs 1 or more"
    boot_disk_gb: "boot disk beyond what Cromwell gives the image (bootDiskSizeGb: GCP Batch adds it to its 30 GB, the Life Sciences backend added it to the image's size): 0, as every task writes to its local-disk"
    cpu_platform: "optional minimum CPU platform (Cromwell's cpuPlatform): Intel Ice Lake, Intel Cascade Lake or AMD Rome, the values for which Cromwell picks N2 or N2D machines (any other is sent as the minimum of an N1 VM: docs/WDL.md). None gives bf16 (Sapphire Rapids is not reachable this way). A minimum, not a pin: Intel Ice Lake, the newest N2 platform, is exact"
  }
}
