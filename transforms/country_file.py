"""A country file, ``elections/<id>/countries/<CC>.toml``: one member state's law, readable.

The file is named after the country's code (``DE.toml``) and, once read by :mod:`tomllib` (in
:mod:`enr.definition`; nothing here reads files), is flattened by :func:`rule_rows` into the rows of
strings that :func:`transforms.rules.parse_rules` validates: the same rows, the same checks and the
same typed :class:`~transforms.rules.CountryRule` as a row of an older ``rules.csv``. Only the place
an error names differs: the file and the key the author wrote (``countries/DE.toml key
threshold.percent``), not a row and a column.

The keys, and the rules.csv column each one fills (:data:`KEYS`; the columns are documented in
:mod:`transforms.rules`)::

    seats = 96                        # seats of the country
    allocation_level = "national"     # or "constituency": every [[constituency]] allocates its own seats
    method = "sainte_lague_schepers"  # a name of transforms.registry.METHODS
    first_divisor = 1.2               # modified Sainte-Laguë
    alliances = "none"                # "dhondt" (DK, FI) | "minority_link" (IT)
    minority_min_votes = 50000        # IT
    distribution = "..."              # national seats -> constituencies (PL, IT)
    tie_break = "lot"                 # or "more_votes_then_lot", "fewer_votes_then_lot"

    [threshold]                       # absent: no legal threshold
    percent = 5                       # or quotas = 1 (whole quotas: NL kiesdeler, BG)
    base = "valid_votes"
    inclusive = true                  # a list exactly at the line qualifies
    fill_percent = 60                 # LT

    [independent_threshold]           # RO: an independent needs this many quotas
    quotas = 1
    base = "valid_votes"

    [quota]                           # largest remainder: name, rounding, base
    [deferred]                        # 2019 Brexit seats: seats, rule

    [law]
    constituencies = "single national constituency"
    notes = \"\"\"the law in words, as the methodology page shows it\"\"\"
    source = \"\"\"the legal source with its article\"\"\"

    [[constituency]]                  # one table per constituency, in order
    name = "Dublin"
    seats = 4
    method = "stv"
    tie_break = "lot"
    deferred = { seats = 1, rule = "last_elected" }
    notes = "..."
    source = "..."

Numbers may be written as TOML numbers or as text (``percent = "1.8"``); a decimal written as a
TOML float is read as its shortest decimal form (``1.8`` -> ``"1.8"``). A key that is not listed
here is refused, naming it, rather than ignored.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from transforms.errors import RuleError
from transforms.rules import COLUMNS, RuleRow

#: rules.csv column -> the key of the country file's top level that fills it
KEYS = {
    "seats": "seats", "allocation_level": "allocation_level", "method": "method",
    "first_divisor": "first_divisor", "alliances": "alliances", "minority_min_votes": "minority_min_votes",
    "distribution": "distribution", "tie_break": "tie_break",
    "threshold_percent": "threshold.percent", "threshold_quotas": "threshold.quotas",
    "threshold_base": "threshold.base", "threshold_inclusive": "threshold.inclusive",
    "threshold_fill_percent": "threshold.fill_percent",
    "independent_threshold_quotas": "independent_threshold.quotas",
    "independent_threshold_base": "independent_threshold.base",
    "quota": "quota.name", "quota_rounding": "quota.rounding", "quota_base": "quota.base",
    "deferred_seats": "deferred.seats", "deferred_rule": "deferred.rule",
    "constituencies": "law.constituencies", "special_notes": "law.notes", "source": "law.source",
}
#: rules.csv column -> the key of a ``[[constituency]]`` table that fills it
CONSTITUENCY_KEYS = {
    "constituency": "name", "seats": "seats", "method": "method", "tie_break": "tie_break",
    "deferred_seats": "deferred.seats", "deferred_rule": "deferred.rule",
    "special_notes": "notes", "source": "source",
}
_WHOLE = {"seats", "minority_min_votes", "deferred.seats"}
_DECIMAL = {"first_divisor", "threshold.percent", "threshold.quotas", "threshold.fill_percent",
            "independent_threshold.quotas"}
_FLAG = {"threshold.inclusive"}


def _refuse(file: str, code: str, key: str, problem: str) -> RuleError:
    return RuleError(f"{file} key {key} ({code}): {problem}", file=file, key=key, detail=f"({code}): {problem}")


def _value(file: str, code: str, key: str, local: str, value: object) -> str:
    """A TOML value as the string a rules.csv cell would hold (the checks come later, once)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        if local in _FLAG:
            return "1" if value else "0"
        raise _refuse(file, code, key, f"{value!r} is not a {'number' if local in _WHOLE | _DECIMAL else 'text'}")
    if isinstance(value, int) and local in _WHOLE | _DECIMAL:
        return str(value)
    if isinstance(value, float) and local in _DECIMAL:
        return repr(value)
    if local in _FLAG:
        raise _refuse(file, code, key, f"{value!r} is not true or false")
    if local in _WHOLE:
        raise _refuse(file, code, key, f"{value!r} is not a whole number")
    if local in _DECIMAL:
        raise _refuse(file, code, key, f"{value!r} is not a decimal number")
    raise _refuse(file, code, key, f"{value!r} is not text")


def _flatten(table: Mapping[str, object], prefix: str = "") -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for name, value in table.items():
        if isinstance(value, Mapping):
            out.extend(_flatten(value, f"{prefix}{name}."))
        else:
            out.append((f"{prefix}{name}", value))
    return out


def _row(file: str, code: str, table: Mapping[str, object], keys: Mapping[str, str], place: str,
         base: Mapping[str, str]) -> RuleRow:
    columns = {key: column for column, key in keys.items()}
    fields = {**dict.fromkeys(COLUMNS, ""), **base}  # every column, as a rules.csv row has
    for local, value in _flatten(table):
        key = place + local
        if local not in columns:
            raise _refuse(file, code, key, f"not a key of a country file{' constituency' if place else ''} "
                                           f"(known: {', '.join(sorted(columns))})")
        fields[columns[local]] = _value(file, code, key, local, value)
    return RuleRow(fields, file=file, written_as={column: place + key for column, key in keys.items()})


def rule_rows(code: str, data: Mapping[str, object], file: str) -> list[RuleRow]:
    """The country row and the constituency rows written in the country file ``file`` (``data`` as
    :func:`tomllib.loads` returns it), for :func:`transforms.rules.parse_rules`."""
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise RuleError(f"{file}: a country file is named after the country's code (DE.toml), not {code!r}",
                        file=file, detail=f"a country file is named after the country's code, not {code!r}")
    top = {k: v for k, v in data.items() if k != "constituency"}
    rows = [_row(file, code, top, KEYS, "", {"country": code})]
    tables = data.get("constituency", [])
    if not isinstance(tables, list) or not all(isinstance(t, Mapping) for t in tables):
        raise _refuse(file, code, "constituency", "write one [[constituency]] table per constituency")
    for n, table in enumerate(tables, start=1):
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _refuse(file, code, f"constituency[{n}].name", "every constituency table needs its name")
        rows.append(_row(file, code, table, CONSTITUENCY_KEYS, f"constituency[{name}].",
                         {"country": code, "allocation_level": "constituency"}))
    return rows
