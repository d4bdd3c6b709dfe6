"""Turnout since 1979: an accessible SVG line chart and the rows of the table beside it.

The comparison page shows the EU's turnout at every election since 1979 and tonight's; each
country page shows the country's line against the EU's. The figures come from the bundle
(``eu.previous.turnout_history``, each country's ``previous.turnout_history``; the tally reads them
from ``data/historical`` through :mod:`historical_loader.context`) plus tonight's turnout computed
from the counts (voters / registered, over the countries reporting so far for the EU).

The chart is static inline SVG: ``role="img"`` with ``aria-labelledby`` pointing at its
``<title>`` and ``<desc>``; the desc spells out every figure (so a screen reader gets the numbers
without the table), the table with the same figures follows (``aria-describedby``). Lines differ by
dash pattern and marker shape as well as colour (never colour alone), every point carries its
figure in ``data-`` attributes and a ``<title>``; tonight's point is hollow. No script, no inline
style (presentation attributes only, for the site's CSP). Every text reaches the SVG escaped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from html import escape

from babel.numbers import format_percent

from publish.i18n import Formatter, round_percent

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 16, 64
EU_STYLE = {"color": "#1f4e79", "dash": "", "marker": "circle"}
COUNTRY_STYLE = {"color": "#a34700", "dash": "7 4", "marker": "square"}


@dataclass
class Series:
    """One line: its label and ``(year, percent)`` points, oldest first; ``tonight`` is the year
    whose figure is tonight's (hollow marker), if any."""

    key: str
    label: str
    points: list[tuple[int, Decimal]]
    style: dict = field(default_factory=lambda: dict(EU_STYLE))
    tonight: int | None = None


def percent_of(value: Fraction | None) -> Decimal | None:
    """Tonight's turnout (an exact fraction) as a percentage with two decimals, like the history's."""
    return round_percent(value) if value is not None else None


def history_points(rows: list[dict] | None) -> list[tuple[int, Decimal]]:
    """``[{"year", "turnout_pct"}]`` (the bundle's) -> ``[(year, Decimal)]``."""
    return [(int(r["year"]), Decimal(str(r["turnout_pct"]))) for r in rows or [] if r.get("turnout_pct") is not None]


def _x(year: int, first: int, last: int) -> float:
    span = max(last - first, 1)
    return round(LEFT + (WIDTH - LEFT - RIGHT) * (year - first) / span, 2)


def _y(pct: Decimal) -> float:
    return round(TOP + (HEIGHT - TOP - BOTTOM) * (1 - float(pct) / 100), 2)


def _marker(kind: str, x: float, y: float, color: str, hollow: bool) -> str:
    fill = "#ffffff" if hollow else color
    if kind == "square":
        return (f'<rect x="{x - 4.5:.2f}" y="{y - 4.5:.2f}" width="9" height="9" fill="{fill}" stroke="{color}" '
                f'stroke-width="2"')
    return f'<circle cx="{x:.2f}" cy="{y:.2f}" r="5" fill="{fill}" stroke="{color}" stroke-width="2"'


def render_chart(chart_id: str, series: list[Series], fmt: Formatter, title: str, described_by: str = "") -> str:
    """The SVG of ``series`` (one or more lines) on a 0-100 % axis over the years they cover."""
    years = sorted({year for s in series for year, _ in s.points})
    if not years:
        return ""
    first, last = years[0], years[-1]
    desc = "; ".join(f"{s.label}: " + ", ".join(f"{year} {fmt.percent_points(pct)}" for year, pct in s.points)
                     for s in series if s.points)
    labelled = f'{chart_id}-title {chart_id}-desc'
    described = f' aria-describedby="{escape(described_by)}"' if described_by else ""
    out = [f'<svg class="turnout-chart" id="{chart_id}" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
           f'preserveAspectRatio="xMinYMin meet" aria-labelledby="{labelled}"{described} focusable="false">',
           f'<title id="{chart_id}-title">{escape(title)}</title>',
           f'<desc id="{chart_id}-desc">{escape(desc)}</desc>']
    for tick in (0, 25, 50, 75, 100):  # horizontal grid with its labels
        y = _y(Decimal(tick))
        out.append(f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" stroke="#c8c8c8" stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end" font-size="12" fill="#333333">'
                   f'{escape(format_percent(Decimal(tick) / 100, locale=fmt.locale))}</text>')
    for year in years:
        x = _x(year, first, last)
        out.append(f'<text x="{x}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" font-size="12" '
                   f'fill="#333333">{year}</text>')
    for s in series:
        if not s.points:
            continue
        color = s.style["color"]
        coords = " ".join(f"{_x(year, first, last)},{_y(pct)}" for year, pct in s.points)
        dash = f' stroke-dasharray="{s.style["dash"]}"' if s.style["dash"] else ""
        out.append(f'<g class="series" data-series="{escape(s.key)}">')
        out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2.5"{dash}/>')
        for year, pct in s.points:
            text = f"{s.label}, {year}: {fmt.percent_points(pct)}"
            out.append(_marker(s.style["marker"], _x(year, first, last), _y(pct), color, year == s.tonight)
                       + f' data-year="{year}" data-value="{pct}"><title>{escape(text)}</title>'
                       + ("</rect>" if s.style["marker"] == "square" else "</circle>"))
        out.append("</g>")
    legend_y = HEIGHT - 22
    x = LEFT
    for s in series:  # legend: the line's dash and marker with its label, in text
        color = s.style["color"]
        dash = f' stroke-dasharray="{s.style["dash"]}"' if s.style["dash"] else ""
        out.append(f'<line x1="{x}" y1="{legend_y}" x2="{x + 28}" y2="{legend_y}" stroke="{color}" '
                   f'stroke-width="2.5"{dash}/>')
        out.append(_marker(s.style["marker"], x + 14, legend_y, color, False) + "/>")
        out.append(f'<text x="{x + 36}" y="{legend_y + 4}" font-size="12" fill="#1a1a1a">{escape(s.label)}</text>')
        x += 36 + int(7 * len(s.label)) + 24
    out.append("</svg>")
    return "\n".join(out)


def table_rows(series: list[Series], fmt: Formatter) -> list[dict]:
    """One row per year: ``{"year", "cells": [text per series]}`` (a dash where a line has no point)."""
    by_series = [{year: pct for year, pct in s.points} for s in series]
    years = sorted({year for s in series for year, _ in s.points})
    rows = []
    for year in years:
        tonight = any(s.tonight == year for s in series)
        rows.append({"year": str(year), "tonight": tonight,
                     "cells": [fmt.percent_points(points[year]) if year in points else "\u2014"
                                for points in by_series]})
    return rows


__all__ = ["COUNTRY_STYLE", "EU_STYLE", "Series", "history_points", "percent_of", "render_chart", "table_rows"]
