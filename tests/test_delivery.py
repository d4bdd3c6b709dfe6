"""The delivery format and its strict parser: bytes in, table out, typed rejections with line numbers."""
from __future__ import annotations

import time

import pandas as pd
import pyarrow as pa
import pytest

from enr.delivery import (COLUMNS, HEADER, SCHEMA, DeliveryRejected, compute_totals, parse_delivery,
                          parse_file_name, read_meta_line, render_delivery)

META = {"format": "enr-delivery/1", "election": "ep2019", "country": "MT", "sequence": 2, "status": "provisional",
        "issued_at": "2019-05-26T23:00:00+02:00", "units_total": 20, "rows": 0, "corrects": None, "reason": None,
        "test": True}


def rows(n_units: int = 2) -> pd.DataFrame:
    out = []
    for u in range(n_units):
        for list_id, votes in (("pl", 30 + u), ("pn", 20)):
            out.append({"unit_id": f"MT-{u + 1:05d}", "unit_name": f"Unit, {u}", "constituency": "",
                        "registered": 100, "voters": 56 + u, "blank": None, "invalid": 6, "list_id": list_id,
                        "votes": votes})
    df = pd.DataFrame(out)
    df["blank"] = df["blank"].astype("Int64")
    return df


def good(**meta) -> bytes:
    return render_delivery({**META, **meta}, rows())


def rejected(data: bytes, rule: str, row: int | None = None, **kwargs) -> DeliveryRejected:
    with pytest.raises(DeliveryRejected) as info:
        parse_delivery(data, "ep2019-MT-0002.csv", **kwargs)
    assert info.value.rule == rule, str(info.value)
    if row is not None:
        assert info.value.row == row, str(info.value)
    assert info.value.file == "ep2019-MT-0002.csv"
    return info.value


def test_round_trip_with_declared_types():
    data = good()
    assert data.splitlines()[1].decode() == HEADER
    delivery = parse_delivery(data, "ep2019-MT-0002.csv")
    assert delivery.table.schema == SCHEMA
    assert delivery.meta.sequence == 2 and delivery.meta.status == "provisional" and delivery.meta.test is True
    frame = delivery.frame()
    assert list(frame.columns) == ["line", *COLUMNS]
    assert frame["line"].tolist() == [3, 4, 5, 6]
    assert frame["unit_name"].iloc[0] == "Unit, 0"  # quoted because of the comma
    assert frame["blank"].isna().all()
    assert frame["votes"].dtype == "int64"


@pytest.mark.parametrize("variant", ["bom", "crlf", "no_final_newline", "bom_crlf"])
def test_accepted_variants(variant):
    data = good()
    if "crlf" in variant:
        data = data.replace(b"\n", b"\r\n")
    if "bom" in variant:
        data = b"\xef\xbb\xbf" + data
    if variant == "no_final_newline":
        data = data.rstrip(b"\n")
    assert parse_delivery(data).table.num_rows == 4


def test_totals_in_metadata_are_checked():
    data = render_delivery({**META, "totals": None}, rows())
    delivery = parse_delivery(data)
    assert delivery.meta.totals == {"registered": 200, "voters": 113, "blank": None, "invalid": 12,
                                    "votes": {"pl": 61, "pn": 40}}
    rejected(data.replace(b'"pl":61', b'"pl":62'), "totals_mismatch", row=1)


