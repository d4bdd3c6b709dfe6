"""The intake end to end: inbox -> signature -> parse -> suites -> store + snapshots, or quarantine."""
from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from bad_deliveries.corpus import CorpusContext
from bad_deliveries.fixtures import gpg_keys, intake_env, make_intake_env, store_url  # noqa: F401 (fixtures)
from enr.intake import pending_countries, process_delivery, process_inbox, rebuild_from_deliveries
from enr.replay import delivery_name, write_night
from enr.store import Store
from enr.simulation import national_targets

ELECTION = "ep2019"


@pytest.fixture(scope="module")
def night_env(gpg_keys, tmp_path_factory):  # noqa: F811
    """A small replayed night (MT, IE, LU, PL; one bad delivery; corrections) taken through the inbox."""
    env = make_intake_env(gpg_keys)
    night = write_night(tmp_path_factory.mktemp("night"), countries=["IE", "LU", "MT", "PL"],
                        waves=("provisional:40", "final:100"), sender_home=gpg_keys.sender, bad=1, corrections=True)
    outcomes = []
    for wave in night.waves:
        for path in wave.files:
            env.drop(path.name, path.read_bytes(), path.with_name(path.name + ".asc").read_bytes())
        assert pending_countries(env.settings, ELECTION, bucket=env.bucket) == sorted(
            {p.name.split("-")[1] for p in wave.files})
        outcomes.append(process_inbox(env.settings, ELECTION, store=env.store, bucket=env.bucket))
    yield env, night, outcomes
    env.store.close()
    shutil.rmtree(env.root, ignore_errors=True)


def test_a_night_flows_through_the_inbox(night_env):
    env, night, outcomes = night_env
    flat = [r for wave in outcomes for r in wave]
    assert len(flat) == len(night)
    assert [r.outcome for r in flat].count("quarantined") == 1
    assert [(r.country, r.sequence) for r in outcomes[0]] == sorted((r.country, r.sequence) for r in outcomes[0])
    bad = next(r for r in flat if r.outcome == "quarantined")
    reason = json.loads(env.bucket.read_bytes(bad.quarantine_key + ".reason.json"))
    assert reason["rule"] == bad.rule and reason["sha256"] == bad.sha256
    assert not list((env.bucket.root / "inbox").iterdir())
    latest = env.store.latest_results(ELECTION)
    assert sorted(latest) == ["IE", "LU", "MT", "PL"]
    for country, result in latest.items():
        targets = national_targets(ELECTION, country)
        assert result.status == "final" and result.units_reporting == result.units_total
        assert (result.registered, result.voters, result.invalid) == (targets.registered, targets.voters,
                                                                     targets.invalid)
        if country not in {c.country for c in flat if c.file_name in {p.name for p in night.waves[-1].files}}:
            assert dict(zip(result.votes["list_id"], result.votes["votes"])) == targets.lists or \
                result.votes.groupby("list_id")["votes"].sum().to_dict() == targets.lists
    assert latest["IE"].declared_seats["seats"].sum() == 11
    assert set(latest["PL"].votes["constituency"]) and len(set(latest["PL"].votes["constituency"])) == 13
    for result in flat:
        if result.outcome == "accepted":
            assert env.bucket.exists(result.snapshot_key)
            assert env.bucket.exists(result.validation_key)
            assert env.bucket.exists(result.validation_key.replace(".json", ".html"))
            assert env.bucket.exists(result.delivery_key) and env.bucket.exists(result.delivery_key + ".asc")


def test_corrections_are_recorded_with_before_and_after(night_env):
    env, night, _ = night_env
    corrected = [p.name.split("-")[1] for p in night.waves[-1].files]
    events = env.store.corrections(ELECTION)
    assert {e["country"] for e in events} == set(corrected)
    for country in corrected:
        mine = [e for e in events if e["country"] == country]
        unit_votes = [e for e in mine if e["unit_id"] and e["field"] == "votes"]
        national = [e for e in mine if e["unit_id"] is None]
        assert len(unit_votes) == 2 and len(national) == 2
        assert sum(e["after"] - e["before"] for e in unit_votes) == 0
        assert all(e["reason"].startswith("recount in unit") for e in mine)
        assert env.store.latest_result(ELECTION, country).corrects == mine[0]["corrects"]


