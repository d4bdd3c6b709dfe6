"""Attacks on the night's timeline: estimates, the EU projection and counts before their time.

The timeline (elections/ep2019/election.json: ``projection_from`` 20:15 CEST, each country's
``polls_close`` and ``estimates_allowed``, the embargo 23:00 CEST) travels in the signed bundle;
publication (publish/timeline.py, called by ``_publish_version``) enforces it against ``now``.
Each test is one attempt: it asserts the refusal's named reason and that nothing public changed.
A control publishes the lawful version at the same moments, so the refusals are not vacuous.
"""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import pytest

from attack_support import ELECTION, EMBARGO, area, public_state, publish
from enr.definition import load_election
from publish import release, timeline
from tests.support.publish_fixtures import build_bundle, demo_key, scratch_dir

pytestmark = pytest.mark.attack

CEST = timezone(timedelta(hours=2))
AT_2030 = datetime(2019, 5, 26, 20, 30, tzinfo=CEST)  # after AT (17:00) and MT (Sat 22:00), after 20:15
AT_2000 = datetime(2019, 5, 26, 20, 0, tzinfo=CEST)   # polls closed in AT, before the projection's time
AT_2200 = datetime(2019, 5, 26, 22, 0, tzinfo=CEST)   # IT's polls still open (23:00)
AFTER = datetime(2019, 5, 26, 23, 30, tzinfo=CEST)

PROJECTION = {"type": "projection", "as_of": "2019-05-26T20:20:00+02:00", "from": "2019-05-26T20:15:00+02:00",
              "seats_total": 751, "majority": 376, "seats_projected": 24, "seats_unprojected": 727,
              "groups": [{"id": "EPP", "seats": 7, "by_basis": {"estimate": 7}}],
              "countries": {}, "countries_by_basis": {}}


def _estimates(version: str, countries: dict[str, str], *, projection: bool = True,
               units: dict[str, int] | None = None) -> dict:
    """A real bundle of ``countries`` (code -> status), estimates carrying no counted unit unless
    ``units`` says so, with the ep2019 timeline and, if asked, an EU projection."""
    bundle = build_bundle(version, only=set(countries), statuses=countries, hostile_name=False)
    for country in bundle["countries"]:
        if country["status"] == "estimate":
            country["units_reporting"] = (units or {}).get(country["code"], 0)
    bundle["election"]["timeline"] = load_election(ELECTION).timeline()
    if projection:
        bundle["projection"] = copy.deepcopy(PROJECTION)
    return bundle


BUNDLES = {
    "e0001": lambda: _estimates("e0001", {"AT": "estimate", "MT": "estimate"}),          # lawful from 20:15
    "e0002": lambda: _estimates("e0002", {"AT": "estimate", "MT": "estimate", "IT": "estimate"}),
    "e0003": lambda: _estimates("e0003", {"AT": "estimate", "UK": "estimate"}),
    "e0004": lambda: _estimates("e0004", {"AT": "estimate", "MT": "estimate"}, units={"AT": 87}),  # a count
    "e0005": lambda: _estimates("e0005", {"AT": "estimate", "MT": "provisional"}),
    "e0006": lambda: _estimates("e0006", {"AT": "estimate"}, projection=False),
}


@lru_cache(maxsize=1)
def sealed() -> dict[str, tuple[Path, str]]:
    from publish.build import build_version
    from publish.signing import Signer

    base, _ = demo_key()
    out = scratch_dir("enrtl-")
    with Signer(base / "sign") as signer:
        return {v: (out / v, build_version(make(), out / v, signer, languages=["en"])[1]) for v, make in BUNDLES.items()}


def _stage(bucket, version: str) -> str:
    return release.stage(bucket, ELECTION, version, sealed()[version][0])


def _attempt(tmp_path, version: str, now: datetime, refusal: type[Exception], words: str) -> None:
    bucket = area(tmp_path, "election")
    digest = _stage(bucket, version)
    before = public_state(bucket)
    with pytest.raises(refusal, match=words):
        publish(bucket, version, digest, now=now)
    assert public_state(bucket) == before == {}


def test_control_the_lawful_estimates_and_projection_leave_at_their_time(tmp_path):
    bucket = area(tmp_path, "election")
    digest = _stage(bucket, "e0001")
    result = publish(bucket, "e0001", digest, now=AT_2030)
    assert result.version == "e0001" and release.current(bucket, ELECTION)["version"] == "e0001"
    published = json.loads(bucket.read(f"public/{ELECTION}/e0001/data/bundle.json"))
    assert {c["code"]: c["status"] for c in published["countries"]} == {"AT": "estimate", "MT": "estimate"}
    assert published["projection"]["type"] == "projection"


def test_an_estimate_alone_may_leave_before_the_projection_time(tmp_path):
    bucket = area(tmp_path, "election")
    assert publish(bucket, "e0006", _stage(bucket, "e0006"), now=AT_2000).version == "e0006"


def test_a_count_smuggled_as_an_estimate_before_the_embargo(tmp_path):
    _attempt(tmp_path, "e0004", AT_2030, release.EmbargoNotLifted,
             r"AT: an estimate carrying counted reporting units is a count")


