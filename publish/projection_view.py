"""The EU projection and the result types on the EU page: what the reader sees of them.

The bundle's ``projection`` (:func:`enr.tally.eu_projection`) becomes a section of the EU page,
labelled with its type (*Projection*) and its time, with its own hemicycle: seats resting on a
count filled, seats resting on a national estimate or the outgoing Parliament as dashed outlines
(:mod:`publish.hemicycle`), a legend saying so in words, and a table giving the same numbers by
basis. The counted hemicycle above it draws the seats of countries that only sent an estimate as
outlines too, so a reader never takes an estimate for a count.
"""
from __future__ import annotations

from publish import hemicycle
from publish.i18n import Formatter, utc_iso

#: the type labels of the bases of a projection (transforms.projection.BASES)
BASIS_LABELS = {"count": "Counted", "estimate": "National estimate", "outgoing": "Outgoing Parliament"}


def basis_label(fmt: Formatter, basis: str) -> str:
    return fmt.gettext(BASIS_LABELS.get(basis, basis))


def legend(fmt: Formatter, shape: str = "circle", color: str = "#555555") -> dict:
    """The two markers of a hemicycle that mixes counted and projected seats, with their words."""
    return {"counted_icon": hemicycle.legend_icon(shape, color),
            "projected_icon": hemicycle.legend_icon(shape, color, projected=True),
            "counted": fmt.gettext("Filled: counted seats"),
            "projected": fmt.gettext("Dashed outline: projected seats (national estimate or outgoing Parliament)")}


def counted_projected(bundle: dict) -> dict[str, int]:
    """Per group, the seats of the EU figures that rest on a national estimate, not a count."""
    return {g["id"]: int((g.get("by_status") or {}).get("estimate", 0)) for g in bundle["eu"].get("groups", [])}


def projection_context(bundle: dict, fmt: Formatter, groups: list[dict], total: int, majority: int) -> dict | None:
    """The EU page's projection section for ``fmt``'s language, or None when the bundle has none.

    ``groups``: the page's group rows (chamber order, ``id``, ``key``, ``name``, ``color``,
    ``shape``, ``icon``) so the projection's hemicycle uses the same shapes and colours."""
    projection = bundle.get("projection")
    if not projection:
        return None
    seats = {g["id"]: g for g in projection.get("groups", [])}
    rows, svg_groups = [], []
    for g in groups:
        entry = seats.get(g["id"], {"seats": 0, "by_basis": {}})
        by_basis = entry.get("by_basis") or {}
        n = int(entry.get("seats") or 0)
        counted = int(by_basis.get("count", 0))
        rows.append({"icon": g["icon"], "name": g["name"], "id": g["id"], "seats_raw": n,
                     "seats": fmt.number(n), "counted": fmt.number(counted),
                     "estimate": fmt.number(int(by_basis.get("estimate", 0))),
                     "outgoing": fmt.number(int(by_basis.get("outgoing", 0)))})
        label = f"{g['name']} ({g['id']}): {fmt.number(n)}"
        svg_groups.append({"key": f"p-{g['key']}", "label": f"{label} — {fmt.gettext('Counted')}: {fmt.number(counted)}",
                           "projected_label": f"{label} — {fmt.gettext('Projected seats')}: {fmt.number(n - counted)}",
                           "color": g["color"], "seats": n, "projected": n - counted, "shape": g["shape"]})
    svg = hemicycle.render_svg(svg_groups, total, majority, fmt.gettext("Hemicycle: EU projection by political group"),
                               fmt.gettext("Majority: %(majority)s of %(total)s seats",
                                           majority=fmt.number(majority), total=fmt.number(total)),
                               described_by="projection-table", id_prefix="proj-")
    by_basis = projection.get("countries_by_basis") or {}
    bases = [{"label": basis_label(fmt, basis), "countries": ", ".join(fmt.country_name(c) for c in codes),
              "count": fmt.number(len(codes))}
             for basis, codes in by_basis.items() if codes and basis != "none"]
    return {"type": fmt.gettext("Projection"), "as_of": {"utc": utc_iso(projection["as_of"]),
                                                         "local": fmt.local_time(projection["as_of"])},
            "svg": svg, "rows": rows, "bases": bases, "legend": legend(fmt),
            "projected": fmt.number(int(projection.get("seats_projected") or 0)),
            "total": fmt.number(int(projection.get("seats_total") or total))}
