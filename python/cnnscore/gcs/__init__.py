"""``gs://`` for every path argument: one client, byte-range reads through a loopback server for
htslib, a generation-keyed cache and staged uploads, mapped onto each subcommand's arguments.
Only :mod:`cnnscore.cli` uses it; the stages below see local paths and htslib URLs.
"""
