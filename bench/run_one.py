"""Run one `cnnscore score` in this process and report its peak memory (for benchmark.py).

Prints one JSON line: the peak RSS of this process and of its finished children (encoder
processes), in MB, measured by getrusage.
"""

from __future__ import annotations

import json
import resource
import sys

from cnnscore.cli.main import main

if __name__ == "__main__":
    status = main(sys.argv[1:])
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "status": status,
                "peak_rss_mb": round(own + children, 1),
                "main_rss_mb": round(own, 1),
                "children_rss_mb": round(children, 1),
            }
        )
    )
    sys.exit(status)
