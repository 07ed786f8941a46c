"""The shared frame of cnnscore's HTML reports (compare, train): one portable file each.

Plots are embedded as base64 PNGs so a report can be mailed or opened from a bucket without its
images getting lost, and every report uses the same plain style.
"""

from __future__ import annotations

import base64
import html
import io

_STYLE = """body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f0f3f7; }
figure { display: inline-block; margin: 0 1em 1em 0; }
.verdict { font-weight: bold; }"""


def png_base64(figure) -> str:
    """A matplotlib figure as base64 PNG text."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def figures(plots: dict[str, str]) -> str:
    """``<figure>`` elements for base64 PNGs keyed by their alt text."""
    return "\n".join(
        f'<figure><img alt="{name}" src="data:image/png;base64,{data}"></figure>'
        for name, data in plots.items()
    )


def page(title: str, body: str) -> str:
    """A complete HTML document; ``title`` is escaped, ``body`` is trusted markup."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
{_STYLE}
</style></head><body>
{body}
</body></html>
"""
