"""cnnscore: GATK CNNScoreVariants-compatible variant scoring with pluggable inference backends."""

__version__ = "0.1.0"
