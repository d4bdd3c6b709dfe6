"""The delivery format ``enr-delivery/1`` and its strict parser (bytes in, table out, no I/O).

A *delivery* is what the results contractor sends for one country and one wave of the count:
one UTF-8 CSV file named ``<election>-<CC>-<seq:04d>.csv`` with a detached, ASCII-armoured GnuPG
signature ``<name>.csv.asc`` beside it. ``docs/DELIVERY.md`` is the full specification; in short::

    #ENR {"format":"enr-delivery/1","election":"ep2019","country":"MT","sequence":3,...}
    unit_id,unit_name,constituency,registered,voters,blank,invalid,list_id,votes
    MT-00001,MT-00001,,18112,13236,,480,pl,7010
    MT-00001,MT-00001,,18112,13236,,480,pn,4890

* line 1 is the metadata line ``#ENR `` + one JSON object (:data:`META_SCHEMA`);
* line 2 is the header, exactly :data:`COLUMNS` in this order, comma-separated;
* every further line is one reporting unit x one list; the unit's totals (registered, voters,
  blank, invalid) are repeated on each of its rows; ``blank`` is empty where the country does not
  count blank ballots separately. The valid votes of a unit are *derived*:
  ``valid = voters - blank - invalid``; the list votes of the unit must add up to it (Luxembourg:
  up to ``votes_per_voter`` x valid, see :mod:`expectations`).

Reserved ids: unit ``_national`` (the single pseudo-unit of an ``estimate`` wave) and list
``_other`` (votes of lists that the election definition does not itemise; counted in the valid
votes, never given seats).

:func:`parse_delivery` checks everything that is about the *form* of the file — encoding,
metadata, header, delimiter, one row per line, integer counts, row count — and raises
:class:`DeliveryRejected` naming the rule, the file, the 1-based line, what was expected and what
was found. Checks about the *content* (ids known, arithmetic, coverage, monotonic totals) are the
Great Expectations suites in ``expectations/``. :func:`render_delivery` writes the format (used by
the replay tool and the tests).
"""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

FORMAT = "enr-delivery/1"
META_PREFIX = b"#ENR "
COLUMNS: tuple[str, ...] = ("unit_id", "unit_name", "constituency", "registered", "voters", "blank",
                            "invalid", "list_id", "votes")