def test_rebuild_from_the_kept_deliveries_gives_the_same_results(night_env, store_url):  # noqa: F811
    env, _, _ = night_env
    fresh = Store(store_url)
    fresh.migrate()
    replayed = rebuild_from_deliveries(env.bucket, fresh, ELECTION, settings=env.settings, verify=True)
    assert all(r.outcome == "accepted" for r in replayed)
    before, after = env.store.latest_results(ELECTION), fresh.latest_results(ELECTION)
    assert sorted(before) == sorted(after)
    for country in before:
        a, b = before[country], after[country]
        assert (a.sequence, a.sha256, a.status, a.totals, a.units_reporting) == \
            (b.sequence, b.sha256, b.status, b.totals, b.units_reporting)
        assert a.votes.equals(b.votes)
    strip = lambda events: [{k: v for k, v in e.items() if k != "recorded_at"} for e in events]  # noqa: E731
    assert strip(env.store.corrections(ELECTION)) == strip(fresh.corrections(ELECTION))
    fresh.close()


def test_duplicate_and_a_new_signature_for_refused_bytes(intake_env):  # noqa: F811
    env = intake_env
    ctx = CorpusContext(country="MT", seq=1, latest=0, sign=env.sign, keys=env.keys)
    data = ctx.data(seq=1)
    name = delivery_name(ELECTION, "MT", 1)
    unknown_signature = env.sign(data, env.keys.other)  # signed once: a signature carries its second
    refused = env.deliver(name, data, signature=unknown_signature)
    assert refused.outcome == "quarantined" and refused.rule == "signer_unknown"
    again = env.deliver(name, data, signature=unknown_signature)
    assert again.outcome == "duplicate"  # the same bytes and the same signature: nothing new
    accepted = env.deliver(name, data)
    assert accepted.outcome == "accepted", accepted.reason_text  # a new signature is a new try
    duplicate = env.deliver(name, data)
    assert duplicate.outcome == "duplicate" and duplicate.duplicate_of
    assert [d["outcome"] for d in env.store.deliveries(ELECTION)] == ["quarantined", "duplicate", "accepted",
                                                                      "duplicate"]
    assert [e["event"] for e in env.store.audit(ELECTION)] == ["quarantined", "duplicate", "accepted", "duplicate"]
    kept = env.files("deliveries")
    assert sum(k.endswith(".asc") for k in kept) == 2  # the refused signature and the good one
    assert sum(k.endswith(".receipt.json") for k in kept) == 2


def test_sequence_rules(intake_env):  # noqa: F811
    env = intake_env
    ctx = CorpusContext(country="CY", seq=1, latest=0, sign=env.sign, keys=env.keys)
    assert env.deliver(delivery_name(ELECTION, "CY", 2), ctx.data(ctx.rows(30), seq=2, status="provisional")) \
        .outcome == "accepted"
    gap = env.deliver(delivery_name(ELECTION, "CY", 5), ctx.data(ctx.rows(60), seq=5, status="provisional"))
    assert gap.outcome == "accepted"
    assert any("never received: 3, 4" in w for w in gap.warnings), gap.warnings
    assert env.store.audit(ELECTION, event_name="sequence_gap")
    old = env.deliver(delivery_name(ELECTION, "CY", 4), ctx.data(ctx.rows(50), seq=4, status="provisional"))
    assert old.rule == "sequence_old"
    reused = env.deliver(delivery_name(ELECTION, "CY", 5), ctx.data(ctx.rows(70), seq=5, status="provisional"))
    assert reused.rule == "sequence_reused"
    final = env.deliver(delivery_name(ELECTION, "CY", 6), ctx.data(seq=6))
    assert final.outcome == "accepted" and not final.warnings


