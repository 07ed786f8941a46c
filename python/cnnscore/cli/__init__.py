"""The command line: ``cnnscore <subcommand>``, flags by stage, handlers, and the gs:// wrapper."""

from .main import main

__all__ = ["main"]
