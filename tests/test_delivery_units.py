"""The units and list votes of a delivery computed on the Arrow table (no pandas frame of every row):
the same values, order and index as the pandas computations they replace, and what the store
holds after an intake equals what pandas computes independently from the file's bytes."""
from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from bad_deliveries.fixtures import gpg_keys, intake_env, store_url  # noqa: F401 (fixtures)
from enr.delivery import (OTHER_LIST, SCHEMA, Delivery, DeliveryMeta, parse_delivery, unit_rows, unit_table,
                          unit_totals)
from enr.intake import list_votes
from enr.replay import delivery_name, make_delivery

ELECTION = "ep2019"


def _table(rows: list[tuple], chunks: int = 1) -> pa.Table:
    """Rows (unit_id, constituency, registered, voters, blank, invalid, list_id, votes) as a delivery table
    split into ``chunks`` record batches (what a large file read in blocks gives)."""
    columns = {c: [] for c in SCHEMA.names}
    for unit, constituency, registered, voters, blank, invalid, list_id, votes in rows:
        for name, value in zip(SCHEMA.names, (unit, unit, constituency, registered, voters, blank, invalid,
                                              list_id, votes)):
            columns[name].append(value)
    table = pa.table(columns, schema=SCHEMA)
    size = -(-len(rows) // chunks) if rows else 1
    return pa.Table.from_batches(table.to_batches(max_chunksize=size), schema=SCHEMA)


INTERLEAVED = [  # units and (constituency, list) pairs come back after others; a unit's rows need not be adjacent
    ("U2", "c2", 100, 80, 3, 2, "b", 40), ("U1", "c1", 50, 40, None, 1, "a", 20), ("U2", "c2", 100, 80, 3, 2, "a", 35),
    ("U3", "c1", 70, 60, 0, 0, "_other", 5), ("U1", "c1", 50, 40, None, 1, "b", 19), ("U3", "c1", 70, 60, 0, 0, "a", 55),
    ("U4", "", 9, 9, None, 0, "b", 9), ("U2", "c2", 100, 80, 3, 2, "_other", 0),
]


@pytest.mark.parametrize("rows, chunks", [
    (INTERLEAVED, 1), (INTERLEAVED, 3), (INTERLEAVED, 8),
    ([r[:4] + (None,) + r[5:] for r in INTERLEAVED], 2),  # no blank anywhere
    ([r[:4] + (r[4] or 0,) + r[5:] for r in INTERLEAVED], 2),  # blank everywhere
    ([(f"U{i % 7}", f"c{i % 3}", 10 + i % 7, 5, None if i % 7 == 3 else 1, 0, f"l{i % 5}", i) for i in range(200)], 9),
])
def test_unit_totals_is_the_first_row_of_each_unit_as_pandas_drop_duplicates_gives_it(rows, chunks):
    table = _table(rows, chunks)
    expected = table.select(["unit_id", "registered", "voters", "blank", "invalid"]).to_pandas() \
        .drop_duplicates("unit_id", keep="first")
    got = unit_totals(table)
    pd.testing.assert_frame_equal(got, expected)
    assert unit_table(table).to_pydict() == pa.Table.from_pandas(
        table.to_pandas().drop_duplicates("unit_id")[list(unit_table(table).column_names)],
        schema=unit_table(table).schema, preserve_index=False).to_pydict()


def test_unit_rows_of_no_rows_and_of_one_unit():
    assert unit_rows(_table([])).tolist() == []
    assert unit_rows(_table([("U", "", 1, 1, None, 0, "a", 1)] * 5, 2)).tolist() == [0]
    assert unit_rows(_table(INTERLEAVED, 3)).tolist() == [0, 1, 3, 6]


@pytest.mark.parametrize("chunks", [1, 4])
def test_list_votes_are_pandas_groupby_in_order_of_first_appearance(chunks):
    rows = INTERLEAVED + [(f"V{i}", f"c{(i * 7) % 5}", 1, 1, None, 0, f"l{(i * 3) % 11}", i) for i in range(300)]
    table = _table(rows, chunks)
    frame = table.to_pandas()
    expected = frame.groupby(["constituency", "list_id"], sort=False, as_index=False)["votes"].sum()
    pd.testing.assert_frame_equal(list_votes(table), expected)


def test_the_delivery_caches_its_units_per_table():
    meta = DeliveryMeta(election=ELECTION, country="MT", sequence=1, status="final", issued_at="2019-05-26T23:00:00+02:00",
                        units_total=4, rows=len(INTERLEAVED))
    delivery = Delivery(meta=meta, table=_table(INTERLEAVED))
    first = delivery.unit_rows()
    assert delivery.unit_rows() is first and first.tolist() == [0, 1, 3, 6]
    delivery.table = _table(INTERLEAVED[1:])  # another table: computed again
    assert delivery.unit_rows().tolist() == [0, 1, 2, 5]
    assert delivery.units()["unit_id"].to_pylist() == ["U1", "U2", "U3", "U4"]


@pytest.mark.parametrize("country, wave", [("PL", "provisional:40"), ("FR", "provisional:30"), ("BE", "final:100"),
                                           ("DE", "estimate")])
def test_the_store_holds_what_pandas_computes_from_the_file(intake_env, country, wave):  # noqa: F811
    """Each stored figure recomputed from the bytes with pandas.read_csv (no code of the intake)."""
    env = intake_env
    data = make_delivery(ELECTION, country, wave, 1)
    outcome = env.deliver(delivery_name(ELECTION, country, 1), data)
    assert outcome.outcome == "accepted", outcome.reason_text
    rows = pd.read_csv(io.BytesIO(data), skiprows=1, dtype={"unit_id": str, "unit_name": str, "constituency": str,
                                                           "list_id": str}, keep_default_na=False,
                       na_values={"blank": [""]})
    units = rows.drop_duplicates("unit_id")
    stored = env.store.latest_result(ELECTION, country)
    blank = None if units["blank"].isna().all() else int(units["blank"].sum())
    assert (stored.registered, stored.voters, stored.blank, stored.invalid) == (
        int(units["registered"].sum()), int(units["voters"].sum()), blank, int(units["invalid"].sum()))
    assert stored.valid == stored.voters - (blank or 0) - stored.invalid
    assert stored.other_votes == int(rows.loc[rows["list_id"] == OTHER_LIST, "votes"].sum())
    assert stored.units_reporting == int((units["unit_id"] != "_national").sum())
    listed = rows[rows["list_id"] != OTHER_LIST].groupby(["constituency", "list_id"])["votes"].sum()
    got = stored.votes.groupby(["constituency", "list_id"])["votes"].sum()
    assert got.to_dict() == {k: int(v) for k, v in listed.items()}
    assert len(stored.votes) == len(listed)
    assert parse_delivery(data).table.num_rows == len(rows)


NOT_PLAIN_DIGITS = ["", "-", "-0", "-12", "+1", " 1", "1 ", "1\n", "1.0", "1e3", "0x1", "１", "٣", "²", "12a",
                    "9" * 18, "9" * 19, "-" + "9" * 18, "-" + "9" * 19, "00", "--1", "1-"]


@pytest.mark.parametrize("value", NOT_PLAIN_DIGITS)
@pytest.mark.parametrize("at", [0, 5, 11])
def test_the_first_value_that_is_not_an_integer_is_the_regular_expressions(value, at):
    """The shortcut (ASCII digits, at most 18) finds the same first value as the rule's regex alone."""
    from enr.delivery import _INTEGER_RE, _first, _first_not_integer

    values = ["7", "123456789012345678", "0"] * 4
    values[at] = value
    for column in (pa.chunked_array([values[:4], values[4:]]), pa.chunked_array([values[:4] + [None], values[4:]])):
        expected = _first(pc.fill_null(pc.invert(pc.match_substring_regex(column, _INTEGER_RE)), False))
        assert _first_not_integer(column) == expected


@pytest.mark.parametrize("value, too_long", [("é" * 200, False), ("é" * 201, True), ("a" * 200, False),
                                             ("a" * 201, True), ("€" * 70, False), ("𝔸" * 200, False),
                                             ("𝔸" * 201, True)])
def test_the_first_id_too_long_counts_characters_not_bytes(value, too_long):
    from enr.delivery import _first_too_long

    column = pa.chunked_array([["x", "y"], ["z", value, "w" * 201]])
    assert _first_too_long(column, 200) == (3 if too_long else 4)
    assert _first_too_long(pa.chunked_array([["x", value]]), 200) == (1 if too_long else None)


def _reordered(delivery: Delivery, order) -> Delivery:
    return Delivery(meta=delivery.meta, table=delivery.table.take(pa.array(order)), file_name=delivery.file_name)


@pytest.mark.parametrize("country, wave", [("CY", "final:100"), ("BE", "final:100"), ("PL", "provisional:40")])
@pytest.mark.parametrize("order", ["file", "interleaved", "reversed"])
def test_units_frame_of_the_table_whether_or_not_a_units_rows_are_together(country, wave, order):
    """Rows written unit by unit (compared with the row before) or units coming back later (compared
    with the unit's first row): both give the pandas units frame; a unit's differing rows are found."""
    import numpy as np
    from expectations.runner import rows_table, suite_params, units_frame, units_frame_of_table

    delivery = parse_delivery(make_delivery(ELECTION, country, wave, 1))
    n = delivery.table.num_rows
    if order != "file":
        positions = np.arange(n)
        delivery = _reordered(delivery, positions[::-1] if order == "reversed" else
                              np.concatenate([positions[0::3], positions[1::3], positions[2::3]]))
    params = suite_params(ELECTION, country, delivery.meta.status)
    expected = units_frame(delivery.frame(with_line=True), params)
    table = rows_table(delivery, params)
    pd.testing.assert_frame_equal(units_frame_of_table(table, params, codes=delivery.unit_codes()), expected)
    pd.testing.assert_frame_equal(units_frame_of_table(table, params), expected)
    for column, value in (("registered", 1), ("unit_name", "renamed"), ("blank", None)):
        changed = table[column].to_pylist()
        last_of_first_unit = max(i for i, u in enumerate(table["unit_id"].to_pylist()) if u == table["unit_id"][0].as_py())
        changed[last_of_first_unit] = (changed[last_of_first_unit] + value) if column == "registered" else value
        if changed == table[column].to_pylist():
            continue  # blank already empty
        bad = table.set_column(table.schema.get_field_index(column), column, pa.array(changed, table[column].type))
        with pytest.raises(ValueError):
            units_frame_of_table(bad, params)


def _snapshot(delivery: Delivery) -> pa.Table:
    """The snapshot's table as the intake reads it back to compare (parquet, the compared columns)."""
    import pyarrow.parquet as pq
    from enr.intake import COMPARED_COLUMNS

    sink = io.BytesIO()
    pq.write_table(delivery.table.cast(SCHEMA), sink, compression="zstd")
    return pq.read_table(io.BytesIO(sink.getvalue()), columns=list(COMPARED_COLUMNS))


@pytest.mark.parametrize("country, before, after", [
    ("CY", "provisional:40", "final:100"), ("BE", "provisional:40", "final:100"),  # BE: no blank, an _other list
    ("PL", "provisional:30", "provisional:60"), ("CY", "final:100", "final:100"),
])
def test_changes_of_the_arrow_tables_are_the_pandas_changes(country, before, after):
    from expectations.runner import changes_frame, changes_frame_of_tables

    old = parse_delivery(make_delivery(ELECTION, country, before, 1))
    new = parse_delivery(make_delivery(ELECTION, country, after, 2))
    expected = changes_frame(new.frame(with_line=True), old.frame(with_line=True))
    assert len(expected) > 4
    pd.testing.assert_frame_equal(changes_frame_of_tables(new, _snapshot(old)), expected)
    # blank reported now but not before (or the reverse): no blank total is compared
    no_blank = old.table.set_column(old.table.schema.get_field_index("blank"), "blank",
                                    pa.nulls(old.table.num_rows, pa.int64()))
    missing = Delivery(meta=old.meta, table=no_blank)
    pd.testing.assert_frame_equal(changes_frame_of_tables(new, no_blank),
                                  changes_frame(new.frame(with_line=True), missing.frame(with_line=True)))
    pd.testing.assert_frame_equal(changes_frame_of_tables(missing, _snapshot(new)),
                                  changes_frame(missing.frame(with_line=True), new.frame(with_line=True)))


@pytest.mark.parametrize("country, before, after", [("CY", "final:100", "provisional:60"),
                                                    ("PL", "provisional:60", "final:100")])
def test_a_delivery_validated_against_the_snapshot_table_or_frame_gives_the_same_report(country, before, after):
    """The intake hands the previous snapshot as an Arrow table; callers may hand a pandas frame."""
    from expectations.runner import validate_delivery

    old = parse_delivery(make_delivery(ELECTION, country, before, 1))
    new = parse_delivery(make_delivery(ELECTION, country, after, 2))
    by_table = validate_delivery(new, election=ELECTION, previous=_snapshot(old))
    by_frame = validate_delivery(new, election=ELECTION, previous=old.frame(with_line=True))
    assert _timeless(by_table.to_json()) == _timeless(by_frame.to_json())
    assert by_table.success == (after != "provisional:60" or before != "final:100")  # totals decreased: refused


def _timeless(value):
    """A report without GX's batch load time (the moment each validation ran)."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k != "ge_load_time"}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


@pytest.mark.parametrize("inserted", [b"\xed\xa0\x80", b"\xed\x9f\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xc2\x80",
                                      b"\xe0\x80\xaf", b"\xe0\xa0\x80", b"\xf0\x80\x80\xaf", b"\xf0\x90\x80\x80",
                                      b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff", b"\x80",
                                      b"\xef\xbf\xbe", b"\xc3", b"\xe2\x82", b"\xc3\xa9", "Ł€𝔸".encode()])
@pytest.mark.parametrize("at", [0, 1, 63, 64, 65, 4000])
def test_utf8_is_judged_as_pythons_strict_decoder_judges_it(inserted, at):
    from enr.delivery import _is_utf8

    body = b"x" * at + inserted + b"y" * 70
    try:
        body.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    assert _is_utf8(body) is valid
