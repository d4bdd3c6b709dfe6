"""The corpus of bad deliveries: each case builds one refused (or duplicate) delivery.

A case is a function ``build(ctx) -> Attempt`` registered with the rule id it must be refused
with. ``ctx`` (:class:`CorpusContext`) knows the next free sequence number of the country and
makes well-formed, properly signed deliveries that a case then spoils in exactly one way, so that
the expected rule is the first check to fail. The country is Cyprus (blank ballots counted
separately, 16 lists, 20 units) unless the case says otherwise (MT for STV declared seats).

``python -m bad_deliveries.corpus OUT_DIR`` (from ``tests/``) writes the corpus as files, for
manual runs against an inbox.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from enr.delivery import render_delivery
from enr.replay import declared_seats, delivery_name, wave_rows
from enr.units import byte_cap, row_cap, units_of

ELECTION = "ep2019"
COUNTRY = "CY"


@dataclass
class Attempt:
    """What a case hands to the intake."""

    name: str
    data: bytes | None
    signature: bytes | None
    outcome: str = "quarantined"
    via: str = "inbox"  # inbox: drop the files, then process_delivery(name); name: only call it


@dataclass
class Case:
    id: str
    rule: str | None
    build: Callable[["CorpusContext"], Attempt]
    country: str = COUNTRY
    outcome: str = "quarantined"
    touches_bucket: bool = True


CASES: list[Case] = []


def case(id: str, rule: str | None, *, country: str = COUNTRY, outcome: str = "quarantined",
         touches_bucket: bool = True):
    def register(build):
        CASES.append(Case(id=id, rule=rule, build=build, country=country, outcome=outcome,
                          touches_bucket=touches_bucket))
        return build
    return register


@dataclass
class CorpusContext:
    """Makes deliveries for a case: ``seq`` is the next free sequence of ``country``."""

    country: str
    seq: int
    latest: int
    sign: Callable[..., bytes]
    keys: object
    latest_bytes: bytes | None = None
    extra: dict = field(default_factory=dict)

    def rows(self, percent: float = 100) -> pd.DataFrame:
        return wave_rows(ELECTION, self.country, f"final:{percent:g}" if percent == 100 else f"provisional:{percent:g}")

    def meta(self, seq: int | None = None, **overrides) -> dict:
        meta = {"format": "enr-delivery/1", "election": ELECTION, "country": self.country,
                "sequence": self.seq if seq is None else seq, "status": "final",
                "issued_at": "2019-05-26T23:30:00+02:00", "units_total": len(units_of(ELECTION, self.country)),
                "rows": 0, "corrects": None, "reason": None, "test": True, "totals": None}
        seats = declared_seats(ELECTION, self.country)
        if seats:
            meta["declared_seats"] = seats
        meta.update(overrides)
        return meta

    def data(self, rows: pd.DataFrame | None = None, seq: int | None = None, **overrides) -> bytes:
        rows = self.rows() if rows is None else rows
        return render_delivery(self.meta(seq, **overrides), rows)

    @property
    def name(self) -> str:
        return delivery_name(ELECTION, self.country, self.seq)

    def signed(self, data: bytes, name: str | None = None, **kwargs) -> Attempt:
        return Attempt(name=name or self.name, data=data, signature=self.sign(data), **kwargs)


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _replace_row_value(data: bytes, line: int, column: int, value: bytes) -> bytes:
    lines = _lines(data)
    fields = lines[line - 1].split(b",")
    fields[column] = value
    lines[line - 1] = b",".join(fields)
    return b"\n".join(lines)


def _unit_rows(rows: pd.DataFrame, index: int = 0) -> pd.Series:
    return rows["unit_id"] == rows["unit_id"].unique()[index]


# -- authenticity ----------------------------------------------------------------------------------

@case("tampered_bytes", "signature_bad")
def _(ctx):
    data = ctx.data()
    signature = ctx.sign(data)
    return Attempt(ctx.name, _replace_row_value(data, 3, 8, b"999999"), signature)


@case("signature_of_another_file", "signature_bad")
def _(ctx):
    return Attempt(ctx.name, ctx.data(), ctx.sign(ctx.data(seq=ctx.seq + 50)))


@case("signature_garbage", "signature_bad")
def _(ctx):
    return Attempt(ctx.name, ctx.data(), b"this is not a signature\n")


@case("no_signature", "signature_missing")
def _(ctx):
    return Attempt(ctx.name, ctx.data(), None)


@case("unknown_key", "signer_unknown")
def _(ctx):
    data = ctx.data()
    return Attempt(ctx.name, data, ctx.sign(data, ctx.keys.other))


@case("expired_key", "signer_expired")
def _(ctx):
    data = ctx.data()
    return Attempt(ctx.name, data, ctx.sign(data, ctx.keys.expired, options=["--faked-system-time", "20200101T060000!"]))


@case("revoked_key", "signer_revoked")
def _(ctx):
    data = ctx.data()
    return Attempt(ctx.name, data, ctx.sign(data, ctx.keys.revoked))


@case("key_in_keyring_not_listed", "signer_not_trusted")
def _(ctx):
    data = ctx.data()
    return Attempt(ctx.name, data, ctx.sign(data, ctx.keys.unlisted))


@case("sender_not_for_this_country", "signer_not_trusted")
def _(ctx):
    data = ctx.data()
    return Attempt(ctx.name, data, ctx.sign(data, ctx.keys.fr_only))


# -- sequence and replay -----------------------------------------------------------------------------

@case("duplicate_of_accepted", None, outcome="duplicate")
def _(ctx):
    return Attempt(delivery_name(ELECTION, ctx.country, ctx.latest), ctx.latest_bytes, ctx.sign(ctx.latest_bytes),
                   outcome="duplicate")


@case("sequence_reused_other_bytes", "sequence_reused")
def _(ctx):
    data = ctx.data(seq=ctx.latest, issued_at="2019-05-27T01:00:00+02:00")
    return ctx.signed(data, delivery_name(ELECTION, ctx.country, ctx.latest))


@case("older_sequence", "sequence_old")
def _(ctx):
    old = ctx.extra["never_accepted_below_latest"]
    return ctx.signed(ctx.data(seq=old), delivery_name(ELECTION, ctx.country, old))


@case("sequence_zero", "metadata_sequence")
def _(ctx):
    return ctx.signed(ctx.data(seq=0), delivery_name(ELECTION, ctx.country, 0))


@case("sequence_differs_from_name", "name_mismatch")
def _(ctx):
    return ctx.signed(ctx.data(seq=ctx.seq + 1))


@case("status_goes_back", "status_regressed")
def _(ctx):
    return ctx.signed(ctx.data(status="provisional"))


@case("corrects_unknown_sequence", "corrects_unknown")
def _(ctx):
    return ctx.signed(ctx.data(corrects=ctx.extra["never_accepted_below_latest"], reason="recount"))


@case("correction_without_reason", "metadata_reason")
def _(ctx):
    return ctx.signed(ctx.data(corrects=ctx.latest, reason=None))


@case("real_after_rehearsal", "test_flag_mismatch")
def _(ctx):
    return ctx.signed(ctx.data(test=False))


# -- names and routing ---------------------------------------------------------------------------------

@case("path_parent", "bad_file_name", touches_bucket=False)
def _(ctx):
    return Attempt("../victim.csv", None, None, via="name")


@case("path_absolute", "bad_file_name", touches_bucket=False)
def _(ctx):
    return Attempt("/etc/passwd", None, None, via="name")


@case("path_subfolder", "bad_file_name", touches_bucket=False)
def _(ctx):
    return Attempt(f"x/../../{ctx.name}", None, None, via="name")


@case("path_nul_byte", "bad_file_name", touches_bucket=False)
def _(ctx):
    return Attempt(ctx.name + "\x00.txt", None, None, via="name")


@case("odd_characters_in_name", "bad_file_name")
def _(ctx):
    return ctx.signed(ctx.data(), f"{ctx.name};rm -rf ~")


@case("wrong_name_pattern", "bad_file_name")
def _(ctx):
    return ctx.signed(ctx.data(), f"{ELECTION}-{ctx.country}-{ctx.seq}.csv")


@case("lower_case_country_in_name", "bad_file_name")
def _(ctx):
    return ctx.signed(ctx.data(), f"{ELECTION}-{ctx.country.lower()}-{ctx.seq:04d}.csv")


@case("unknown_country", "unknown_country")
def _(ctx):
    return ctx.signed(ctx.data(country="XX"), delivery_name(ELECTION, "XX", ctx.seq))


@case("unknown_election_in_name", "unknown_election")
def _(ctx):
    return ctx.signed(ctx.data(election="ep1999"), delivery_name("ep1999", ctx.country, ctx.seq))


@case("unknown_election_in_metadata", "unknown_election")
def _(ctx):
    return ctx.signed(ctx.data(election="ep1999"))


@case("other_election_in_name", "election_mismatch")
def _(ctx):
    return ctx.signed(ctx.data(election="ep2024"), delivery_name("ep2024", ctx.country, ctx.seq))


@case("country_differs_from_name", "name_mismatch")
def _(ctx):
    return ctx.signed(ctx.data(country="MT"))


# -- form ---------------------------------------------------------------------------------------------

@case("empty_file", "empty_file")
def _(ctx):
    return ctx.signed(b"")


@case("huge_file", "too_large")
def _(ctx):
    data = ctx.data()
    padding = data.split(b"\n", 2)[2]
    copies = byte_cap(ELECTION, ctx.country) // len(padding) + 2
    return ctx.signed(data + padding * copies)


@case("truncated_last_row", "truncated")
def _(ctx):
    data = ctx.data()
    return ctx.signed(data[:-4])


@case("truncated_rows_missing", "truncated")
def _(ctx):
    data = ctx.data()
    cut = data.rfind(b"\n", 0, len(data) // 2)
    return ctx.signed(data[:cut + 30])


@case("latin1_encoding", "encoding")
def _(ctx):
    rows = ctx.rows()
    rows.loc[_unit_rows(rows), "unit_name"] = "Paphos é"
    text = ctx.data(rows).decode("utf-8")
    return ctx.signed(text.encode("latin-1"))


@case("utf16_encoding", "encoding")
def _(ctx):
    return ctx.signed(ctx.data().decode("utf-8").encode("utf-16"))


@case("control_character", "control_character")
def _(ctx):
    rows = ctx.rows()
    rows.loc[_unit_rows(rows), "unit_name"] = "bell\x07"
    return ctx.signed(ctx.data(rows))


@case("no_metadata_line", "metadata_missing")
def _(ctx):
    return ctx.signed(ctx.data().split(b"\n", 1)[1])


@case("metadata_not_json", "metadata_json")
def _(ctx):
    return ctx.signed(ctx.data().replace(b'"status":"final"', b'"status":final', 1))


@case("metadata_unknown_field", "metadata_unknown_field")
def _(ctx):
    return ctx.signed(ctx.data(colour="red"))


@case("metadata_missing_field", "metadata_missing_field")
def _(ctx):
    meta = ctx.meta()
    del meta["issued_at"]
    return ctx.signed(render_delivery(meta, ctx.rows()))


@case("metadata_wrong_format", "metadata_format")
def _(ctx):
    return ctx.signed(ctx.data(format="enr-delivery/2"))


@case("metadata_wrong_status", "metadata_status")
def _(ctx):
    return ctx.signed(ctx.data(status="counted"))


@case("issued_at_without_offset", "metadata_issued_at")
def _(ctx):
    return ctx.signed(ctx.data(issued_at="2019-05-26T23:30:00"))


@case("units_total_wrong", "units_total_mismatch")
def _(ctx):
    return ctx.signed(ctx.data(units_total=len(units_of(ELECTION, ctx.country)) + 1))


@case("semicolon_delimiter", "header_delimiter")
def _(ctx):
    first, rest = ctx.data().split(b"\n", 1)
    return ctx.signed(first + b"\n" + rest.replace(b",", b";"))


@case("extra_column", "header_extra_column")
def _(ctx):
    lines = _lines(ctx.data())
    lines[1] += b",turnout"
    lines[2:] = [line + b",0.5" if line else line for line in lines[2:]]
    return ctx.signed(b"\n".join(lines))


@case("missing_column", "header_missing_column")
def _(ctx):
    lines = _lines(ctx.data())
    lines[1:] = [b",".join(line.split(b",")[:-1]) if line else line for line in lines[1:]]
    return ctx.signed(b"\n".join(lines))


@case("reordered_header", "header_order")
def _(ctx):
    lines = _lines(ctx.data())

    def swap(line: bytes) -> bytes:
        fields = line.split(b",")
        fields[3], fields[4] = fields[4], fields[3]
        return b",".join(fields)
    lines[1:] = [swap(line) if line else line for line in lines[1:]]
    return ctx.signed(b"\n".join(lines))


@case("header_only", "no_rows")
def _(ctx):
    meta = ctx.meta(rows=1)
    meta.pop("totals")
    meta = json.dumps(meta, separators=(",", ":")).encode()
    return ctx.signed(b"#ENR " + meta + b"\n" + _lines(ctx.data())[1] + b"\n")


@case("declared_rows_exceed_cap", "too_many_rows")
def _(ctx):
    data = ctx.data()
    count = len(ctx.rows())
    return ctx.signed(data.replace(f'"rows":{count},'.encode(), f'"rows":{row_cap(ELECTION, ctx.country) + 1},'.encode(), 1))


@case("row_count_differs", "row_count")
def _(ctx):
    data = ctx.data()
    count = len(ctx.rows())
    return ctx.signed(data.replace(f'"rows":{count},'.encode(), f'"rows":{count + 1},'.encode(), 1))


@case("empty_line", "empty_line")
def _(ctx):
    lines = _lines(ctx.data())
    lines.insert(5, b"")
    return ctx.signed(b"\n".join(lines))


@case("row_with_extra_field", "row_fields")
def _(ctx):
    lines = _lines(ctx.data())
    lines[6] += b",7"
    return ctx.signed(b"\n".join(lines))


@case("newline_inside_quoted_name", "newline_in_value")
def _(ctx):
    rows = ctx.rows()
    rows.loc[_unit_rows(rows), "unit_name"] = "two\nlines"
    return ctx.signed(ctx.data(rows))


@case("non_numeric_votes", "not_integer")
def _(ctx):
    return ctx.signed(_replace_row_value(ctx.data(), 4, 8, b"12a"))


@case("decimal_votes", "not_integer")
def _(ctx):
    return ctx.signed(_replace_row_value(ctx.data(), 4, 8, b"12.0"))


@case("empty_votes", "missing_value")
def _(ctx):
    return ctx.signed(_replace_row_value(ctx.data(), 4, 8, b""))


@case("totals_in_metadata_wrong", "totals_mismatch")
def _(ctx):
    from enr.delivery import compute_totals, SCHEMA
    import pyarrow as pa

    rows = ctx.rows()
    totals = compute_totals(pa.Table.from_pandas(rows, schema=SCHEMA, preserve_index=False))
    totals["votes"]["disy"] += 1
    return ctx.signed(ctx.data(rows, totals=totals))


# -- content (Great Expectations) ------------------------------------------------------------------------

@case("negative_votes", "negative_count")
def _(ctx):
    rows = ctx.rows()
    rows.loc[rows.index[3], "votes"] = -5
    return ctx.signed(ctx.data(rows))


@case("unknown_list", "unknown_list")
def _(ctx):
    rows = ctx.rows()
    rows.loc[rows.index[0], "list_id"] = "pirates"
    return ctx.signed(ctx.data(rows))


@case("unknown_unit", "unknown_unit")
def _(ctx):
    rows = ctx.rows()
    rows.loc[_unit_rows(rows, 3), "unit_id"] = "CY-99999"
    return ctx.signed(ctx.data(rows))


@case("unknown_constituency", "unknown_constituency")
def _(ctx):
    rows = ctx.rows()
    rows.loc[_unit_rows(rows), "constituency"] = "Kyrenia"
    return ctx.signed(ctx.data(rows))


@case("script_in_unit_name", "markup_in_name")
def _(ctx):
    rows = ctx.rows()
    rows.loc[_unit_rows(rows, 2), "unit_name"] = "<script>alert(1)</script>"
    return ctx.signed(ctx.data(rows))


@case("duplicated_rows", "duplicate_row")
def _(ctx):
    rows = ctx.rows()
    return ctx.signed(ctx.data(pd.concat([rows, rows.iloc[[5]]], ignore_index=True)))


@case("list_votes_exceed_valid", "votes_sum_mismatch")
def _(ctx):
    rows = ctx.rows()
    rows.loc[rows.index[2], "votes"] += 1
    return ctx.signed(ctx.data(rows))


@case("blank_and_invalid_exceed_voters", "votes_sum_mismatch")
def _(ctx):
    rows = ctx.rows()
    unit = _unit_rows(rows, 4)
    rows.loc[unit, "invalid"] = rows.loc[unit, "voters"] + 1
    return ctx.signed(ctx.data(rows))


@case("voters_exceed_registered", "voters_exceed_registered")
def _(ctx):
    rows = ctx.rows()
    unit = _unit_rows(rows, 1)
    rows.loc[unit, "registered"] = rows.loc[unit, "voters"] - 1
    return ctx.signed(ctx.data(rows))


@case("unit_totals_differ_between_rows", "unit_totals_inconsistent")
def _(ctx):
    rows = ctx.rows()
    rows.loc[rows.index[1], "registered"] += 10
    return ctx.signed(ctx.data(rows))


@case("blank_missing_where_counted", "blank_missing")
def _(ctx):
    rows = ctx.rows()
    unit = _unit_rows(rows, 6)
    rows.loc[unit, "invalid"] = rows.loc[unit, "invalid"] + rows.loc[unit, "blank"].astype("int64")
    rows["blank"] = rows["blank"].astype("Int64")
    rows.loc[unit, "blank"] = pd.NA
    return ctx.signed(ctx.data(rows))


@case("final_missing_units", "final_missing_units")
def _(ctx):
    rows = ctx.rows()
    return ctx.signed(ctx.data(rows[~_unit_rows(rows, -1)]))


@case("totals_decrease_without_correction", "totals_decreased")
def _(ctx):
    rows = ctx.rows()
    unit = _unit_rows(rows, 0)
    first = rows.index[unit][0]
    rows.loc[first, "votes"] -= 5
    rows.loc[unit, "voters"] -= 5
    rows.loc[unit, "registered"] -= 0
    return ctx.signed(ctx.data(rows))


@case("declared_seats_for_list_pr_country", "declared_seats_unexpected")
def _(ctx):
    return ctx.signed(ctx.data(declared_seats=[{"constituency": "", "list_id": "disy", "seats": 2}]))


@case("stv_final_without_declared_seats", "declared_seats_missing", country="MT")
def _(ctx):
    meta = ctx.meta()
    meta.pop("declared_seats")
    return ctx.signed(render_delivery(meta, ctx.rows()))


@case("stv_declared_seats_do_not_add_up", "declared_seats_invalid", country="MT")
def _(ctx):
    seats = [dict(s) for s in declared_seats(ELECTION, "MT")]
    seats[0]["seats"] -= 1
    return ctx.signed(ctx.data(declared_seats=seats))


@case("stv_declared_seats_unknown_list", "declared_seats_invalid", country="MT")
def _(ctx):
    return ctx.signed(ctx.data(declared_seats=[{"constituency": "", "list_id": "pl", "seats": 5},
                                               {"constituency": "", "list_id": "nobody", "seats": 1}]))


def write_corpus(out_dir: Path, sender_home: Path, keys=None) -> list[Path]:
    """Write every case (the ones that make files) to ``out_dir/<case id>/`` for manual runs."""
    from enr.signatures import sign_bytes

    written = []
    for item in CASES:
        ctx = CorpusContext(country=item.country, seq=5, latest=4, keys=keys,
                            sign=lambda data, home=None, options=None: sign_bytes(data, home or sender_home,
                                                                                options=options),
                            latest_bytes=None, extra={"never_accepted_below_latest": 3})
        try:
            attempt = item.build(ctx)
        except (AttributeError, TypeError):
            continue  # needs keys or state
        if attempt.data is None or "/" in attempt.name or "\x00" in attempt.name:
            continue
        folder = out_dir / item.id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / attempt.name).write_bytes(attempt.data)
        if attempt.signature is not None:
            (folder / (attempt.name + ".asc")).write_bytes(attempt.signature)
        written.append(folder / attempt.name)
    return written


if __name__ == "__main__":  # pragma: no cover
    import sys

    from enr.settings import get_settings
    from enr.signatures import ensure_demo_sender_key

    settings = get_settings()
    sender = settings.home / "keys" / "sender"
    ensure_demo_sender_key(sender, settings.trusted_keys)
    for path in write_corpus(Path(sys.argv[1]), sender):
        print(path)
