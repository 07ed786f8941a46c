"""``cnnscore compare``: score deltas and call concordance between two runs, gates and reports."""