def test_estimate_then_counted_waves(intake_env):  # noqa: F811
    from enr.replay import make_delivery

    env = intake_env
    estimate = env.deliver(delivery_name(ELECTION, "FR", 1), make_delivery(ELECTION, "FR", "estimate", 1))
    assert estimate.outcome == "accepted", estimate.reason_text
    assert env.store.latest_result(ELECTION, "FR").units_reporting == 0
    counted = env.deliver(delivery_name(ELECTION, "FR", 2), make_delivery(ELECTION, "FR", "provisional:20", 2))
    assert counted.outcome == "accepted", counted.reason_text  # lower totals than the estimate: not compared
    late = env.deliver(delivery_name(ELECTION, "FR", 3), make_delivery(ELECTION, "FR", "estimate", 3))
    assert late.rule == "status_regressed"


def test_unsigned_delivery_waits_then_is_refused(intake_env):  # noqa: F811
    env = intake_env
    ctx = CorpusContext(country="MT", seq=1, latest=0, sign=env.sign, keys=env.keys)
    env.drop(delivery_name(ELECTION, "MT", 1), ctx.data(seq=1))
    assert pending_countries(env.settings, ELECTION, bucket=env.bucket) == []
    assert process_inbox(env.settings, ELECTION, store=env.store, bucket=env.bucket) == []
    later = datetime.now(timezone.utc) + timedelta(minutes=11)
    assert pending_countries(env.settings, ELECTION, bucket=env.bucket, now=later) == ["MT"]
    results = process_inbox(env.settings, ELECTION, store=env.store, bucket=env.bucket, now=later)
    assert [r.rule for r in results] == ["signature_missing"]


def test_inbox_routing(intake_env):  # noqa: F811
    env = intake_env
    ctx = CorpusContext(country="MT", seq=1, latest=0, sign=env.sign, keys=env.keys)
    for seq in (2, 1):
        data = ctx.data(seq=seq)
        env.drop(delivery_name(ELECTION, "MT", seq), data, env.sign(data))
    other = ctx.data(seq=1, election="ep2024")
    env.drop("ep2024-MT-0001.csv", other, env.sign(other))
    cy = CorpusContext(country="CY", seq=1, latest=0, sign=env.sign, keys=env.keys).data(seq=1)
    env.drop(delivery_name(ELECTION, "CY", 1), cy, env.sign(cy))
    env.drop("notes.txt", b"hello")
    outside = env.root / "outside.csv"
    outside.write_bytes(b"secret\n")
    os.symlink(outside, env.bucket.root / "inbox" / "ep2019-AT-0001.csv")
    only_mt = process_inbox(env.settings, ELECTION, countries=["MT"], store=env.store, bucket=env.bucket)
    assert [(r.sequence, r.outcome) for r in only_mt] == [(1, "accepted"), (2, "accepted")]
    rest = process_inbox(env.settings, ELECTION, store=env.store, bucket=env.bucket)
    assert [(r.file_name, r.outcome, r.rule) for r in rest] == [("notes.txt", "quarantined", "bad_file_name"),
                                                               ("ep2019-CY-0001.csv", "accepted", None)]
    left = sorted(p.name for p in (env.bucket.root / "inbox").iterdir())
    assert left == ["ep2019-AT-0001.csv", "ep2024-MT-0001.csv", "ep2024-MT-0001.csv.asc"]  # symlink, other election
    link = process_delivery("ep2019-AT-0001.csv", env.settings, ELECTION, store=env.store, bucket=env.bucket)
    assert link.rule == "bad_file_name" and outside.read_bytes() == b"secret\n"
    assert not any("secret" in p.read_text(errors="ignore") for p in env.bucket.root.rglob("*")
                   if p.is_file() and not p.is_symlink())


