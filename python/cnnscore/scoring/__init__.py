"""``cnnscore score``: records encoded beside inference (a thread, or worker processes) on a
backend, turned into GATK's score text and written atomically into the VCF.
"""
