version 1.0

# Per-task runtime settings, in the style of the Broad's WARP pipelines. Disk is sized from the
# inputs by each task, so it is not part of the struct. cpu_platform "" asks for none: Cromwell
# cannot leave a runtime attribute unset from an optional value, and an empty minCpuPlatform is
# GCP Batch's "any" (docs/CROMWELL.md).
struct RuntimeSettings {
  String docker
  Int cpu
  Int memory_gb
  Int preemptible
  Int max_retries
  Int boot_disk_gb
  String cpu_platform
}

# One way of scoring, as compared by the validation workflow. `name` labels its outputs and report;
# unset batch sizes take cnnscore's defaults.
struct BackendConfig {
  String name
  String backend
  String precision
  Int? inference_batch_size
  Int? transfer_batch_size
}
