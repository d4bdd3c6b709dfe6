"""The hemicycle: the seats of the Parliament drawn as a half circle, one marker per seat.

The layout is computed here in Python (no JavaScript, no external library) and emitted as inline
SVG. For ``n`` seats we take the smallest number of concentric rows whose capacity holds them,
give each row a number of seats proportional to its radius (largest remainder, capped by the
row's capacity), spread each row's seats evenly over 180 degrees, and then fill seats by angle
from left to right, so each group occupies a wedge, in the order the groups sit in the chamber.

Colour is never the only code: each group also has its own marker shape (circle, square,
diamond, triangles, ...), the legend repeats shape and name, each group's markers carry a
``<title>`` with its name and seats, and the page puts a data table beside the figure.

Counted and projected seats differ by more than colour too: a group's seats that rest on a
count are filled markers; those that are only projected (a national estimate, the outgoing
Parliament: the EU projection, :mod:`transforms.projection`) are the same shape drawn as a
dashed outline, in their own ``<g class="projected">`` with a ``<title>`` saying so, and the
page's legend shows both markers with words (:func:`legend_icon` ``projected=True``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from html import escape

# Seating order in the chamber, left to right (ids of the 2019 and 2024 groups); other ids
# (OTH, NI, unknown) follow in the order given.
SEATING_ORDER = ("GUE/NGL", "The Left", "S&D", "Greens/EFA", "RE", "EPP", "ECR", "ID", "PfE", "ESN", "NI", "OTH")

SHAPES = ("circle", "square", "diamond", "triangle", "triangle-down", "hexagon", "ring", "plus", "star", "bar")

WIDTH = 400.0
HEIGHT = 226.0
CENTER_X = 200.0
CENTER_Y = 200.0
OUTER = 190.0
INNER_FRACTION = 0.38


@dataclass(frozen=True)
class Seat:
    x: float
    y: float
    angle: float
    row: int


def _radii(rows: int) -> list[float]:
    if rows == 1:
        return [1.0]
    return [INNER_FRACTION + (1 - INNER_FRACTION) * j / (rows - 1) for j in range(rows)]


def _capacities(rows: int) -> tuple[list[int], float]:
    spacing = (1 - INNER_FRACTION) / max(rows - 1, 1) if rows > 1 else 0.2
    return [int(math.pi * r / spacing) + 1 for r in _radii(rows)], spacing


@lru_cache(maxsize=16)
def layout(n: int) -> tuple[tuple[Seat, ...], float]:
    """Seat positions (left to right) and the marker radius, for ``n`` seats."""
    if n <= 0:
        return (), 0.0
    rows = 1
    while sum(_capacities(rows)[0]) < n:
        rows += 1
    capacities, spacing = _capacities(rows)
    radii = _radii(rows)
    total_r = sum(radii)
    # proportional to radius, largest remainder, capped by capacity
    exact = [n * r / total_r for r in radii]
    counts = [min(int(e), c) for e, c in zip(exact, capacities)]
    order = sorted(range(rows), key=lambda j: -(exact[j] - int(exact[j])))
    while sum(counts) < n:
        for j in order + list(range(rows)):
            if sum(counts) >= n:
                break
            if counts[j] < capacities[j]:
                counts[j] += 1
    seats = []
    for j, (radius, k) in enumerate(zip(radii, counts)):
        for i in range(k):
            angle = math.pi * (1 - i / (k - 1)) if k > 1 else math.pi / 2
            seats.append(Seat(x=round(CENTER_X + OUTER * radius * math.cos(angle), 1),
                              y=round(CENTER_Y - OUTER * radius * math.sin(angle), 1), angle=angle, row=j))
    seats.sort(key=lambda s: (-round(s.angle, 9), s.row))
    return tuple(seats), round(OUTER * spacing * 0.42, 2)


def seating(group_ids: list[str]) -> list[str]:
    """Group ids in chamber order (known ids by :data:`SEATING_ORDER`, others after, as given)."""
    known = [g for g in SEATING_ORDER if g in group_ids]
    return known + [g for g in group_ids if g not in known and g not in ("NI", "OTH")] + \
        [g for g in ("NI", "OTH") if g in group_ids and g not in known]


def marker(shape: str, r: float) -> str:
    """An SVG shape centred on (0, 0) with 'radius' ``r``."""
    def poly(points: list[tuple[float, float]]) -> str:
        return '<polygon points="' + " ".join(f"{x:.2f},{y:.2f}" for x, y in points) + '"/>'
    if shape == "circle":
        return f'<circle r="{r}"/>'
    if shape == "square":
        s = r * 0.9
        return f'<rect x="{-s:.2f}" y="{-s:.2f}" width="{2 * s:.2f}" height="{2 * s:.2f}"/>'
    if shape == "diamond":
        return poly([(0, -r * 1.2), (r * 1.2, 0), (0, r * 1.2), (-r * 1.2, 0)])
    if shape == "triangle":
        return poly([(0, -r * 1.2), (r * 1.1, r * 0.9), (-r * 1.1, r * 0.9)])
    if shape == "triangle-down":
        return poly([(0, r * 1.2), (r * 1.1, -r * 0.9), (-r * 1.1, -r * 0.9)])
    if shape == "hexagon":
        return poly([(r * math.cos(a), r * math.sin(a)) for a in (k * math.pi / 3 for k in range(6))])
    if shape == "ring":
        return f'<circle r="{r * 0.7:.2f}" fill="none" stroke="currentColor" stroke-width="{r * 0.6:.2f}"/>'
    if shape == "plus":
        t = r * 0.4
        return poly([(-t, -r), (t, -r), (t, -t), (r, -t), (r, t), (t, t), (t, r), (-t, r), (-t, t), (-r, t),
                     (-r, -t), (-t, -t)])
    if shape == "star":
        pts = []
        for k in range(10):
            rad = r * 1.2 if k % 2 == 0 else r * 0.5
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((rad * math.cos(a), rad * math.sin(a)))
        return poly(pts)
    return f'<rect x="{-r:.2f}" y="{-r * 0.4:.2f}" width="{2 * r:.2f}" height="{r * 0.8:.2f}"/>'


def shape_of(index: int) -> str:
    return SHAPES[index % len(SHAPES)]


def _projected_style(color: str, r: float) -> str:
    """The attributes of projected seats: no fill, a dashed outline in the group's colour."""
    return (f'fill="none" stroke="{escape(color)}" color="{escape(color)}" stroke-width="{max(r * 0.35, 0.6):.2f}" '
            f'stroke-dasharray="{max(r * 0.5, 0.8):.2f} {max(r * 0.3, 0.5):.2f}"')


