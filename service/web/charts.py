"""Charts drawn on the server as inline SVG: no script, readable without JavaScript.

Each chart carries a `<title>` and `role="img"` with an `aria-label`, and every number it
shows is also in a table next to it, so a screen reader loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from models.vocabulary import WarningLevel

# Colours chosen for contrast on white (WCAG AA for the text drawn on them is not needed:
# labels sit outside the bars).
GREEN, YELLOW, RED, GREY, BLUE = "#2e7d32", "#b8860b", "#c62828", "#9e9e9e", "#1565c0"
GRADE_COLOURS = {"excellent": "#1b5e20", "good": "#1565c0", "fair": "#f9a825", "poor": "#c62828"}


# A year whose results are applied: its warning is history (the project list ignores it too).
SETTLED = "settled"
# A bar takes the colour of the warning the monitoring rules in force gave (the checkpoint
# thresholds and the goal/execution deviation, configurable), never a rule of the chart's own:
# a bar must not say red where the project's list says yellow.
WARNING_COLOURS = {
    WarningLevel.NONE.value: GREEN,
    WarningLevel.YELLOW.value: YELLOW,
    WarningLevel.RED.value: RED,
    SETTLED: GREY,
}


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # a share: 1.0 is 100 %
    marker: float  # where time progress stands on the same scale
    # A WarningLevel value (the year's on the dashboard, the report's on the project page),
    # or SETTLED.
    warning: str


def _svg_open(width: int, height: int, title: str) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )


def execution_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    value_name: str,
    marker_name: str,
    warning_names: dict[str, str],
) -> Markup:
    """Horizontal bars (execution rate, coloured by warning) with a dashed mark per row (time
    progress). `warning_names` labels the legend's colours other than green; the legend shows
    those that some bar has."""
    label_w, plot_w, row_h, top = 220, 420, 26, 28
    height = top + row_h * len(bars) + 24
    width = label_w + plot_w + 70
    parts = [
        _svg_open(width, height, title),
        f'<rect x="{label_w}" y="6" width="12" height="12" fill="{GREEN}"/>',
        f'<text x="{label_w + 16}" y="16" font-size="12">{escape(value_name)}</text>',
        (
            f'<line x1="{label_w + 120}" y1="12" x2="{label_w + 140}" y2="12" stroke="#000" '
            'stroke-dasharray="4 2" stroke-width="2"/>'
        ),
        f'<text x="{label_w + 146}" y="16" font-size="12">{escape(marker_name)}</text>',
    ]
    legend_x = label_w + 240
    shown = {bar.warning for bar in bars}
    for level in (WarningLevel.YELLOW.value, WarningLevel.RED.value, SETTLED):
        if level not in shown:
            continue
        parts.append(
            f'<rect x="{legend_x}" y="6" width="12" height="12" fill="{WARNING_COLOURS[level]}"/>'
            f'<text x="{legend_x + 16}" y="16" font-size="12">'
            f"{escape(warning_names[level])}</text>"
        )
        legend_x += 90
    for i, bar in enumerate(bars):
        y = top + i * row_h
        w = max(0.0, min(bar.value, 1.2)) / 1.2 * plot_w
        mx = label_w + min(bar.marker, 1.2) / 1.2 * plot_w
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 16}" font-size="12" text-anchor="end">'
            f"{escape(bar.label[:28])}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="16" '
            f'fill="{WARNING_COLOURS.get(bar.warning, GREEN)}" data-warning="{escape(bar.warning)}"/>'
            f'<line x1="{mx:.1f}" y1="{y + 1}" x2="{mx:.1f}" y2="{y + 23}" stroke="#000" '
            f'stroke-dasharray="4 2" stroke-width="2"/>'
            f'<text x="{label_w + plot_w + 6}" y="{y + 16}" font-size="12">'
            f"{bar.value * 100:.0f}% / {bar.marker * 100:.0f}%</text>"
        )
    axis_y = top + row_h * len(bars) + 4
    for pct in (0, 50, 100):
        x = label_w + pct / 120 * plot_w
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{axis_y}" stroke="{GREY}" '
            f'stroke-width="0.5"/><text x="{x:.1f}" y="{axis_y + 14}" font-size="11" '
            f'text-anchor="middle">{pct}%</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every interpolated text is escaped above)


def grade_chart(
    rows: Sequence[tuple[str, dict[str, int]]], *, title: str, grade_names: dict[str, str]
) -> Markup:
    """One stacked bar per (department, year): how many years graded 优 / 良 / 中 / 差."""
    label_w, plot_w, row_h, top = 140, 420, 26, 28
    most = max((sum(c.values()) for _, c in rows), default=1) or 1
    height = top + row_h * len(rows) + 8
    width = label_w + plot_w + 40
    parts: list[str] = [_svg_open(width, height, title)]
    for i, (grade, colour) in enumerate(GRADE_COLOURS.items()):
        legend_x = label_w + i * 70
        parts.append(
            f'<rect x="{legend_x}" y="6" width="12" height="12" fill="{colour}"/>'
            f'<text x="{legend_x + 16}" y="16" font-size="12">{escape(grade_names[grade])}</text>'
        )
    for i, (label, counts) in enumerate(rows):
        y = top + i * row_h
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 16}" font-size="12" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        x = float(label_w)
        for grade, colour in GRADE_COLOURS.items():
            n = counts.get(grade, 0)
            if not n:
                continue
            w = n / most * plot_w
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="16" fill="{colour}">'
                f"<title>{escape(grade_names[grade])}: {n}</title></rect>"
            )
            if w >= 14:
                parts.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + 16}" font-size="11" '
                    f'fill="{"#000" if grade == "fair" else "#fff"}" '
                    f'text-anchor="middle">{n}</text>'
                )
            x += w
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every interpolated text is escaped above)
