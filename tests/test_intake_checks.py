"""The intake's checks run in the order its docstring names (:data:`enr.intake.CHECKS`).

Where a delivery breaks two rules, the refusal is the earlier check's: each pair below is first
checked fault by fault (each alone gives its own rule), then both together.
"""
from __future__ import annotations

from bad_deliveries.fixtures import gpg_keys  # noqa: F401 (fixture)
from enr.intake import check_deliveries
from enr.replay import make_delivery, write_delivery

ELECTION = "ep2019"
NAME = "ep2019-MT-0001.csv"


def _rule(folder, data: bytes, *, name: str = NAME, sender=None, trusted=None, before=()) -> str | None:
    """The rule ``enr check`` refuses ``data`` (named ``name``) with, after the files ``before`` (sorted
    before it: same country and sequence, an earlier folder); the signature is checked when keys are given."""
    path = write_delivery(folder, data, name, sender_home=sender)
    verify = sender is not None or trusted is not None
    results = check_deliveries([*before, path], election=ELECTION, trusted_keys=trusted, verify=verify)
    return results[-1].rule


def test_the_metadata_naming_another_country_is_refused_before_its_unit_count(tmp_path):
    other_country = make_delivery(ELECTION, "LU", "final:100", 1)
    wrong_units = make_delivery(ELECTION, "MT", "final:100", 1, units_total=1)
    both = make_delivery(ELECTION, "LU", "final:100", 1, units_total=1)
    assert _rule(tmp_path / "a", other_country) == "name_mismatch"
    assert _rule(tmp_path / "b", wrong_units) == "units_total_mismatch"
    assert _rule(tmp_path / "c", both) == "name_mismatch"


def test_a_wrong_unit_count_is_refused_before_a_reused_sequence(tmp_path):
    first = write_delivery(tmp_path / "0-first", make_delivery(ELECTION, "MT", "provisional:50", 1), NAME)
    reused = make_delivery(ELECTION, "MT", "final:100", 1)
    reused_wrong_units = make_delivery(ELECTION, "MT", "final:100", 1, units_total=1)
    assert _rule(tmp_path / "a", reused, before=[first]) == "sequence_reused"
    assert _rule(tmp_path / "b", reused_wrong_units) == "units_total_mismatch"
    assert _rule(tmp_path / "c", reused_wrong_units, before=[first]) == "units_total_mismatch"


def test_an_unsigned_delivery_is_refused_before_it_is_read(gpg_keys, tmp_path):  # noqa: F811
    good = make_delivery(ELECTION, "MT", "final:100", 1)
    other_country = make_delivery(ELECTION, "LU", "final:100", 1)
    assert _rule(tmp_path / "a", good, trusted=gpg_keys.trusted) == "signature_missing"
    assert _rule(tmp_path / "b", other_country, sender=gpg_keys.sender, trusted=gpg_keys.trusted) == "name_mismatch"
    assert _rule(tmp_path / "c", other_country, trusted=gpg_keys.trusted) == "signature_missing"


def test_a_file_named_for_another_election_is_refused_before_its_signature(gpg_keys, tmp_path):  # noqa: F811
    good = make_delivery(ELECTION, "MT", "final:100", 1)
    assert _rule(tmp_path / "a", good, name="ep2024-MT-0001.csv", sender=gpg_keys.sender,
                 trusted=gpg_keys.trusted) == "election_mismatch"
    assert _rule(tmp_path / "b", good, name="ep2024-MT-0001.csv", trusted=gpg_keys.trusted) == "election_mismatch"
