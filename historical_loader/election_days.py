"""The polling days of the European Parliament elections 1979-2019, and which elections a run loads.

Every five years the member states elect the Parliament within a few days of each other (the
date kept here is the *last* polling day, a Sunday, when the counting starts everywhere). A
state that joins between two regular elections elects its members once on its own date
(EL 1981, ES and PT 1987, SE 1995, AT and FI 1996, BG and RO 2007, HR 2013); before that its
national parliament appoints a delegation (kept apart, see :mod:`historical_loader.source`).

**Windows.** The ``historical_backfill`` DAG runs once per regular election day. The run for day
``D`` loads every election (and every pre-election delegation) whose date falls in
``(previous regular day, D]``: the out-of-cycle elections go with the next regular election
(EL 1981 with 1984, ES/PT 1987 with 1989, SE 1995 and AT/FI 1996 with 1999, BG/RO 2007 with
2009, HR 2013 with 2014), and the polling days before the Sunday (Thursday in NL and the UK,
Friday/Saturday in IE, CZ, SK, LV, MT, IT ...) go with their Sunday. The first window is open
on the left. A window only ever holds whole election years, so a year is loaded by one run.

**Size of the Parliament** after each regular election (the sum of the countries' seats at that
election, as elected; the 2020 redistribution after the UK left is not part of this history).
"""
from __future__ import annotations

from datetime import date, datetime, timezone

# Last polling day of each regular EP election (the day the counting starts everywhere).
EP_ELECTION_DAYS: tuple[date, ...] = (
    date(1979, 6, 10), date(1984, 6, 17), date(1989, 6, 18), date(1994, 6, 12), date(1999, 6, 13),
    date(2004, 6, 13), date(2009, 6, 7), date(2014, 5, 25), date(2019, 5, 26),
)

# Seats of the whole Parliament as elected at each regular election (ParlGov seats_total summed;
# SOURCES.md cross-checks them against the known sizes).
EP_SIZE: dict[int, int] = {1979: 410, 1984: 434, 1989: 518, 1994: 567, 1999: 626, 2004: 732, 2009: 736,
                           2014: 751, 2019: 751}


class UnknownElectionDay(ValueError):
    """A day that is not one of :data:`EP_ELECTION_DAYS` (names the day and the known days)."""


def as_day(value: date | datetime | str) -> date:
    """A run's logical date / data-interval end (aware datetime, date or ISO text) as a calendar day.

    Datetimes are read in UTC (the timetable puts each event at 00:00 UTC of the polling day).
    """
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if len(text) > 10:
        return as_day(datetime.fromisoformat(text.replace("Z", "+00:00")))
    return date.fromisoformat(text)


def window(day: date | datetime | str) -> tuple[date | None, date]:
    """``(previous regular election day or None, day)``: the run for ``day`` loads ``(prev, day]``."""
    day = as_day(day)
    if day not in EP_ELECTION_DAYS:
        known = ", ".join(d.isoformat() for d in EP_ELECTION_DAYS)
        raise UnknownElectionDay(f"{day.isoformat()} is not an EP election day; known days: {known}")
    index = EP_ELECTION_DAYS.index(day)
    return (EP_ELECTION_DAYS[index - 1] if index else None, day)


def in_window(when: date, bounds: tuple[date | None, date]) -> bool:
    start, end = bounds
    return (start is None or when > start) and when <= end


def window_of(when: date) -> date | None:
    """The regular election day whose run loads something dated ``when`` (None: after 2019)."""
    for day in EP_ELECTION_DAYS:
        if when <= day:
            return day
    return None