def legend_icon(shape: str, color: str, size: int = 14, projected: bool = False) -> str:
    """A small standalone SVG of a group's marker, for legends and tables (``projected``: the
    dashed outline of a projected seat)."""
    half = size / 2
    style = _projected_style(color, half * 0.8) if projected else f'fill="{escape(color)}" color="{escape(color)}"'
    return (f'<svg class="icon" width="{size}" height="{size}" viewBox="{-half} {-half} {size} {size}" '
            f'aria-hidden="true" focusable="false"><g {style}>'
            f'{marker(shape, half * 0.8 * (0.85 if projected else 1))}</g></svg>')


def render_svg(groups: list[dict], total: int, majority: int, title: str, majority_label: str,
               described_by: str = "", id_prefix: str = "", majority_line: bool = True,
               inline_markers: bool = False) -> str:
    """Inline SVG of the chamber.

    ``groups``: dicts with ``id``, ``label``, ``color``, ``seats``, ``shape`` in chamber order, and
    optionally ``projected`` (how many of ``seats`` are projected, not counted: drawn after the
    counted ones, as dashed outlines) with ``projected_label`` (their ``<title>``).
    Empty (unallocated) seats are drawn as hollow grey circles. The figure is one image whose name
    is ``title`` and the majority line; ``described_by`` names the id of the table that gives the
    same seats as text (WCAG 1.1.1: the table is the figure's long description). ``id_prefix``
    keeps the ids of a second hemicycle on the same page unique. ``majority_line=False`` leaves out
    the dashed line at the majority (a country's social card). ``inline_markers=True`` writes each
    seat's marker in place (``<g transform="translate(x y)">``) instead of a ``<use>`` of the group's
    marker: the same pixels, drawn by CairoSVG in half the time (a ``<use>`` builds a copy of what
    it refers to for each seat); the site's pages keep the shorter ``<use>``.
    """
    seats, r = layout(total)
    described = f' aria-describedby="{escape(described_by)}"' if described_by else ""
    parts = [f'<svg class="hemicycle" viewBox="0 0 {WIDTH:g} {HEIGHT:g}" role="img" '
             f'aria-labelledby="{id_prefix}hemi-title {id_prefix}hemi-majority"{described} focusable="false">'
             f'<title id="{id_prefix}hemi-title">{escape(title)}</title><defs>']
    markers = {group["key"]: marker(group["shape"], r) for group in groups}
    if not inline_markers:
        for group in groups:
            parts.append(f'<g id="m-{escape(group["key"])}">{markers[group["key"]]}</g>')
    parts.append("</defs>")

    def place(group: dict, seat: Seat) -> str:
        if inline_markers:
            return f'<g transform="translate({seat.x:g} {seat.y:g})">{markers[group["key"]]}</g>'
        return f'<use href="#m-{escape(group["key"])}" x="{seat.x:g}" y="{seat.y:g}"/>'

    cursor = 0
    for group in groups:
        count = group["seats"]
        if not count:
            continue
        projected = min(int(group.get("projected") or 0), count)
        if count - projected:
            parts.append(f'<g fill="{escape(group["color"])}" color="{escape(group["color"])}" '
                         f'class="grp"><title>{escape(group["label"])}</title>')
            for seat in seats[cursor:cursor + count - projected]:
                parts.append(place(group, seat))
            parts.append("</g>")
        if projected:
            parts.append(f'<g {_projected_style(group["color"], r)} class="grp projected">'
                         f'<title>{escape(group.get("projected_label") or group["label"])}</title>')
            for seat in seats[cursor + count - projected:cursor + count]:
                parts.append(place(group, seat))
            parts.append("</g>")
        cursor += count
    if cursor < len(seats):
        parts.append('<g fill="none" stroke="#767676" stroke-width="0.8">')
        for seat in seats[cursor:]:
            parts.append(f'<circle cx="{seat.x:g}" cy="{seat.y:g}" r="{r * 0.8:.2f}"/>')
        parts.append("</g>")
    if majority_line:
        parts.append(f'<line x1="{CENTER_X:g}" y1="{CENTER_Y - OUTER - 6:g}" x2="{CENTER_X:g}" y2="{CENTER_Y - OUTER * 0.3:g}" '
                     f'stroke="#000" stroke-dasharray="3 2" stroke-width="0.8"/>')
    parts.append(f'<text id="{id_prefix}hemi-majority" x="{CENTER_X:g}" y="{CENTER_Y + 21:g}" text-anchor="middle" '
                 f'font-size="13" font-weight="bold">{escape(majority_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