def test_oversized_file_is_moved_without_being_read(intake_env, monkeypatch):  # noqa: F811
    import enr.intake

    env = intake_env
    monkeypatch.setattr(enr.intake, "MAX_BYTES", 1000)
    env.drop(delivery_name(ELECTION, "MT", 1), b"x" * 5000, b"sig")
    result = process_delivery(delivery_name(ELECTION, "MT", 1), env.settings, ELECTION, store=env.store,
                              bucket=env.bucket)
    assert result.rule == "too_large" and env.bucket.exists(result.quarantine_key)
    assert env.store.deliveries(ELECTION)[-1]["size"] == 5000


def test_uk_final_declares_only_the_northern_ireland_stv_seats(intake_env):  # noqa: F811
    from enr.replay import make_delivery

    env = intake_env
    result = env.deliver(delivery_name(ELECTION, "UK", 1), make_delivery(ELECTION, "UK", "final:100", 1))
    assert result.outcome == "accepted", result.reason_text
    seats = env.store.latest_result(ELECTION, "UK").declared_seats
    assert seats["seats"].sum() == 3 and set(seats["constituency"]) == {"Northern Ireland"}
    assert len(set(env.store.latest_result(ELECTION, "UK").votes["constituency"])) == 12


def test_a_file_replaced_while_it_is_processed_stays_in_the_inbox(intake_env, monkeypatch):  # noqa: F811
    import enr.signatures

    env = intake_env
    ctx = CorpusContext(country="MT", seq=1, latest=0, sign=env.sign, keys=env.keys)
    name = delivery_name(ELECTION, "MT", 1)
    newer = ctx.data(seq=1, issued_at="2019-05-27T02:00:00+02:00")
    verify = enr.signatures.verify_delivery

    def verify_then_replace(*args, **kwargs):
        check = verify(*args, **kwargs)
        path = env.bucket.root / "inbox" / name
        path.write_bytes(newer)
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
        return check

    monkeypatch.setattr(enr.signatures, "verify_delivery", verify_then_replace)
    first = env.deliver(name, ctx.data(seq=1))
    assert first.outcome == "accepted"
    assert (env.bucket.root / "inbox" / name).read_bytes() == newer  # left for the next run
    assert not (env.bucket.root / "inbox" / (name + ".asc")).exists()


def test_the_largest_deliveries_are_mapped_first(intake_env, monkeypatch):  # noqa: F811
    """The ingest DAG maps one task per country in the order the inbox sensor gives, and Airflow
    queues mapped task instances of one priority by map index: the country with the most bytes
    waiting comes first (ties by code), so a large delivery does not start last and end the run alone."""
    env = intake_env
    for country, size in {"MT": 100, "PL": 5000, "IE": 900, "AT": 900}.items():
        env.drop(delivery_name(ELECTION, country, 1), b"x" * size, b"a signature")
    env.drop(delivery_name(ELECTION, "MT", 2), b"x" * 1000, b"a signature")  # MT: 1,100 bytes waiting in all
    env.drop(delivery_name(ELECTION, "DE", 1), b"x" * 9000)  # unsigned, not yet due: not waiting
    assert pending_countries(env.settings, ELECTION, bucket=env.bucket) == ["AT", "IE", "MT", "PL"]
    assert pending_countries(env.settings, ELECTION, bucket=env.bucket, largest_first=True) == ["PL", "MT", "AT", "IE"]

    from enr import pipeline
    from plugins.enr_airflow.sensors import InboxSensor

    asked = []
    monkeypatch.setattr(pipeline, "pending_countries", lambda election, **kw: asked.append((election, kw)) or ["PL"])
    answer = InboxSensor(task_id="wait", election=ELECTION).poke({})
    assert answer.xcom_value == ["PL"] and asked == [(ELECTION, {"largest_first": True})]
