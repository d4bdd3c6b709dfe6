"""``enr.intake.check_deliveries``: the intake's verdict without a store, a bucket or an inbox.

The history the context checks see is the earlier files of the same call: a night's files given
together are checked for sequences, corrections and totals that never decrease, as the intake
would; a scaled unit set (``ENR_UNITS_SCALE``) is read from the same ``ENR_HOME`` as the replay's.
"""
from __future__ import annotations

import shutil

from bad_deliveries.fixtures import gpg_keys  # noqa: F401 (fixture)
from enr.intake import check_deliveries
from enr.replay import make_delivery, wave_rows, write_delivery, write_night

ELECTION = "ep2019"


def test_a_scaled_night_with_a_correction_is_checked_like_the_intake(gpg_keys, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ENR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ENR_UNITS_SCALE", "2")
    night = write_night(tmp_path / "out", countries=["AT"], waves=("provisional:30", "final:100"),
                        sender_home=gpg_keys.sender, corrections=True, scale=2)
    results = check_deliveries(list(reversed(night)), trusted_keys=gpg_keys.trusted)
    assert [(r.sequence, r.outcome) for r in results] == [(1, "accepted"), (2, "accepted"), (3, "accepted")]
    assert all(r.signer == gpg_keys.sender_fpr.upper() for r in results)
    assert (tmp_path / "home" / "units" / ELECTION / "x2" / "AT.csv").exists()
    assert not (tmp_path / "home" / "bucket").exists() and not (tmp_path / "home" / "results.db").exists()


def test_the_history_of_the_call_decides_order_rules(gpg_keys, tmp_path):  # noqa: F811
    final = wave_rows(ELECTION, "MT", "final:100")
    partial = wave_rows(ELECTION, "MT", "provisional:50")
    out = tmp_path / "out"
    first = write_delivery(out, make_delivery(ELECTION, "MT", "final:100", 1, rows=final), "ep2019-MT-0001.csv",
                           sender_home=gpg_keys.sender)
    # a later provisional wave with fewer units: status goes back
    second = write_delivery(out, make_delivery(ELECTION, "MT", "provisional:50", 2, rows=partial),
                            "ep2019-MT-0002.csv", sender_home=gpg_keys.sender)
    # a correction of a sequence never accepted
    third = write_delivery(out, make_delivery(ELECTION, "MT", "final:100", 3, rows=final, corrects=2, reason="x"),
                           "ep2019-MT-0003.csv", sender_home=gpg_keys.sender)
    results = check_deliveries([third, second, first], trusted_keys=gpg_keys.trusted)
    assert [(r.sequence, r.outcome, r.rule) for r in results] == [
        (1, "accepted", None), (2, "refused", "status_regressed"), (3, "refused", "corrects_unknown")]
    assert results[1].reason["row"] == 1 and results[1].reason["file"] == "ep2019-MT-0002.csv"
    alone = check_deliveries([third], trusted_keys=gpg_keys.trusted)
    assert alone[0].rule == "corrects_unknown"  # checked as the country's first delivery
    copy = tmp_path / "again"
    copy.mkdir()
    shutil.copyfile(first, copy / first.name)
    shutil.copyfile(str(first) + ".asc", copy / (first.name + ".asc"))
    twice = check_deliveries([first, copy / first.name], trusted_keys=gpg_keys.trusted)
    assert [r.outcome for r in twice] == ["accepted", "duplicate"]


def test_an_unsigned_file_and_a_bad_name_are_refused(gpg_keys, tmp_path):  # noqa: F811
    path = write_delivery(tmp_path, make_delivery(ELECTION, "MT", "final:100", 1), "ep2019-MT-0001.csv")
    assert check_deliveries([path], trusted_keys=gpg_keys.trusted)[0].rule == "signature_missing"
    assert check_deliveries([path], verify=False)[0].outcome == "accepted"
    odd = tmp_path / "MT-final.csv"
    shutil.copyfile(path, odd)
    assert check_deliveries([odd], verify=False)[0].rule == "bad_file_name"