@pytest.mark.parametrize("mutate, rule, row", [
    (lambda d: b"", "empty_file", None),
    (lambda d: b"\r\n\n", "empty_file", None),
    (lambda d: d.decode().encode("utf-16"), "encoding", 1),
    (lambda d: d.replace(b"Unit, 1", "Unité".encode("latin-1")), "encoding", 5),
    (lambda d: d.replace(b"Unit, 1", b"Unit\x00"), "encoding", 5),
    (lambda d: d.replace(b"Unit, 1", b"Unit\x1b"), "control_character", 5),
    (lambda d: d.replace(b"\nMT-00002", b"\rMT-00002", 1), "control_character", 4),
    (lambda d: d.split(b"\n", 1)[1], "metadata_missing", 1),
    (lambda d: d.replace(b'"test":true}', b'"test":true'), "metadata_json", 1),
    (lambda d: d.replace(b"#ENR {", b"#ENR [{", 1).replace(b"true}\n", b"true}]\n", 1), "metadata_json", 1),
    (lambda d: d.replace(b'"status":"provisional"', b'"status":"done"'), "metadata_status", 1),
    (lambda d: d.replace(b'"sequence":2', b'"sequence":0'), "metadata_sequence", 1),
    (lambda d: d.replace(b'"sequence":2', b'"sequence":"2"'), "metadata_sequence", 1),
    (lambda d: d.replace(b'"test":true', b'"test":"yes"'), "metadata_test", 1),
    (lambda d: d.replace(b'"country":"MT"', b'"country":"Malta"'), "metadata_country", 1),
    (lambda d: d.replace(b'"format":"enr-delivery/1"', b'"format":"csv"'), "metadata_format", 1),
    (lambda d: d.replace(b'"test":true', b'"test":true,"extra":1'), "metadata_unknown_field", 1),
    (lambda d: d.replace(b'"units_total":20,', b""), "metadata_missing_field", 1),
    (lambda d: d.replace(b"+02:00", b""), "metadata_issued_at", 1),
    (lambda d: d.replace(b'"corrects":null', b'"corrects":1'), "metadata_reason", 1),
    (lambda d: d.replace(b'"corrects":null', b'"corrects":5').replace(b'"reason":null', b'"reason":"x"'),
     "metadata_corrects", 1),
    (lambda d: d.split(b"\n", 1)[0], "header_missing", 2),
    (lambda d: d.replace(HEADER.encode(), HEADER.replace(",", ";").encode()), "header_delimiter", 2),
    (lambda d: d.replace(HEADER.encode(), HEADER.replace(",", "\t").encode()), "header_delimiter", 2),
    (lambda d: d.replace(b",votes\n", b"\n", 1), "header_missing_column", 2),
    (lambda d: d.replace(b",votes\n", b",votes,extra\n", 1), "header_extra_column", 2),
    (lambda d: d.replace(b"unit_id,unit_name", b"unit_name,unit_id"), "header_order", 2),
    (lambda d: d.replace(b",votes\n", b",unit_id\n", 1).replace(b"unit_id,unit_name,", b"votes,unit_name,", 1),
     "header_order", 2),
    (lambda d: d.replace(b"unit_id,", b'"unit_id",', 1), "header_format", 2),
    (lambda d: d.replace(b'\nMT-00001,"Unit, 0"', b'\n\nMT-00001,"Unit, 0"', 1), "empty_line", 3),
    (lambda d: d + b"\n", "empty_line", 7),
    (lambda d: d.replace(b',pn,20\n', b',pn,20,1\n', 1), "row_fields", 4),
    (lambda d: d.replace(b',pn,20\n', b'\n', 1), "row_fields", 4),
    (lambda d: d[:-5], "truncated", 6),
    (lambda d: d.replace(b'"rows":4', b'"rows":5'), "row_count", 7),
    (lambda d: d.replace(b'"rows":4', b'"rows":5')[:-1], "truncated", 6),
    (lambda d: d.replace(b',pn,20\n', b',pn,2x\n', 1), "not_integer", 4),
    (lambda d: d.replace(b',pn,20\n', b',pn,2.0\n', 1), "not_integer", 4),
    (lambda d: d.replace(b',pn,20\n', b',pn, 20\n', 1), "not_integer", 4),
    (lambda d: d.replace(b',pn,20\n', b',pn,1e3\n', 1), "not_integer", 4),
    (lambda d: d.replace(b',pn,20\n', b',pn,99999999999999999999\n', 1), "not_integer", 4),
    (lambda d: d.replace(b',pn,20\n', b',pn,\n', 1), "missing_value", 4),
    (lambda d: d.replace(b',pn,20\n', b',,20\n', 1), "missing_value", 4),
    (lambda d: d.replace(b'\nMT-00002', b'\n', 1), "missing_value", 5),
    (lambda d: d.replace(b'"Unit, 1"', b'"Unit\n1"', 1), "newline_in_value", 5),
    (lambda d: d.replace(b'"Unit, 1"', b'"' + b"x" * 300 + b'"', 1), "value_too_long", 5),
])
def test_form_errors_are_typed(mutate, rule, row):
    rejected(mutate(good()), rule, row)