HEADER = ",".join(COLUMNS)
ID_COLUMNS = ("unit_id", "unit_name", "constituency", "list_id")
COUNT_COLUMNS = ("registered", "voters", "blank", "invalid", "votes")
UNIT_COUNT_COLUMNS = ("registered", "voters", "blank", "invalid")
NULLABLE_COUNTS = frozenset({"blank"})
REQUIRED_IDS = frozenset({"unit_id", "list_id"})
SCHEMA = pa.schema([
    pa.field("unit_id", pa.string(), nullable=False),
    pa.field("unit_name", pa.string(), nullable=False),
    pa.field("constituency", pa.string(), nullable=False),
    pa.field("registered", pa.int64(), nullable=False),
    pa.field("voters", pa.int64(), nullable=False),
    pa.field("blank", pa.int64(), nullable=True),
    pa.field("invalid", pa.int64(), nullable=False),
    pa.field("list_id", pa.string(), nullable=False),
    pa.field("votes", pa.int64(), nullable=False),
])
STATUSES: tuple[str, ...] = ("estimate", "provisional", "final", "official")
STATUS_RANK = {status: rank for rank, status in enumerate(STATUSES)}
NATIONAL_UNIT = "_national"
OTHER_LIST = "_other"
FIRST_DATA_LINE = 3
MAX_ID_LENGTH = 200
BOM = b"\xef\xbb\xbf"
FILE_NAME_RE = re.compile(r"^(?P<election>[a-z0-9][a-z0-9_]{0,31})-(?P<country>[A-Z]{2})-(?P<sequence>[0-9]{4})\.csv$")
_INTEGER_RE = r"^-?[0-9]{1,18}$"
_CONTROL_RE = re.compile(rb"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)")
_NOT_BLANK_RE = re.compile(rb"[^\xef\xbb\xbf \r\n\t]")  # a byte that data.strip(BOM + b" \r\n\t") keeps
_NOT_SPACE_RE = re.compile(rb"[^ \t\n\r\x0b\x0c]")  # a byte that bytes.strip() keeps
_CONTROL_BYTES = bytes([*range(0x01, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])  # the class of _CONTROL_RE

META_FIELDS = ("format", "election", "country", "sequence", "status", "issued_at", "units_total", "rows",
               "corrects", "reason", "test", "totals", "declared_seats", "sender", "generator")
_COUNT = {"type": "integer", "minimum": 0}
META_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["format", "election", "country", "sequence", "status", "issued_at", "units_total", "rows",
                 "corrects", "reason", "test"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": FORMAT},
        "election": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_]{0,31}$"},
        "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "sequence": {"type": "integer", "minimum": 1, "maximum": 9999},
        "status": {"enum": list(STATUSES)},
        "issued_at": {"type": "string", "minLength": 16, "maxLength": 40},
        "units_total": {"type": "integer", "minimum": 1},
        "rows": {"type": "integer", "minimum": 1},
        "corrects": {"type": ["integer", "null"], "minimum": 1},
        "reason": {"type": ["string", "null"], "maxLength": 2000},
        "test": {"type": "boolean"},
        "totals": {
            "type": "object",
            "required": ["registered", "voters", "blank", "invalid", "votes"],
            "additionalProperties": False,
            "properties": {"registered": _COUNT, "voters": _COUNT, "invalid": _COUNT,
                           "blank": {"type": ["integer", "null"], "minimum": 0},
                           "votes": {"type": "object", "additionalProperties": _COUNT}},
        },
        "declared_seats": {
            "type": "array",
            "items": {"type": "object", "required": ["constituency", "list_id", "seats"], "additionalProperties": False,
                      "properties": {"constituency": {"type": "string", "maxLength": MAX_ID_LENGTH},
                                     "list_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
                                     "seats": {"type": "integer", "minimum": 0}}},
        },
        "sender": {"type": "string", "maxLength": 200},
        "generator": {"type": "string", "maxLength": 200},
    },
}


class DeliveryRejected(Exception):
    """A delivery is refused: ``rule`` (a stable id, see docs/DELIVERY.md), where, what, why.

    ``row`` is the 1-based line number in the file (1 = metadata line, 2 = header, 3 = first
    data row), or None when the rule is about the whole file. ``rows`` lists the first few
    offending lines when there are several; ``details`` carries the full list of failures.
    """

    def __init__(self, rule: str, message: str, *, file: str | None = None, row: int | None = None,
                 expected: Any = None, found: Any = None, rows: list[int] | None = None,
                 details: list[dict] | None = None) -> None:
        self.rule = rule
        self.message = message
        self.file = file
        self.row = row
        self.expected = expected
        self.found = found
        self.rows = list(rows or ([row] if row is not None else []))
        self.details = list(details or [])
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<delivery>"
        if self.row is not None:
            where += f":{self.row}"
        text = f"{where}: {self.rule}: {self.message}"
        if self.expected is not None or self.found is not None:
            text += f" (expected {self.expected!s}, found {self.found!s})"
        return text

    def as_dict(self) -> dict:
        return {"rule": self.rule, "file": self.file, "row": self.row, "rows": self.rows,
                "expected": _jsonable(self.expected), "found": _jsonable(self.found), "message": self.message,
                "details": _jsonable(self.details)}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


@dataclass(frozen=True)
class DeliveryName:
    """The parts of a delivery file name ``<election>-<CC>-<seq:04d>.csv``."""

    election: str
    country: str
    sequence: int
    file_name: str


def parse_file_name(name: str) -> DeliveryName:
    """Split a delivery file name; anything else (paths, odd characters, wrong pattern) is refused."""
    match = FILE_NAME_RE.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise DeliveryRejected("bad_file_name", "the file name is not <election>-<CC>-<seq:04d>.csv",
                               file=_printable(name), expected="<election>-<CC>-<seq:04d>.csv", found=_printable(name))
    return DeliveryName(match["election"], match["country"], int(match["sequence"]), name)


