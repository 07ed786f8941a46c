"""Scatter and gather for the workflow: ``split-intervals`` and ``gather-vcfs``."""