def test_a_cut_inside_the_last_value_is_caught_by_the_declared_totals():
    data = render_delivery({**META, "totals": None}, rows())
    rejected(data[:-2], "truncated", row=6)
    # without totals the bytes are still well-formed: the signature (and the suites) catch it
    assert parse_delivery(good()[:-2]).table["votes"].to_pylist()[-1] == 2


def test_negative_counts_are_parsed_and_left_to_the_suites():
    data = good().replace(b",pn,20\n", b",pn,-20\n", 1)
    assert parse_delivery(data).table["votes"].to_pylist()[1] == -20


def test_row_caps():
    rejected(good(), "too_many_rows", row=1, max_rows=3)
    data = good().replace(b'"rows":4', b'"rows":3')
    rejected(data, "too_many_rows", max_rows=3)


def test_no_rows_and_header_only():
    header_only = good().split(b"\n")[:2]
    rejected(b"\n".join(header_only) + b"\n", "no_rows", row=3)


def test_rejection_carries_everything_a_reason_file_needs():
    error = rejected(good().replace(b",pn,20\n", b",pn,abc\n", 1), "not_integer", row=4)
    reason = error.as_dict()
    assert reason["rule"] == "not_integer" and reason["row"] == 4 and reason["found"] == "abc"
    assert {"file", "row", "rule", "expected", "found", "message"} <= set(reason)
    assert "ep2019-MT-0002.csv:4: not_integer" in str(error)


@pytest.mark.parametrize("name, ok", [
    ("ep2019-FR-0001.csv", True), ("ep2019-FR-9999.csv", True), ("ep2019-FR-1.csv", False),
    ("ep2019-fr-0001.csv", False), ("../ep2019-FR-0001.csv", False), ("/tmp/ep2019-FR-0001.csv", False),
    ("ep2019-FR-0001.csv.asc", False), ("ep2019-FR-0001.CSV", False), ("ep2019-FR-0001.csv\n", False),
    ("EP2019-FR-0001.csv", False), ("ep2019-FR-0001 .csv", False), ("ep2019-FRA-0001.csv", False),
])
def test_file_names(name, ok):
    if ok:
        parsed = parse_file_name(name)
        assert parsed.country == "FR" and parsed.election == "ep2019"
    else:
        with pytest.raises(DeliveryRejected) as info:
            parse_file_name(name)
        assert info.value.rule == "bad_file_name"


def test_read_meta_line_only_reads_line_one():
    meta = read_meta_line(good() + b"garbage that is never read\x00")
    assert meta.country == "MT" and meta.rows == 4


def test_compute_totals_matches_the_rows():
    table = pa.Table.from_pandas(rows(3), schema=SCHEMA, preserve_index=False)
    totals = compute_totals(table)
    assert totals["votes"] == {"pl": 30 + 31 + 32, "pn": 60} and totals["blank"] is None


def test_a_commune_scale_file_parses_fast():
    n_units, lists = 10_000, 20
    unit = [f"FR-{i:06d}" for i in range(n_units) for _ in range(lists)]
    big = pd.DataFrame({"unit_id": unit, "unit_name": unit, "constituency": "", "registered": 1000, "voters": 600,
                        "blank": pd.array([10] * len(unit), dtype="Int64"), "invalid": 10,
                        "list_id": [f"l{j}" for _ in range(n_units) for j in range(lists)], "votes": 19})
    data = render_delivery({**META, "country": "FR", "units_total": n_units}, big)
    started = time.perf_counter()
    delivery = parse_delivery(data)
    elapsed = time.perf_counter() - started
    assert delivery.table.num_rows == 200_000
    assert elapsed < 3, f"200 000 rows parsed in {elapsed:.2f} s"
