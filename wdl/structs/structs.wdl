version 1.0

# Per-task runtime settings, in the style of the Broad's WARP pipelines. Disk is sized from the
# inputs by each task, so it is not part of the struct.
struct RuntimeSettings {
  String docker
  Int cpu
  Int memory_gb
  Int preemptible
  Int max_retries
}