def _printable(name: Any) -> str:
    text = name if isinstance(name, str) else repr(name)
    return text.encode("unicode_escape").decode("ascii")[:300]


@dataclass(frozen=True)
class DeliveryMeta:
    """The metadata line of a delivery (see :data:`META_SCHEMA`)."""

    election: str
    country: str
    sequence: int
    status: str
    issued_at: str
    units_total: int
    rows: int
    corrects: int | None = None
    reason: str | None = None
    test: bool = False
    totals: dict | None = None
    declared_seats: list[dict] | None = None
    sender: str | None = None
    generator: str | None = None
    format: str = FORMAT

    @classmethod
    def from_dict(cls, data: dict) -> "DeliveryMeta":
        return cls(**{k: data[k] for k in META_FIELDS if k in data})

    def to_dict(self) -> dict:
        out = {"format": self.format, "election": self.election, "country": self.country, "sequence": self.sequence,
               "status": self.status, "issued_at": self.issued_at, "units_total": self.units_total,
               "rows": self.rows, "corrects": self.corrects, "reason": self.reason, "test": self.test}
        for key in ("totals", "declared_seats", "sender", "generator"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @property
    def is_correction(self) -> bool:
        return self.corrects is not None


@dataclass
class Delivery:
    """A parsed delivery: its metadata and its rows as an Arrow table with :data:`SCHEMA`.

    Row ``i`` (0-based) of :attr:`table` is line ``FIRST_DATA_LINE + i`` of the file.
    """

    meta: DeliveryMeta
    table: pa.Table
    file_name: str | None = None
    size: int = 0
    warnings: list[str] = field(default_factory=list)

    def unit_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """:func:`unit_codes` of :attr:`table`, computed once (the totals check, the suites and the
        store all read the units)."""
        cached = self.__dict__.get("_unit_codes")
        if cached is None or cached[0] is not self.table:
            cached = (self.table, unit_codes(self.table))
            self.__dict__["_unit_codes"] = cached
        return cached[1]

    def unit_rows(self) -> np.ndarray:
        """The index of each unit's first row (:func:`unit_rows`), computed once."""
        return self.unit_codes()[1]

    def units(self) -> pa.Table:
        """One row per unit, its first row: ``unit_id`` and :data:`UNIT_COUNT_COLUMNS` (Arrow)."""
        return unit_table(self.table, self.unit_rows())

    def frame(self, with_line: bool = True):
        """The rows as a pandas DataFrame (counts int64, blank nullable Int64, a ``line`` column)."""
        df = self.table.to_pandas(types_mapper={pa.int64(): None}.get)
        df["blank"] = df["blank"].astype("Int64")
        if with_line:
            df.insert(0, "line", range(FIRST_DATA_LINE, FIRST_DATA_LINE + len(df)))
        return df


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _reject(rule: str, message: str, file: str | None, **kwargs) -> DeliveryRejected:
    return DeliveryRejected(rule, message, file=file, **kwargs)


def validate_meta(raw: Any, file: str | None = None) -> DeliveryMeta:
    """Check a metadata object against :data:`META_SCHEMA` and the rules JSON Schema cannot say."""
    import jsonschema

    if not isinstance(raw, dict):
        raise _reject("metadata_json", "the metadata is not a JSON object", file, row=1,
                      expected="a JSON object", found=type(raw).__name__)
    validator = jsonschema.Draft202012Validator(META_SCHEMA)
    errors = sorted(validator.iter_errors(raw), key=lambda e: (list(e.path), e.validator))
    if errors:
        error = errors[0]
        if error.validator == "required":
            missing = [k for k in META_SCHEMA["required"] if k not in raw]
            raise _reject("metadata_missing_field", f"metadata field(s) missing: {', '.join(missing)}", file, row=1,
                          expected=META_SCHEMA["required"], found=sorted(raw))
        if error.validator == "additionalProperties" and not error.path:
            extra = sorted(set(raw) - set(META_SCHEMA["properties"]))
            raise _reject("metadata_unknown_field", f"unknown metadata field(s): {', '.join(extra)}", file, row=1,
                          expected=list(META_FIELDS), found=extra)
        if not error.path:  # the object as a whole (required and unknown fields are handled above)
            raise _reject("metadata_json", f"the metadata object: {error.message}", file, row=1,
                          expected="the metadata schema", found=sorted(raw))
        key = str(error.path[0])
        found = raw.get(key)
        raise _reject(f"metadata_{key}", f"metadata field {key!r}: {error.message}", file, row=1,
                      expected={error.validator: _jsonable(error.validator_value)}, found=found)
    try:
        issued = datetime.fromisoformat(raw["issued_at"])
    except ValueError:
        issued = None
    if issued is None or issued.tzinfo is None:
        raise _reject("metadata_issued_at", "issued_at must be ISO 8601 with a UTC offset", file, row=1,
                      expected="e.g. 2019-05-26T23:05:00+02:00", found=raw["issued_at"])
    if raw["corrects"] is not None:
        if raw["corrects"] >= raw["sequence"]:
            raise _reject("metadata_corrects", "a correction can only correct an earlier sequence", file, row=1,
                          expected=f"< {raw['sequence']}", found=raw["corrects"])
        if not (raw.get("reason") or "").strip():
            raise _reject("metadata_reason", "a correction must give its reason", file, row=1,
                          expected="non-empty text", found=raw.get("reason"))
    return DeliveryMeta.from_dict(raw)


def read_meta_line(data: bytes, file: str | None = None) -> DeliveryMeta:
    """Only the metadata line (cheap: used to order and route files before the full parse)."""
    body = data[len(BOM):] if data.startswith(BOM) else data
    end = body.find(b"\n")
    first = (body if end < 0 else body[:end]).rstrip(b"\r")
    if not first.startswith(META_PREFIX):
        raise _reject("metadata_missing", "line 1 must be the metadata line '#ENR {json}'", file, row=1,
                      expected="#ENR {...}", found=first[:40].decode("utf-8", "replace"))
    try:
        raw = json.loads(first[len(META_PREFIX):].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _reject("metadata_json", f"the metadata line is not valid JSON: {exc}", file, row=1,
                      expected="one JSON object", found=first[len(META_PREFIX):][:80].decode("utf-8", "replace")) from None
    return validate_meta(raw, file)


def _may_have_control(body: bytes) -> bool:
    """Whether :data:`_CONTROL_RE` can match: a control byte, or a CR that is not part of a CRLF.
    Two passes in C over the bytes; the regex (which finds the line) only runs when this says yes,
    as it costs ~0.5 s of CPU on a 66 MB delivery."""
    if len(body.translate(None, _CONTROL_BYTES)) != len(body):
        return True
    return b"\r" in body and body.count(b"\r") != body.count(b"\r\n")


def _is_utf8(body: bytes) -> bool:
    """Whether ``body`` is valid UTF-8, by Arrow's validation (the same verdict as Python's strict
    decoder, a quarter of its CPU on a large file, without making the string); only a False is
    decoded again, to name the line."""
    offsets = pa.py_buffer(np.array([0, len(body)], dtype=np.int64).tobytes())
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(body)])
    try:
        whole.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def _check_encoding(data: bytes, file: str | None) -> bytes:
    if not _NOT_BLANK_RE.search(data):  # data.strip(BOM + b" \r\n\t") would be empty (without copying it)
        raise _reject("empty_file", "the file is empty", file, expected="a metadata line, a header and rows",
                      found=f"{len(data)} bytes")
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        raise _reject("encoding", "UTF-16/UTF-32 is not accepted; deliveries are UTF-8", file, row=1,
                      expected="UTF-8", found="UTF-16/32 byte-order mark")
    body = data[len(BOM):] if data.startswith(BOM) else data
    nul = body.find(b"\x00")
    if nul >= 0:
        raise _reject("encoding", "NUL byte in the file (UTF-16 without a byte-order mark?)", file,
                      row=_line_of(body, nul), expected="UTF-8", found="NUL byte")
    try:
        if not _is_utf8(body):
            body.decode("utf-8")  # finds where
    except UnicodeDecodeError as exc:
        bad = body[exc.start:exc.start + 4]
        raise _reject("encoding", "the file is not valid UTF-8 (latin-1 or cp1252?)", file,
                      row=_line_of(body, exc.start), expected="UTF-8", found=f"bytes {bad!r}") from None
    control = _CONTROL_RE.search(body) if _may_have_control(body) else None
    if control:
        raise _reject("control_character", "control character in the file (only LF or CRLF line ends allowed)", file,
                      row=_line_of(body, control.start()), expected="printable UTF-8 text",
                      found=repr(control.group()))
    return body


