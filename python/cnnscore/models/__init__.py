"""GATK CNN models: JSON descriptions, Keras-2 weight files and architectures built in code."""
