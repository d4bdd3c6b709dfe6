"""The history in the shape the site renderer takes (``publish.history.render_history``).

::

    {"countries": {"DE": [{"year": 1979, "election_date": "1979-06-10", "seats_total": 81,
                           "parties": [{"party_abbrev", "party_name", "vote_share", "seats", "votes"}]}]},
     "eu": [{"year": 1979, "seats_total": 410, "countries": {"DE": 81, ...},
             "regular": True, "elected": ["BE", "DE", ...], "appointed": []}]}

* ``countries``: every country's EP elections, oldest first; parties by seats, then vote share
  (descending). ``vote_share`` is the exact decimal text of the source (``"29.54"``) or None,
  so it survives JSON unchanged; ``seats`` and ``votes`` are integers or None (no number in
  ParlGov: alliance rows, joint-list parts; see SOURCES.md).
* ``eu``: one entry per year in which members were elected or, for a new member state,
  appointed (the pre-election delegations: EL 1981, ES/PT 1986, AT/FI/SE 1995, BG/RO 2007),
  oldest first. ``countries`` holds every member's seats after that year (its most recent
  election or delegation) and ``seats_total`` their sum, the size of the Parliament.
  ``regular`` marks the five-yearly elections; ``elected`` lists the countries that voted that
  year and ``appointed`` those that sent a delegation.

The delegations' party rows are not part of this structure: they were appointed, not elected.
"""
from __future__ import annotations

from decimal import Decimal

from historical_loader.election_days import EP_SIZE
from historical_loader.store import HistoryStore


def _sort_key(party: dict) -> tuple:
    share = Decimal(party["vote_share"]) if party["vote_share"] is not None else Decimal(-1)
    return (-(party["seats"] or 0), -share, party["party_abbrev"])


def history_for_site(store: str | HistoryStore) -> dict:
    """Read the history tables of ``store`` (URL or :class:`HistoryStore`) into the site's structure."""
    history = store if isinstance(store, HistoryStore) else HistoryStore(store)
    try:
        elections = history.elections()
        results = history.results()
        delegations = history.delegations()
    finally:
        if not isinstance(store, HistoryStore):
            history.dispose()
    parties: dict[tuple[int, str], list[dict]] = {}
    for row in results:
        parties.setdefault((row["election_year"], row["country"]), []).append({
            "party_abbrev": row["party_abbrev"], "party_name": row["party_name"],
            "vote_share": row["vote_share"], "seats": row["seats"], "votes": row["votes"],
        })
    countries: dict[str, list[dict]] = {}
    for e in sorted(elections, key=lambda e: (e["country"], e["election_year"])):
        listed = sorted(parties.get((e["election_year"], e["country"]), []), key=_sort_key)
        countries.setdefault(e["country"], []).append({
            "year": e["election_year"], "election_date": str(e["election_date"]),
            "seats_total": e["seats_total"], "parties": listed,
        })
    appointed_seats = {(d["election_year"], d["country"]): d["seats_total"] for d in delegations}
    eu = []
    latest: dict[str, int] = {}
    years = sorted({e["election_year"] for e in elections} | {year for year, _ in appointed_seats})
    for year in years:
        # a delegation precedes the same year's first election (EL 1981-01-01, then 1981-10-18)
        appointed = sorted(country for (y, country) in appointed_seats if y == year)
        for country in appointed:
            latest[country] = appointed_seats[(year, country)]
        elected = sorted(e["country"] for e in elections if e["election_year"] == year)
        for e in elections:
            if e["election_year"] == year:
                latest[e["country"]] = e["seats_total"]
        eu.append({"year": year, "seats_total": sum(latest.values()), "countries": dict(sorted(latest.items())),
                   "regular": year in EP_SIZE, "elected": elected, "appointed": appointed})
    return {"countries": dict(sorted(countries.items())), "eu": eu}