def _check_header(line: bytes, file: str | None) -> None:
    text = line.rstrip(b"\r").decode("utf-8")
    if text == HEADER:
        return
    if not text:
        raise _reject("header_missing", "line 2 must be the header", file, row=2, expected=HEADER, found="")
    for delimiter in (";", "\t", "|"):
        if delimiter in text and "," not in text:
            raise _reject("header_delimiter", f"the delimiter is {delimiter!r}; deliveries use ','", file, row=2,
                          expected=",", found=delimiter)
    names = [n.strip().strip('"') for n in text.split(",")]
    missing = [c for c in COLUMNS if c not in names]
    extra = [n for n in names if n not in COLUMNS]
    if missing:
        raise _reject("header_missing_column", f"column(s) missing: {', '.join(missing)}", file, row=2,
                      expected=HEADER, found=text)
    if extra:
        raise _reject("header_extra_column", f"unknown column(s): {', '.join(extra)}", file, row=2,
                      expected=HEADER, found=text)
    if len(names) != len(set(names)):
        raise _reject("header_duplicate_column", "a column is named twice", file, row=2, expected=HEADER, found=text)
    if names != list(COLUMNS):
        raise _reject("header_order", "the columns are not in the declared order", file, row=2,
                      expected=HEADER, found=text)
    raise _reject("header_format", "the header must be exactly the column names, unquoted, comma-separated",
                  file, row=2, expected=HEADER, found=text)


