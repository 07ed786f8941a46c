"""GATK's tensors, byte for byte: read selection and downsampling, the 2D read tensor, the 1D
reference tensor and annotation vector, and htsjdk's variant typing. Imports only :mod:`..io`.
"""
