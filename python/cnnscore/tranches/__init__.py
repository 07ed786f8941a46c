"""``cnnscore filter`` (GATK FilterVariantTranches) and GATK's truth-resource matching."""