def parse_delivery(data: bytes, file_name: str | None = None, *, max_rows: int | None = None) -> Delivery:
    """Parse the bytes of a delivery; raise :class:`DeliveryRejected` on the first form error.

    ``max_rows`` (the country's row cap) is checked on the declared and the actual row count
    before any value is converted.
    """
    file = file_name
    body = _check_encoding(data, file)
    end_meta = body.find(b"\n")
    meta = read_meta_line(body, file)
    if end_meta < 0:
        raise _reject("header_missing", "the file ends after the metadata line", file, row=2, expected=HEADER,
                      found="end of file")
    end_header = body.find(b"\n", end_meta + 1)
    header = body[end_meta + 1:] if end_header < 0 else body[end_meta + 1:end_header]
    _check_header(header, file)
    start = len(body) if end_header < 0 else end_header + 1
    if max_rows is not None and meta.rows > max_rows:
        raise _reject("too_many_rows", "the metadata declares more rows than the country can have", file, row=1,
                      expected=f"<= {max_rows}", found=meta.rows)
    section = body[start:]
    if not _NOT_SPACE_RE.search(section):  # section.strip() would be empty
        raise _reject("no_rows", "the delivery has no data rows", file, row=FIRST_DATA_LINE, expected=f"{meta.rows} rows",
                      found="0 rows")
    physical = section.count(b"\n") + (0 if section.endswith(b"\n") else 1)
    if max_rows is not None and physical > max_rows:
        raise _reject("too_many_rows", "more rows than the country can have", file, row=FIRST_DATA_LINE + max_rows,
                      expected=f"<= {max_rows}", found=physical)
    if section.startswith((b"\n", b"\r\n")):
        empty_at: int | None = FIRST_DATA_LINE
    else:
        match = re.search(rb"\n\r?\n", section)
        empty_at = None if match is None else FIRST_DATA_LINE + section.count(b"\n", 0, match.start()) + 1
    if empty_at is not None:
        raise _reject("empty_line", "empty line among the rows", file, row=empty_at,
                      expected="one row per line", found="empty line")
    table = _read_rows(section, file, meta)
    if table.num_rows != physical:
        # pyarrow joined lines: a quoted value spans a line break
        for name in ID_COLUMNS:
            hits = pc.match_substring_regex(table[name], r"[\r\n]")
            if pc.any(hits).as_py():
                index = pc.index(hits, True).as_py()
                raise _reject("newline_in_value", f"a line break inside a quoted {name}", file,
                              row=FIRST_DATA_LINE + index, expected="one row per line", found="quoted line break")
        raise _reject("row_fields", "rows and lines do not match", file, expected=physical, found=table.num_rows)
    if table.num_rows != meta.rows:
        truncated = not section.endswith(b"\n") and table.num_rows < meta.rows
        raise _reject("truncated" if truncated else "row_count",
                      "the file is cut off" if truncated else "the number of rows differs from the metadata",
                      file, row=FIRST_DATA_LINE + table.num_rows - (1 if truncated else 0),
                      expected=f"{meta.rows} rows", found=f"{table.num_rows} rows")
    try:
        table = _convert(table, file)
    except DeliveryRejected as exc:
        last_line = FIRST_DATA_LINE + table.num_rows - 1
        if not section.endswith(b"\n") and exc.row == last_line:
            raise _reject("truncated", f"the last row is cut off ({exc.message})", file, row=last_line,
                          expected=exc.expected, found=exc.found) from None
        raise
    delivery = Delivery(meta=meta, table=table, file_name=file_name, size=len(data))
    if meta.totals is not None:
        try:
            _check_totals(delivery, file)
        except DeliveryRejected as exc:
            if not section.endswith(b"\n"):  # the last value was cut: the declared totals show it
                raise _reject("truncated", "the last row seems cut off (no final newline and the declared totals "
                              "differ)", file, row=FIRST_DATA_LINE + table.num_rows - 1, expected=exc.expected,
                              found=exc.found) from None
            raise
    return delivery


