"""The night's timeline, enforced at publication: what may leave, and from when.

The election definition holds the timeline as data (``elections/<id>/election.json``, read by
:mod:`enr.definition`); the tally copies it into the bundle (``election.timeline``), so the facts
publication reads are those the reviewer approved and the publisher signed: a staging area edited
after the signature fails the manifest check long before this module is reached. The rules, for a
real (non-test) version and against the trusted clock ``now``:

* **counted results never before the embargo**: a country whose status is ``provisional``,
  ``final`` or ``official`` — or an ``estimate`` that carries counted reporting units (a count
  smuggled in under the estimate label) — makes the version wait for the embargo
  (:class:`publish.release.EmbargoNotLifted`);
* **a national estimate only after the country's polls closed** (``polls_close``;
  :class:`PollsStillOpen`) **and only where the definition allows it** (``estimates_allowed``;
  :class:`EstimateNotAllowed`, at any time: the tally withholds such an estimate, so a version that
  carries one was not built by it);
* **the EU projection only from its time** (``projection_from``; :class:`ProjectionTooEarly`);
* a version without a timeline (built before the definitions had one) follows the embargo alone:
  nothing real before it, as before.

A test (rehearsal) version is not bound by the clock, as it is not by the embargo: the area check
(:func:`publish.release.check_area`) keeps it out of a real election's public area. A clock set
back is refused before these rules are read (:func:`publish.release.check_clock` and the pipeline's
trusted clock). Every refusal names the version, the country and the rule, and nothing is copied.
"""
from __future__ import annotations

from datetime import datetime, timezone

from publish.errors import EmbargoNotLifted, PublishError

COUNTED = ("provisional", "final", "official")


class TimelineRefused(PublishError):
    """The version holds a figure the night's timeline does not let out yet (or at all)."""


class PollsStillOpen(TimelineRefused):
    """A national estimate of a country whose polls have not closed."""


class EstimateNotAllowed(TimelineRefused):
    """A national estimate where the election definition does not allow one to be published."""


class ProjectionTooEarly(TimelineRefused):
    """The EU projection before the time the election definition gives it."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def _time(value: str | None, where: str) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.utcoffset() is None:
        raise TimelineRefused(f"{where}: the timeline's time {value!r} has no UTC offset; nothing published")
    return moment


def result_type(country: dict) -> str:
    """What a country's figure is: ``count`` (provisional, final, official, or an estimate carrying
    counted units), ``estimate`` (a national estimate), or ``none``."""
    status = country.get("status") or "none"
    if status in COUNTED or (status == "estimate" and int(country.get("units_reporting") or 0) > 0):
        return "count"
    return "estimate" if status == "estimate" else "none"


def check_timeline(bundle: dict, *, test: bool, embargo: datetime, now: datetime, where: str) -> None:
    """Refuse to publish ``bundle`` at ``now`` when the timeline forbids any figure in it (see the
    module docstring). ``embargo`` is the caller's (the definition's); the bundle's own, if later,
    wins. ``where``: ``<election>/<version>`` for the messages."""
    if test:
        return
    timeline = (bundle.get("election") or {}).get("timeline")
    bundle_embargo = _time((bundle.get("election") or {}).get("embargo"), where)
    if bundle_embargo is not None and bundle_embargo > embargo:
        embargo = bundle_embargo
    reported = [c for c in bundle.get("countries", []) if (c.get("status") or "none") != "none"]
    if not timeline:
        if now < embargo and (reported or bundle.get("projection")):
            raise EmbargoNotLifted(f"{where}: embargo until {_iso(embargo)}, now {_iso(now)}; a real version is "
                                   f"never published before it (staging and approval may)")
        return
    rules = timeline.get("countries") or {}
    counted = sorted(c["code"] for c in reported if result_type(c) == "count")
    if counted and now < embargo:
        smuggled = [c["code"] for c in reported if c.get("status") == "estimate" and result_type(c) == "count"]
        extra = (f" ({', '.join(smuggled)}: an estimate carrying counted reporting units is a count)"
                 if smuggled else "")
        raise EmbargoNotLifted(f"{where}: embargo until {_iso(embargo)}, now {_iso(now)}; counted results of "
                               f"{', '.join(counted)}{extra}: a real count is never published before it "
                               f"(staging and approval may)")
    for country in reported:
        if result_type(country) != "estimate":
            continue
        code = country["code"]
        rule = rules.get(code) or {}
        if rule.get("estimates_allowed") is not True:
            raise EstimateNotAllowed(f"{where}: a national estimate of {code}, where the election definition "
                                     f"does not allow one to be published (estimates_allowed); nothing published")
        close = _time(rule.get("polls_close"), where)
        if close is None and now < embargo:
            raise PollsStillOpen(f"{where}: a national estimate of {code}, whose poll closing time the "
                                 f"definition does not give, before the embargo ({_iso(embargo)}); nothing published")
        if close is not None and now < close:
            raise PollsStillOpen(f"{where}: a national estimate of {code} at {_iso(now)}, while its polls are "
                                 f"open until {_iso(close)}; nothing published")
    if bundle.get("projection"):
        start = _time(timeline.get("projection_from"), where) or embargo
        if now < start:
            raise ProjectionTooEarly(f"{where}: the EU projection at {_iso(now)}, before {_iso(start)}, the time "
                                     f"from which it may be published; nothing published")


def earliest_publication(bundle: dict, embargo: datetime) -> datetime | None:
    """From when the timeline lets a real ``bundle`` out: the latest of the embargo (if it holds a
    count), each estimate's poll closing and the projection's time; None when it never may (an
    estimate the definition does not allow). What the reviewer is told (:func:`reviewer_line`);
    :func:`check_timeline` is the rule that decides."""
    election = bundle.get("election") or {}
    timeline = election.get("timeline")
    bundle_embargo = _time(election.get("embargo"), "bundle")
    embargo = max(embargo, bundle_embargo) if bundle_embargo else embargo
    reported = [c for c in bundle.get("countries", []) if (c.get("status") or "none") != "none"]
    if not timeline:
        return embargo
    moments = [embargo] if any(result_type(c) == "count" for c in reported) else []
    for country in reported:
        if result_type(country) != "estimate":
            continue
        rule = (timeline.get("countries") or {}).get(country["code"]) or {}
        if rule.get("estimates_allowed") is not True:
            return None
        moments.append(_time(rule.get("polls_close"), "bundle") or embargo)
    if bundle.get("projection"):
        moments.append(_time(timeline.get("projection_from"), "bundle") or embargo)
    return max(moments, default=embargo)


def reviewer_line(bundle: dict, *, test: bool, embargo: datetime, now: datetime) -> str:
    """One line for the approval request: when this version may be published, by the timeline."""
    if test:
        return "Timeline: a test version is not bound by the night's timeline (rehearsal area only)"
    start = earliest_publication(bundle, embargo)
    if start is None:
        return "Timeline: this version can never be published (an estimate where the definition does not allow one)"
    when = "now" if now >= start else f"from {_iso(start)}"
    return f"Timeline: this version may be published {when} (estimates after their polls close, the projection " \
           f"from its time, counts after the embargo)"