def test_a_counted_result_before_the_embargo(tmp_path):
    _attempt(tmp_path, "e0005", AT_2200, release.EmbargoNotLifted,
             r"embargo until 2019-05-26T21:00:00\+00:00, now 2019-05-26T20:00:00\+00:00; counted results of MT")


def test_an_estimate_while_the_polls_are_still_open(tmp_path):
    _attempt(tmp_path, "e0002", AT_2200, timeline.PollsStillOpen,
             r"national estimate of IT at 2019-05-26T20:00:00\+00:00, while its polls are open until "
             r"2019-05-26T21:00:00\+00:00")


@pytest.mark.parametrize("now", [AT_2030, AFTER], ids=["before-embargo", "after-embargo"])
def test_an_estimate_where_the_definition_does_not_allow_one(tmp_path, now):
    _attempt(tmp_path, "e0003", now, timeline.EstimateNotAllowed,
             r"national estimate of UK, where the election definition does not allow")


def test_the_projection_before_its_time(tmp_path):
    _attempt(tmp_path, "e0001", AT_2000, timeline.ProjectionTooEarly,
             r"EU projection at 2019-05-26T18:00:00\+00:00, before 2019-05-26T18:15:00\+00:00")


def test_a_clock_set_back_to_before_the_projection_time(tmp_path):
    bucket = area(tmp_path, "election")
    publish(bucket, "e0006", _stage(bucket, "e0006"), now=AT_2030)
    before = public_state(bucket)
    digest = _stage(bucket, "e0001")
    with pytest.raises(release.ClockMovedBack, match="the clock moved back"):
        publish(bucket, "e0001", digest, now=AT_2030 - timedelta(minutes=20))
    assert public_state(bucket) == before and release.current(bucket, ELECTION)["version"] == "e0006"


@pytest.mark.parametrize("edit", ["relabel-count-as-estimate", "earlier-projection-time", "drop-timeline"])
def test_a_staged_bundle_edited_after_signing(tmp_path, edit):
    """The staging area is writable by more than the publisher: an edit of the bundle's result types or
    timeline after the signature is refused on the digest, whatever the clock says."""
    bucket = area(tmp_path, "election")
    version = "e0005" if edit == "relabel-count-as-estimate" else "e0001"
    digest = _stage(bucket, version)
    key = f"staging/{ELECTION}/{version}/data/bundle.json"
    bundle = json.loads(bucket.read(key))
    if edit == "relabel-count-as-estimate":
        for country in bundle["countries"]:
            if country["status"] == "provisional":
                country["status"], country["units_reporting"] = "estimate", 0
    elif edit == "earlier-projection-time":
        bundle["election"]["timeline"]["projection_from"] = "2019-05-26T18:00:00+02:00"
    else:
        del bundle["election"]["timeline"]
        del bundle["projection"]
    bucket.write(key, json.dumps(bundle).encode())
    before = public_state(bucket)
    with pytest.raises(release.IntegrityError, match="bundle.json does not match the approved manifest"):
        publish(bucket, version, digest, now=AT_2000)
    assert public_state(bucket) == before == {}


def test_the_embargo_passed_every_lawful_figure_leaves(tmp_path):
    bucket = area(tmp_path, "election")
    assert publish(bucket, "e0005", _stage(bucket, "e0005"), now=AFTER).version == "e0005"
    assert EMBARGO < AFTER


@pytest.mark.parametrize("version, earliest", [
    ("e0001", datetime(2019, 5, 26, 20, 15, tzinfo=CEST)),   # the projection's time
    ("e0002", datetime(2019, 5, 26, 23, 0, tzinfo=CEST)),    # IT's polls
    ("e0003", None),                                          # the UK: never
    ("e0004", EMBARGO), ("e0005", EMBARGO),                   # counts
    ("e0006", datetime(2019, 5, 26, 17, 0, tzinfo=CEST)),    # AT's polls
])
def test_the_reviewer_is_told_from_when_a_version_may_leave(version, earliest):
    bundle = BUNDLES[version]()
    assert timeline.earliest_publication(bundle, EMBARGO) == earliest
    line = timeline.reviewer_line(bundle, test=False, embargo=EMBARGO, now=AT_2030)
    if earliest is None:
        assert "can never be published" in line
    elif earliest <= AT_2030:
        assert "may be published now" in line
    else:
        assert f"from {earliest.astimezone(timezone.utc).isoformat()}" in line


@pytest.mark.parametrize("version", sorted(BUNDLES))
def test_what_the_reviewer_is_told_is_what_publication_decides(version):
    """At the announced time the rule lets the version out, one second before it does not."""
    bundle = BUNDLES[version]()
    earliest = timeline.earliest_publication(bundle, EMBARGO)
    check = lambda now: timeline.check_timeline(bundle, test=False, embargo=EMBARGO, now=now, where=version)  # noqa: E731
    if earliest is None:
        for now in (AT_2030, AFTER, AFTER + timedelta(days=30)):
            with pytest.raises(timeline.EstimateNotAllowed):
                check(now)
        return
    check(earliest)
    with pytest.raises((timeline.TimelineRefused, release.EmbargoNotLifted)):
        check(earliest - timedelta(seconds=1))