def _read_rows(section: bytes, file: str | None, meta: DeliveryMeta) -> pa.Table:
    invalid: list[tuple[int | None, int, int, str]] = []

    def on_invalid(row) -> str:
        invalid.append((row.number, row.expected_columns, row.actual_columns, row.text))
        return "skip"

    def read(use_threads: bool) -> pa.Table:
        return pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(section)),
            read_options=pacsv.ReadOptions(column_names=list(COLUMNS), use_threads=use_threads,
                                           block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=",", quote_char='"', double_quote=True, escape_char=False,
                                             newlines_in_values=False, ignore_empty_lines=False,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in COLUMNS},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False,
                                                 null_values=[], check_utf8=False))

    try:
        table = read(True)
        if invalid and invalid[0][0] is None:
            invalid.clear()
            table = read(False)
    except pa.ArrowInvalid as exc:
        if not section.endswith(b"\n"):
            raise _reject("truncated", f"the file is cut off: {exc}", file,
                          row=FIRST_DATA_LINE + section.count(b"\n"), expected="complete rows",
                          found=str(exc)[:200]) from None
        raise _reject("row_fields", f"the rows cannot be read as CSV: {exc}", file, expected="CSV rows",
                      found=str(exc)[:200]) from None
    if invalid:
        number, expected, actual, text = invalid[0]
        line = FIRST_DATA_LINE + (number or 1) - 1
        last = not section.endswith(b"\n") and number is not None and \
            number == section.count(b"\n") + 1
        rule = "truncated" if (last and actual < expected) else "row_fields"
        raise _reject(rule, "the last row is cut off" if rule == "truncated" else
                      f"a row has {actual} fields instead of {expected}", file, row=line,
                      expected=f"{expected} fields", found=f"{actual} fields: {text[:120]}",
                      rows=[FIRST_DATA_LINE + (n or 1) - 1 for n, *_ in invalid[:5]])
    return table


