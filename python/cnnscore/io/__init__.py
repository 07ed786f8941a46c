"""Files cnnscore reads and writes: VCF text and the atomic VCF writer, FASTA, intervals,
htslib locations, atomic writes and hashes, and the HTML report frame.

The lowest layer: it imports nothing of cnnscore but :mod:`cnnscore.errors`.
"""
