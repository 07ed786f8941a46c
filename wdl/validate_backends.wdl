version 1.0

# Score the same interval shards with several backend configurations and compare each with the
# first (the baseline): score deltas, classification concordance and throughput, as report.json and
# report.html per candidate. SplitIntervals -> per configuration: ScoreVariants (scatter) ->
# GatherVcfs -> FilterVariantTranches (when resources are given: each configuration's own tranche
# cutoffs, as a user would run it) -> CompareScores (each candidate against the baseline).

import "structs/structs.wdl"
import "tasks/split_intervals.wdl" as split
import "tasks/score_variants.wdl" as score
import "tasks/gather_vcfs.wdl" as gather
import "tasks/compare_scores.wdl" as compare
import "tasks/filter_variant_tranches.wdl" as tranches

workflow ValidateBackends {
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
    Array[BackendConfig] configurations
    String reservoir_scope = "site"
    Int scatter_count = 4
    Array[File] resources = []
    Array[File] resources_indexes = []
    Array[Float] snp_tranches = [99.95]
    Array[Float] indel_tranches = [99.4]
    Boolean invalidate_previous_filters = false
    Float? snp_cutoff
    Float? indel_cutoff
    Array[String] fail_if = []
    Boolean fail_on_gates = true
    String output_prefix = "validation"

    String docker
    Int score_cpu = 2
    Int score_memory_gb = 4
    Int preemptible = 0
    Int max_retries = 0
    Int boot_disk_gb = 0
    String? cpu_platform
  }

  String info_key = if tensor_type == "reference" then "CNN_1D" else "CNN_2D"
  Boolean filtering = length(resources) > 0

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
      configurations_count = length(configurations),
      runtime_settings = light
  }

  scatter (configuration in configurations) {
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
          backend = configuration.backend,
          precision = configuration.precision,
          inference_batch_size = configuration.inference_batch_size,
          transfer_batch_size = configuration.transfer_batch_size,
          reservoir_scope = reservoir_scope,
          output_prefix = "~{output_prefix}.~{configuration.name}.shard-~{shard_index}",
          runtime_settings = scoring
      }
    }

    call gather.GatherVcfs {
      input:
        scored_vcfs = ScoreVariants.scored_vcf,
        output_prefix = "~{output_prefix}.~{configuration.name}",
        runtime_settings = light
    }

    if (filtering) {
      call tranches.FilterVariantTranches {
        input:
          input_vcf = GatherVcfs.output_vcf,
          input_vcf_index = GatherVcfs.output_vcf_index,
          resources = resources,
          resources_indexes = resources_indexes,
          info_key = info_key,
          snp_tranches = snp_tranches,
          indel_tranches = indel_tranches,
          invalidate_previous_filters = invalidate_previous_filters,
          output_prefix = "~{output_prefix}.~{configuration.name}.filtered",
          runtime_settings = light
      }
    }
    File compared_vcf = select_first([FilterVariantTranches.filtered_vcf, GatherVcfs.output_vcf])
  }

  scatter (candidate_index in range(length(configurations))) {
    if (candidate_index > 0) {
      call compare.CompareScores {
        input:
          baseline_vcf = compared_vcf[0],
          candidate_vcf = compared_vcf[candidate_index],
          baseline_metrics = ScoreVariants.metrics[0],
          candidate_metrics = ScoreVariants.metrics[candidate_index],
          baseline_label = configurations[0].name,
          candidate_label = configurations[candidate_index].name,
          info_key = info_key,
          snp_cutoff = snp_cutoff,
          indel_cutoff = indel_cutoff,
          compare_filters = filtering,
          fail_if = fail_if,
          fail_on_gates = fail_on_gates,
          output_prefix = "~{output_prefix}.~{configurations[candidate_index].name}_vs_~{configurations[0].name}",
          runtime_settings = light
      }
    }
  }

  output {
    Array[File] scored_vcfs = GatherVcfs.output_vcf
    # the indexes are outputs too: Terra's "delete intermediate outputs" removes every file that
    # is not one, which left the kept VCFs unreadable by region
    Array[File] scored_vcf_indexes = GatherVcfs.output_vcf_index
    Array[File] filtered_vcfs = select_all(FilterVariantTranches.filtered_vcf)
    Array[File] filtered_vcf_indexes = select_all(FilterVariantTranches.filtered_vcf_index)
    Array[File] reports_json = select_all(CompareScores.report_json)
    Array[File] reports_html = select_all(CompareScores.report_html)
    Array[Boolean] gates_passed = select_all(CompareScores.gates_passed)
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
    architecture_json: "GATK model JSON; leave both model files unset for GATK's default for tensor_type: small_2d (read_tensor, shipped in the package); 1d_cnn_mix_train_full_bn (reference) where the image carries it (see /opt/cnnscore/models/MODELS.txt), else cnnscore_compact_1d"
    weights_hd5: "GATK Keras-2 weights matching architecture_json (check its sha256)"
    intervals: "optional BED/interval_list restricting what is scored"
    tensor_type: "read_tensor (CNN_2D) or reference (CNN_1D)"
    configurations: "backend configurations {name, backend, precision, batch sizes}; the first is the baseline"
    reservoir_scope: "site (default): scores independent of sharding, so shards compare cleanly"
    scatter_count: "shards per configuration (the same shards for every configuration)"
    resources: "truth VCFs: when given, each configuration is tranche-filtered with its own cutoffs and the FILTER columns are compared"
    resources_indexes: ".tbi/.csi of resources, one per resource in the same order (passed with each, so any name works); another count stops the run in its first task"
    snp_tranches: "SNP truth sensitivities for the filtering (GATK default 99.95)"
    indel_tranches: "indel truth sensitivities for the filtering (GATK default 99.4)"
    invalidate_previous_filters: "drop the input's FILTERs before tranche filtering"
    snp_cutoff: "optional SNP tranche cutoff for classification concordance"
    indel_cutoff: "optional indel tranche cutoff for classification concordance"
    fail_if: "gates such as max_abs_delta>0.01 or concordance<0.999 (cnnscore compare --fail-if)"
    fail_on_gates: "fail the workflow when a gate holds (default); otherwise see gates_passed"
    output_prefix: "prefix of every output name; in file names, here and in a configuration name, each character outside A-Z a-z 0-9 . _ - becomes _ (labels keep the name)"
    docker: "task image, required: on Terra the digest reference docker/publish.sh printed (REGISTRY/NAME@sha256:...), which the workspace's proxy group can read; locally cnnscore:local, what docker/podman-build.sh builds"
    score_cpu: "CPUs per scoring task; throughput is per task, summed over shards"
    score_memory_gb: "memory per scoring task (GiB): peak measured 0.74 GB (2D, openvino), 1.12 GB on tensorflow, at batch 256; raise it for configurations with a larger inference_batch_size"
    preemptible: "preemptible tries; 0 keeps timings free of restarts (Spot preemption only: a VM rebooted or recreated while a task runs is retried only through max_retries)"
    max_retries: "retries of a failed task. Cromwell retries every failure, a bad input too, so keep 0 unless failures are transient (preemptions are retried by preemptible, apart); CompareScores never retries. Terra's Retry with more memory needs 1 or more"
    boot_disk_gb: "boot disk beyond what Cromwell gives the image (bootDiskSizeGb: GCP Batch adds it to its 30 GB, the Life Sciences backend added it to the image's size): 0, as every task writes to its local-disk"
    cpu_platform: "optional minimum CPU platform (Cromwell's cpuPlatform): Intel Ice Lake, Intel Cascade Lake or AMD Rome, the values for which Cromwell picks N2 or N2D machines (any other is sent as the minimum of an N1 VM: docs/WDL.md). A minimum, not a pin (Cascade Lake still allows Ice Lake): Intel Ice Lake, the newest N2 platform, is exact, so that the throughput compared comes from one CPU generation. None gives bf16 (Sapphire Rapids is not reachable this way)"
  }
}