def _first(mask: pa.ChunkedArray) -> int | None:
    if not pc.any(mask).as_py():
        return None
    return pc.index(mask, True).as_py()


def _first_too_long(column: pa.ChunkedArray, limit: int) -> int | None:
    """The first value longer than ``limit`` characters. A UTF-8 character is at least one byte:
    characters are only counted where some value has more than ``limit`` bytes."""
    if not pc.any(pc.greater(pc.binary_length(column), limit)).as_py():
        return None
    return _first(pc.greater(pc.utf8_length(column), limit))


def _first_not_integer(column: pa.ChunkedArray) -> int | None:
    """The first value (empty ones are null) that is not :data:`_INTEGER_RE`. Values of 1 to 18
    ASCII digits all are: the regular expression only runs when some value is not one (a sign, or
    a bad value)."""
    digits = pc.and_(pc.ascii_is_decimal(column), pc.less_equal(pc.binary_length(column), 18))
    if pc.all(pc.fill_null(digits, True)).as_py():
        return None
    return _first(pc.fill_null(pc.invert(pc.match_substring_regex(column, _INTEGER_RE)), False))


def _convert(table: pa.Table, file: str | None) -> pa.Table:
    columns = {}
    for name in COLUMNS:
        column = table[name]
        if name in ID_COLUMNS:
            if name in REQUIRED_IDS:
                index = _first(pc.equal(column, ""))
                if index is not None:
                    raise _reject("missing_value", f"{name} is empty", file, row=FIRST_DATA_LINE + index,
                                  expected=f"a {name}", found="")
            index = _first_too_long(column, MAX_ID_LENGTH)
            if index is not None:
                raise _reject("value_too_long", f"{name} is longer than {MAX_ID_LENGTH} characters", file,
                              row=FIRST_DATA_LINE + index, expected=f"<= {MAX_ID_LENGTH} characters",
                              found=column[index].as_py()[:60] + "...")
            columns[name] = column
            continue
        empty = pc.equal(column, "")
        if name in NULLABLE_COUNTS:
            column = pc.if_else(empty, pa.scalar(None, pa.string()), column)
        else:
            index = _first(empty)
            if index is not None:
                raise _reject("missing_value", f"{name} is empty", file, row=FIRST_DATA_LINE + index,
                              expected="an integer", found="")
        index = _first_not_integer(column)
        if index is not None:
            raise _reject("not_integer", f"{name} is not an integer", file, row=FIRST_DATA_LINE + index,
                          expected="an integer (digits only)", found=column[index].as_py())
        columns[name] = pc.cast(column, pa.int64())
    return pa.Table.from_arrays([columns[c] for c in COLUMNS], schema=SCHEMA)


def unit_codes(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, first)``: each row's unit as a number (0, 1, ... in the order the units first
    appear) and the 0-based index of each unit's first row — the rows
    ``drop_duplicates("unit_id", keep="first")`` keeps. A unit's totals are repeated on each of its
    rows; its first row stands for it (the suites report rows of a unit that disagree)."""
    if table.num_rows == 0:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
    codes = pc.dictionary_encode(table["unit_id"].combine_chunks()).indices.to_numpy(zero_copy_only=False)
    # codes are numbered in order of first appearance: a row opens a unit where its code is above all before it
    highest = np.maximum.accumulate(codes)
    opens = np.empty(len(codes), dtype=bool)
    opens[0] = True
    np.greater(highest[1:], highest[:-1], out=opens[1:])
    return codes, np.flatnonzero(opens)


def unit_rows(table: pa.Table) -> np.ndarray:
    """The 0-based index of each unit's first row, units in the order they first appear (:func:`unit_codes`)."""
    return unit_codes(table)[1]


def unit_table(table: pa.Table, rows: np.ndarray | None = None) -> pa.Table:
    """The first row of each unit (``rows``: :func:`unit_rows`, if known): ``unit_id`` and
    :data:`UNIT_COUNT_COLUMNS` (Arrow)."""
    rows = unit_rows(table) if rows is None else rows
    return table.select(["unit_id", *UNIT_COUNT_COLUMNS]).take(pa.array(rows))


