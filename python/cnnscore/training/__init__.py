"""``cnnscore write-tensors`` and ``cnnscore train``: labelled tensors, tensor stores, batches,
fitting, the training report, and the evaluation behind the shipped models' card.
"""
