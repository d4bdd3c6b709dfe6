"""Every bad delivery of the corpus is refused with its own rule and changes nothing downstream.

One intake environment (bucket, SQLite store, keys) is shared by the whole module: per country a
short history is accepted first (CY: provisional 40 %, final, then final with a sequence gap; MT:
final with declared STV seats). Then, for each case of ``bad_deliveries.corpus``:

1. the accepted results (store digest), every file under ``snapshots/`` and every existing file
   under ``deliveries/`` are hashed;
2. the bad delivery goes through the intake: it must be quarantined with the case's rule (or be a
   duplicate no-op), with a machine-readable ``reason.json`` in ``quarantine/``;
3. the hashes are taken again: the store's accepted results and ``snapshots/`` are identical,
   ``deliveries/`` only gained this delivery's own copy;
4. a good delivery right after it is accepted.
"""
from __future__ import annotations

import json
import shutil

import pytest

from bad_deliveries.corpus import CASES, ELECTION, CorpusContext
from bad_deliveries.fixtures import _backends, backend_url, gpg_keys, make_intake_env  # noqa: F401 (fixture)
from enr.replay import delivery_name

assert len(CASES) >= 40, len(CASES)


class CorpusRun:
    def __init__(self, env) -> None:
        self.env = env
        self.latest: dict[str, int] = {}
        self.latest_bytes: dict[str, bytes] = {}
        self.goods = 0

    def accept(self, country: str, seq: int, data: bytes):
        result = self.env.deliver(delivery_name(ELECTION, country, seq), data)
        assert result.outcome == "accepted", result.reason_text
        self.latest[country] = seq
        self.latest_bytes[country] = data
        return result

    def context(self, country: str) -> CorpusContext:
        return CorpusContext(country=country, seq=self.latest[country] + 1, latest=self.latest[country],
                             sign=self.env.sign, keys=self.env.keys, latest_bytes=self.latest_bytes[country],
                             extra={"never_accepted_below_latest": 3})


@pytest.fixture(scope="module", params=_backends())
def corpus_run(request, gpg_keys, tmp_path_factory):  # noqa: F811
    """The corpus runs on each store backend: SQLite, and PostgreSQL when ENR_TEST_PG_URL is set."""
    urls = backend_url(request.param, tmp_path_factory.mktemp("corpus"), tmp_path_factory)
    env = make_intake_env(gpg_keys, next(urls))
    run = CorpusRun(env)
    for country in ("CY", "MT"):
        ctx = CorpusContext(country=country, seq=1, latest=0, sign=env.sign, keys=gpg_keys)
        if country == "CY":
            run.accept("CY", 1, ctx.data(ctx.rows(40), seq=1, status="provisional"))
            run.accept("CY", 2, ctx.data(seq=2))
            gap = run.accept("CY", 4, ctx.data(seq=4, issued_at="2019-05-26T23:45:00+02:00"))
            assert any(w.startswith("sequence_gap") for w in gap.warnings), gap.warnings
        else:
            run.accept("MT", 1, ctx.data(seq=1))
    victim = env.bucket.root.parent / "victim.csv"
    victim.write_bytes(b"must stay\n")
    yield run
    env.store.close()
    shutil.rmtree(env.root, ignore_errors=True)
    next(urls, None)  # drops the PostgreSQL schema


def _state(env) -> dict:
    return {"digest": env.store.results_digest(ELECTION), "snapshots": env.files("snapshots"),
            "deliveries": env.files("deliveries"), "quarantine": env.files("quarantine"),
            "accepted": [(d["country"], d["sequence"]) for d in env.store.deliveries(ELECTION)
                         if d["outcome"] == "accepted"]}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_delivery_is_refused_and_changes_nothing(corpus_run, case):
    env = corpus_run.env
    ctx = corpus_run.context(case.country)
    attempt = case.build(ctx)
    before = _state(env)
    deliveries_before = len(env.store.deliveries(ELECTION))

    from enr.intake import process_delivery

    if attempt.via == "inbox":
        env.drop(attempt.name, attempt.data, attempt.signature)
    result = process_delivery(attempt.name, env.settings, ELECTION, store=env.store, bucket=env.bucket)

    assert result.outcome == case.outcome, (result.outcome, result.reason_text)
    assert result.rule == case.rule, result.reason_text
    after = _state(env)
    assert after["digest"] == before["digest"], "the accepted results changed"
    assert after["snapshots"] == before["snapshots"], "snapshots/ changed"
    assert after["accepted"] == before["accepted"]
    for key, digest in before["deliveries"].items():
        assert after["deliveries"].get(key) == digest, f"{key} was changed or removed"
    new = set(after["deliveries"]) - set(before["deliveries"])
    if result.sha256:
        assert all(result.sha256[:12] in key for key in new), new
    else:
        assert not new
    assert not (env.bucket.root / "inbox").exists() or not list((env.bucket.root / "inbox").iterdir()), \
        "the inbox still holds the refused delivery"
    assert (env.bucket.root.parent / "victim.csv").read_bytes() == b"must stay\n"
    if not case.touches_bucket:
        assert after["quarantine"] == before["quarantine"] and not new
        assert len(env.store.deliveries(ELECTION)) == deliveries_before
        assert env.store.audit(ELECTION, event_name="refused_name")
    elif case.outcome == "quarantined":
        reason = json.loads(env.bucket.read_bytes(result.quarantine_key + ".reason.json"))
        assert reason["rule"] == case.rule
        assert {"file", "row", "rule", "expected", "found", "message", "sha256", "received_at"} <= set(reason)
        assert reason["sha256"] == result.sha256
        record = env.store.deliveries(ELECTION)[-1]
        assert record["outcome"] == "quarantined" and record["rule"] == case.rule
    else:
        assert env.store.deliveries(ELECTION)[-1]["outcome"] == "duplicate"
        assert after["quarantine"] == before["quarantine"]

    # the next good delivery flows normally
    corpus_run.goods += 1
    good = ctx.data(issued_at=f"2019-05-27T00:{corpus_run.goods // 60:02d}:{corpus_run.goods % 60:02d}+02:00")
    accepted = corpus_run.accept(case.country, ctx.seq, good)
    assert accepted.snapshot_key and env.bucket.exists(accepted.snapshot_key)


def test_corpus_covers_the_required_kinds():
    rules = {c.rule for c in CASES}
    required = {"signature_bad", "signature_missing", "signer_unknown", "signer_expired", "signer_revoked",
                "sequence_old", "sequence_reused", "truncated", "encoding", "negative_count", "not_integer",
                "votes_sum_mismatch", "unknown_list", "unknown_country", "unknown_unit", "unknown_election",
                "markup_in_name", "bad_file_name", "too_large", "empty_file", "header_extra_column",
                "header_missing_column", "header_order", "duplicate_row", "header_delimiter", "metadata_json",
                "metadata_status", "metadata_sequence", "name_mismatch", "final_missing_units", "totals_decreased",
                "voters_exceed_registered"}
    assert required <= rules, required - rules
    assert any(c.outcome == "duplicate" for c in CASES)
    assert len({c.id for c in CASES}) == len(CASES)