def unit_totals(table: pa.Table, rows: np.ndarray | None = None):
    """One row per unit (its first row): unit_id, registered, voters, blank, invalid (pandas) — the
    frame ``table.to_pandas().drop_duplicates("unit_id", keep="first")`` gives (the same index, blank
    float where ``table`` has an empty blank), without converting every row. ``rows``: :func:`unit_rows`."""
    rows = unit_rows(table) if rows is None else rows
    units = unit_table(table, rows)
    df = units.to_pandas()
    if table["blank"].null_count and not units["blank"].null_count:
        df["blank"] = df["blank"].astype("float64")
    df.index = rows
    return df


def _check_totals(delivery: Delivery, file: str | None) -> None:
    totals = delivery.meta.totals or {}
    units = unit_totals(delivery.table, delivery.unit_rows())
    for key in ("registered", "voters", "invalid", "blank"):
        declared = totals.get(key)
        column = units[key]
        found = int(column.sum()) if key != "blank" or column.notna().any() else None
        if declared != found:
            raise _reject("totals_mismatch", f"the metadata total of {key} differs from the rows", file, row=1,
                          expected=declared, found=found)
    votes = delivery.table.group_by("list_id").aggregate([("votes", "sum")]).to_pydict()
    found_votes = dict(zip(votes["list_id"], votes["votes_sum"]))
    if {k: int(v) for k, v in totals.get("votes", {}).items()} != found_votes:
        diff = {k: (totals["votes"].get(k), found_votes.get(k)) for k in set(totals["votes"]) | set(found_votes)
                if totals["votes"].get(k) != found_votes.get(k)}
        raise _reject("totals_mismatch", "the metadata list totals differ from the rows", file, row=1,
                      expected={k: v[0] for k, v in diff.items()}, found={k: v[1] for k, v in diff.items()})


def compute_totals(table: pa.Table) -> dict:
    """The ``totals`` object of the metadata, computed from the rows."""
    units = unit_totals(table)
    votes = table.group_by("list_id").aggregate([("votes", "sum")]).to_pydict()
    blank = units["blank"]
    return {"registered": int(units["registered"].sum()), "voters": int(units["voters"].sum()),
            "blank": int(blank.sum()) if blank.notna().any() else None, "invalid": int(units["invalid"].sum()),
            "votes": {k: int(v) for k, v in sorted(zip(votes["list_id"], votes["votes_sum"]))}}


def render_delivery(meta: DeliveryMeta | dict, rows, *, bom: bool = False, crlf: bool = False) -> bytes:
    """Write a delivery: the metadata line, the header, then ``rows`` (DataFrame or Arrow table).

    ``rows`` must have the :data:`COLUMNS`; ``rows``/``totals`` in the metadata are filled in
    from the data when they are missing or None.
    """
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pandas(rows[list(COLUMNS)], preserve_index=False)
    table = table.select(list(COLUMNS)).cast(SCHEMA)
    data = meta.to_dict() if isinstance(meta, DeliveryMeta) else dict(meta)
    data.setdefault("format", FORMAT)
    data["rows"] = table.num_rows
    if "totals" in data and data["totals"] is None:
        data["totals"] = compute_totals(table)
    ordered = {k: data[k] for k in META_FIELDS if k in data}
    ordered.update({k: v for k, v in data.items() if k not in ordered})
    out = io.BytesIO()
    needs_quotes = any(pc.any(pc.match_substring_regex(table[name], r'[,"\r\n]|^\s|\s$')).as_py()
                       for name in ID_COLUMNS if table.num_rows)
    if needs_quotes:
        import pandas as pd

        table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get).to_csv(out, header=False, index=False, lineterminator="\n")
    else:
        pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    text = (META_PREFIX + json.dumps(ordered, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
            + HEADER.encode() + b"\n" + out.getvalue())
    if crlf:
        text = text.replace(b"\n", b"\r\n")
    return (BOM + text) if bom else text
