"""A GATK-style progress meter on stderr: position, elapsed minutes, variants and variants/min."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressMeter:
    def __init__(self, every_seconds: float = 10.0, stream: TextIO | None = None):
        self.every = every_seconds
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self._last = self.start
        self.count = 0
        self._header_done = False

    def _line(self, text: str) -> None:
        print(f"cnnscore: {text}", file=self.stream, flush=True)

    def update(self, count: int, position: str) -> None:
        self.count = count
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        if not self._header_done:
            self._line(f"{'position':>22} {'minutes':>8} {'variants':>10} {'variants/min':>13}")
            self._header_done = True
        minutes = (now - self.start) / 60.0
        rate = count / minutes if minutes > 0 else 0.0
        self._line(f"{position:>22} {minutes:8.2f} {count:10,d} {rate:13,.0f}")
