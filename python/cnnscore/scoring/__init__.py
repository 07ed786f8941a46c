"""``cnnscore score``: records encoded in worker processes beside inference on a backend, turned
into GATK's score text and written atomically into the VCF.
"""
