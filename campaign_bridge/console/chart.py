"""A rule's run history as an inline SVG chart, drawn on the server (it shows with JavaScript off)."""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup

WIDTH, HEIGHT, PAD = 640, 160, 24
#: The series drawn as bars per run, and their colours.
SERIES = (("added", "#2e7d32"), ("removed", "#c62828"), ("conflicts", "#f9a825"))
CALLS_COLOUR = "#1565c0"


def history_chart(runs: list[dict[str, Any]]) -> Markup:
    """Bars of adds, removals and conflicts per run (oldest left) and a line of API calls, each scaled to
    its own maximum (labelled); an empty string for no runs."""
    if not runs:
        return Markup("")
    counts = [r["counts"] or {} for r in runs]
    calls = [sum((r["api_calls"] or {}).values()) for r in runs]
    top = max([1, *(int(c.get(k, 0)) for c in counts for k, _ in SERIES)])
    top_calls = max([1, *calls])
    slot = (WIDTH - 2 * PAD) / len(runs)
    bar = max(1.0, slot / (len(SERIES) + 1))
    inner = HEIGHT - 2 * PAD
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'aria-label="adds, removals, conflicts and API calls of the last {len(runs)} syncs">'
    ]
    for i, (run, c) in enumerate(zip(runs, counts, strict=True)):
        for j, (key, colour) in enumerate(SERIES):
            n = int(c.get(key, 0))
            h = inner * n / top
            x = PAD + i * slot + j * bar
            title = escape(f"run {run['id']}: {n} {key}")
            parts.append(
                f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{title}</title></rect>'
            )
    points = " ".join(
        f"{PAD + (i + 0.5) * slot:.1f},{HEIGHT - PAD - inner * n / top_calls:.1f}" for i, n in enumerate(calls)
    )
    parts.append(f'<polyline points="{points}" fill="none" stroke="{CALLS_COLOUR}" stroke-width="2"/>')
    legend = " · ".join(f'<tspan fill="{colour}">■ {key}</tspan>' for key, colour in SERIES)
    parts.append(
        f'<text x="{PAD}" y="14" font-size="11">{legend} (max {top}) · '
        f'<tspan fill="{CALLS_COLOUR}">— API calls</tspan> (max {top_calls})</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))
