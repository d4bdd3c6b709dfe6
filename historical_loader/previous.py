"""The previous election of each country, for the "compared with last time" columns.

Reads the historical table (ParlGov, ``data/historical/ep_1979_2019.csv``) and returns, per
country, the most recent EP election before a given year: seats total and parties with their
vote share and seats. Pure pandas over a path the caller gives.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd


def previous_results(historical_csv: Path, before_year: int) -> dict[str, dict]:
    table = pd.read_csv(historical_csv, dtype={"party_abbrev": str, "party_name": str}, keep_default_na=False)
    table = table[table["election_year"] < before_year]
    out: dict[str, dict] = {}
    for country, rows in table.groupby("country"):
        year = int(rows["election_year"].max())
        rows = rows[rows["election_year"] == year]
        parties = []
        for row in rows.itertuples():
            parties.append({
                "party_abbrev": row.party_abbrev,
                "party_name": row.party_name,
                "party_name_english": row.party_name_english,
                "vote_share": float(row.vote_share) if row.vote_share != "" else None,
                "seats": int(row.seats) if row.seats != "" else None,
            })
        parties.sort(key=lambda p: (-(p["seats"] or 0), -(p["vote_share"] or 0)))
        out[str(country)] = {"year": year, "election_date": str(rows["election_date"].iloc[0]),
                             "seats_total": int(rows["seats_total"].iloc[0]), "parties": parties}
    return out
