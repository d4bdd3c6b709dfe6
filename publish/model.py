"""Derived quantities of a bundle that every output shares (pages, feeds, NIST, widget).

The bundle (docs/CONTRACTS.md) carries counts: integers. Everything derived from them is
computed here once, exactly (:class:`fractions.Fraction`), and rounded only when shown:

* **vote share** of a list = its votes / the country's vote base. The base is the valid votes
  when they are known and not smaller than the sum of the itemised lists' votes; otherwise the
  sum of the lists' votes (Luxembourg's voters cast several list votes each, so list votes add
  up to more than the valid ballots; where valid votes are unknown the lists are all there is).
* **turnout** = voters / registered voters.
* **seat share** of a group = its seats / the Parliament's seats.
* **coalitions**: the *minimal* sets of up to three political groups (non-attached members and
  not-yet-affiliated members excluded) whose seats reach the majority; "minimal" = no group in
  it can be dropped without losing the majority.
"""
from __future__ import annotations

import itertools
import re
from fractions import Fraction

FINAL = frozenset({"final", "official"})
STATUSES = ("none", "estimate", "provisional", "final", "official")
NOT_A_GROUP = frozenset({"NI", "OTH"})
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class BundleError(ValueError):
    """The bundle does not have the shape docs/CONTRACTS.md describes (names the field)."""


def check_bundle(bundle: dict) -> None:
    """Fail early, with the field named, on a bundle the renderer cannot trust."""
    for key in ("schema", "version", "generated_at", "election", "countries", "eu"):
        if key not in bundle:
            raise BundleError(f"bundle: missing field {key!r}")
    if not str(bundle["schema"]).startswith("enr-bundle/"):
        raise BundleError(f"bundle: unknown schema {bundle['schema']!r}")
    if not re.fullmatch(r"[A-Za-z0-9._-]+", str(bundle["version"])):
        raise BundleError(f"bundle: version {bundle['version']!r} is not a safe folder name")
    for country in bundle["countries"]:
        code = country.get("code", "")
        if not re.fullmatch(r"[A-Z]{2}", str(code)):
            raise BundleError(f"bundle: country code {code!r} is not two capital letters")
        status = country.get("status", "none")
        if status not in STATUSES:
            raise BundleError(f"bundle: country {code}: unknown status {status!r}")
        for entry in country.get("lists", []):
            for field in ("votes", "seats"):
                value = entry.get(field)
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise BundleError(f"bundle: country {code} list {entry.get('list_id')!r}: {field} "
                                      f"must be an integer, not {value!r}")


def safe_color(value: str | None) -> str:
    return value if value and _COLOR.match(value) else "#767676"


def slug(value: str) -> str:
    """A file-name-safe slug of a group id: ``S&D`` -> ``s-d``, ``Greens/EFA`` -> ``greens-efa``."""
    text = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    return text or "group"


def vote_base(country: dict) -> int | None:
    listed = sum(entry.get("votes") or 0 for entry in country.get("lists", []))
    valid = country.get("valid")
    if valid is not None and valid >= listed:
        return valid or None
    return listed or None


def vote_share(country: dict, entry: dict) -> Fraction | None:
    base = vote_base(country)
    votes = entry.get("votes")
    if votes is None or not base:
        return None
    return Fraction(votes, base)


def turnout(registered: int | None, voters: int | None) -> Fraction | None:
    if registered is None or voters is None or not registered:
        return None
    return Fraction(voters, registered)


def seat_share(seats: int | None, total: int | None) -> Fraction | None:
    if seats is None or not total:
        return None
    return Fraction(seats, total)


def is_final(country: dict) -> bool:
    return country.get("status") in FINAL


def all_final(bundle: dict) -> bool:
    return all(is_final(c) for c in bundle["countries"])


def unresolved_ties(bundle: dict) -> list[tuple[str, dict]]:
    return [(c["code"], tie) for c in bundle["countries"] for tie in c.get("ties", []) if not tie.get("resolved")]


def group_seats(bundle: dict) -> dict[str, int]:
    return {g["id"]: int(g.get("seats") or 0) for g in bundle["eu"].get("groups", [])}


def coalitions(seats: dict[str, int], majority: int, max_size: int = 3) -> list[tuple[tuple[str, ...], int]]:
    """Minimal winning coalitions of up to ``max_size`` groups, largest first."""
    candidates = [g for g, s in sorted(seats.items(), key=lambda kv: -kv[1]) if s > 0 and g not in NOT_A_GROUP]
    found: list[tuple[tuple[str, ...], int]] = []
    for size in range(1, max_size + 1):
        for combo in itertools.combinations(candidates, size):
            total = sum(seats[g] for g in combo)
            if total < majority:
                continue
            if any(total - seats[g] >= majority for g in combo):
                continue  # not minimal
            found.append((combo, total))
    found.sort(key=lambda item: (len(item[0]), -item[1]))
    return found


# --- comparisons (issue 20): the previous Parliament's groups, turnout since 1979 ----------------------

def group_comparison(bundle: dict) -> list[dict]:
    """Every group of this Parliament against the previous one, then the previous groups without successor.

    The previous groups come mapped onto this election's ids by the tally (``eu.previous.groups``:
    ``{"id", "previous_ids", "seats"}``, ``"successor": None`` for a group that has none). Each row:
    ``{"group", "seats", "previous_ids", "seats_previous", "change", "comparison"}`` where
    ``comparison`` is ``continuing`` (it had predecessors: their seats and the change), ``new`` (a
    group without predecessor), ``no_successor`` (a previous group; ``seats`` None) or
    ``not_compared`` (not a group, e.g. the not-yet-affiliated, or no previous groups known).
    """
    previous = {g["id"]: g for g in (bundle["eu"].get("previous") or {}).get("groups") or []}
    seats = group_seats(bundle)
    ids = [g["id"] for g in bundle["election"].get("groups", [])]
    ids += [gid for gid in seats if gid not in ids]
    rows = []
    for gid in ids:
        prev = previous.get(gid) if previous.get(gid, {}).get("successor", gid) is not None else None
        now = seats.get(gid, 0)
        if prev:
            rows.append({"group": gid, "seats": now, "previous_ids": list(prev.get("previous_ids", [gid])),
                         "seats_previous": prev["seats"], "change": now - prev["seats"], "comparison": "continuing"})
        else:
            kind = "new" if previous and gid not in NOT_A_GROUP else "not_compared"
            rows.append({"group": gid, "seats": now, "previous_ids": [], "seats_previous": None, "change": None,
                         "comparison": kind})
    for gid, prev in previous.items():
        if prev.get("successor", gid) is None or gid not in ids:
            rows.append({"group": gid, "seats": None, "previous_ids": list(prev.get("previous_ids", [gid])),
                         "seats_previous": prev["seats"], "change": None, "comparison": "no_successor"})
    return rows


def previous_turnout(country: dict) -> Fraction | None:
    """A country's turnout at the previous election (the bundle's decimal text, exact)."""
    value = (country.get("previous") or {}).get("turnout")
    return None if value in (None, "") else Fraction(str(value))
