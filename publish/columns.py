"""The column order of every tabular feed, declared once.

CSV headers, the order of keys in the JSON rows and the order of child elements in the XML rows
all come from these tuples; a feed never invents its own order. Consumers may rely on it: a
new column is only ever appended at the end, and a version of this module that reorders or
removes columns is a breaking change of the public feed.

Vote shares in feeds are percentages of valid votes (of the sum of list votes when the valid
total is unknown), rounded half-up to two decimals, as strings (``"23.34"``) so no consumer sees
a binary float; votes and seats are integers; an unknown value is empty (CSV), ``null`` (JSON) or
an absent element (XML). ``synthetic`` (appended for issue 14): the counts are made up
(``enr.synthetic``: a rehearsal of an election the project holds no results of), never real.
"""
from __future__ import annotations

COUNTRY_COLUMNS: tuple[str, ...] = (
    "election", "version", "test", "country", "status", "as_of", "sequence",
    "list_id", "list_name", "party_abbrev", "ep_group", "votes", "vote_share", "seats",
    "synthetic",
)

EU_COLUMNS: tuple[str, ...] = (
    "election", "version", "test", "group", "group_name", "seats", "seat_share",
    "majority", "seats_total", "countries",
    "as_of", "seats_by_type",  # issue 20: the figures' time, and seats per result type ("estimate:7;final:100")
    "synthetic",  # last in every tabular feed (docs/CONTRACTS.md)
)

TURNOUT_COLUMNS: tuple[str, ...] = (
    "election", "version", "test", "country", "status", "as_of", "seats_total",
    "registered", "voters", "valid", "blank", "invalid", "turnout", "units_reporting", "units_total", "synthetic",
)

# Comparisons (issue 20): data/comparison-groups.*, data/comparison-countries.*, data/turnout-history.*
# (publish.feeds). ``comparison``: continuing | new | no_successor | not_compared (publish.model.group_comparison);
# ``previous_groups``: the previous Parliament's group ids this group continues, ";"-separated; ``source``
# of a turnout: ``history`` (data/historical, as published) or ``count`` (tonight's voters / registered,
# over ``countries_reporting`` of ``countries_total`` for the EU).
COMPARISON_GROUP_COLUMNS: tuple[str, ...] = (
    "election", "version", "test", "group", "comparison", "previous_groups", "previous_label", "seats_previous",
    "seats", "change", "synthetic",
)

COMPARISON_COUNTRY_COLUMNS: tuple[str, ...] = (
    "election", "version", "test", "country", "status", "previous_year", "seats_total_previous", "seats_total",
    "turnout_previous", "turnout", "synthetic",
)

TURNOUT_HISTORY_COLUMNS: tuple[str, ...] = (
    "election", "version", "test", "area", "year", "turnout", "source", "countries_reporting", "countries_total",
    "synthetic",
)

#: issue 20: ``data/projection.{json,csv,xml}``, the EU projection by group (``type`` is always
#: ``projection``), with the seats resting on a count, a national estimate, the outgoing Parliament
PROJECTION_COLUMNS: tuple[str, ...] = (
    "election", "version", "test", "type", "as_of", "group", "group_name", "seats", "counted", "estimate",
    "outgoing", "majority", "seats_total", "synthetic",
)
