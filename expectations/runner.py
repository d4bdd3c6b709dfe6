"""Run the Great Expectations suites of ``expectations/suites/`` on a parsed delivery.

The suites are reviewable JSON files; each expectation names, in its ``meta``, the ``rule`` id a
failure maps to (the same ids as the parser's, see docs/DELIVERY.md), a human ``message`` and
what was ``expected``. Values written ``"$name"`` are placeholders filled per country at run time
from the election definition (:func:`suite_params`): known list ids, known unit ids, the
constituencies, the row cap, ``votes_per_voter``. ``meta.when`` names a parameter that must be
true for the expectation to run (``blank_reported``, ``is_final``, ``monotonic``).
``"severity": "warning"`` expectations never refuse a delivery; they become warnings for the
reviewers (implausible turnout).

Four frames are validated, each by the suite of that name:

* ``rows``    — the parsed rows plus their ``line`` in the file (schema, non-negative counts, known
  ids, one row per unit x list, no markup in names, row cap). Its expectations are first evaluated
  column-wise on the Arrow table (:mod:`expectations.row_checks`, from the same suite JSON); when
  they all hold, GX is not handed the million rows and the report records the suite as passed
  there; when one fails (or cannot be read there), GX runs the suite and its result (rule, lines,
  expected, found) is the refusal, as before;
* ``units``   — one row per unit, built from the Arrow table (:func:`units_frame_of_table`; the
  pandas :func:`units_frame` where a unit's rows disagree, to count their variants) (arithmetic: ``valid = voters - blank - invalid`` must equal the
  sum of the list votes, LU up to 6x; voters <= registered; unit columns identical on every row of
  the unit; coverage of a final wave; turnout warning);
* ``country`` — the country totals (national turnout warning);
* ``changes`` — list and country totals against the previously accepted snapshot (totals never
  decrease except in a declared correction).

The three aggregate suites (``units``, ``country``, ``changes``) are small frames on which GX's
fixed cost per expectation dominates: they too are first evaluated column-wise
(:mod:`expectations.frame_checks`, same JSON, same ``meta.when``); GX runs a suite only when one of
its expectations fails there, a ``severity: warning`` one included (so the reviewers' warnings
are GX's), or cannot be read there.

One ephemeral GX context per process (progress bars off), created on the first call and reused,
with its pandas data source, dataframe asset and whole-dataframe batch definition (building them
was a fixed cost of every delivery); each frame is passed as the batch parameter of its suite's
validation. The data source's execution engine (loaded frames, metric cache) is dropped before and
after every delivery, so nothing of one delivery is seen by the next; the GX part of a call holds a
process-wide lock (two threads never use the engine at once); a forked child builds its own
context. The suites are built on every call from the filled parameters (well under 1 ms).
:func:`validate_delivery` returns a :class:`ValidationReport`; its
:meth:`~ValidationReport.rejection` is the :class:`~enr.delivery.DeliveryRejected` naming the first
failing rule, its rows (line numbers), expected and found; :meth:`~ValidationReport.to_json` and
:meth:`~ValidationReport.to_html` are what is kept beside the snapshot.
"""
from __future__ import annotations

import html
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from enr.delivery import (FIRST_DATA_LINE, NATIONAL_UNIT, OTHER_LIST, STATUSES, UNIT_COUNT_COLUMNS, Delivery,
                          DeliveryRejected, _jsonable, unit_codes, unit_table)
from enr.units import constituencies_of, country_profile, row_cap, units_of
from expectations import frame_checks, row_checks

log = logging.getLogger(__name__)

SUITES_DIR = Path(__file__).resolve().parent / "suites"
SUITE_ORDER = ("delivery_rows", "delivery_units", "delivery_country", "delivery_changes")
MAX_ROWS_REPORTED = 5
INDEX_COLUMNS = {"rows": ["line", "unit_id"], "units": ["line", "unit_id"], "country": ["missing_units"],
                 "changes": ["line", "key"]}
_LONG = 20
FRAME_EVALUATED_BY = "expectations.frame_checks (pandas); Great Expectations on a failure or a warning"


@lru_cache(maxsize=16)
def _load(path: str, _mtime: float) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_suite(name: str, suites_dir: Path | None = None) -> dict:
    """The raw JSON of a suite (placeholders unresolved)."""
    path = Path(suites_dir or SUITES_DIR) / f"{name}.json"
    return _load(str(path), path.stat().st_mtime)


def suite_params(election: str, country: str, status: str, *, monotonic: bool = False) -> dict:
    """The placeholder values of a country, from the election definition (:mod:`enr.units`)."""
    profile = country_profile(election, country)
    units = units_of(election, country)
    unit_ids = units["unit_id"].tolist()  # tolist: one conversion, not an iteration over pandas values
    unit_constituency = dict(zip(unit_ids, units["constituency"].tolist()))
    constituencies = constituencies_of(election, country)
    if status == "estimate":
        unit_ids.append(NATIONAL_UNIT)
        if "" not in constituencies:
            constituencies.append("")
    return {
        "election": election, "country": country, "status": status,
        "unit_ids": unit_ids, "units_total": len(units), "unit_constituency": unit_constituency,
        "list_ids": [*profile.list_ids, OTHER_LIST], "constituencies": constituencies,
        "max_rows": row_cap(election, country), "votes_per_voter": profile.votes_per_voter,
        "blank_reported": profile.blank_reported, "is_final": status in ("final", "official"),
        "monotonic": monotonic,
    }


# -- frames ---------------------------------------------------------------------------------------

UNIT_COLUMNS = ("unit_name", "constituency", *UNIT_COUNT_COLUMNS)


def units_frame(rows: pd.DataFrame, params: dict) -> pd.DataFrame:
    """One row per unit, with the derived columns the ``delivery_units`` suite checks."""
    unit_columns = list(UNIT_COLUMNS)
    first = rows.drop_duplicates("unit_id", keep="first")
    variants = rows.drop_duplicates(["unit_id", *unit_columns]).groupby("unit_id", sort=False).size()
    list_votes = rows.groupby("unit_id", sort=False)["votes"].sum()
    units = first[["line", "unit_id", *unit_columns]].reset_index(drop=True)
    return _derived_unit_columns(units, variants, list_votes, params)


def units_frame_of_table(rows: pa.Table, params: dict, slow=None,
                         codes: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """:func:`units_frame` computed from :func:`rows_table` with Arrow and numpy (the same frame: one
    row per unit at its first line, in the order of the file) without hashing every row's strings.

    Each row is compared with the first row of its unit — where each unit's rows are together (as
    they are written), with the row before it in the unit, which is the same by transitivity; where
    every unit's rows agree, ``variants`` is 1 everywhere. Where one does not, ``slow()`` (the
    pandas rows) is handed to :func:`units_frame`, which counts the variants exactly for the report.
    ``codes``: :func:`enr.delivery.unit_codes` of the rows, if known.
    """
    codes, first_rows = unit_codes(rows) if codes is None else codes
    first = rows.take(pa.array(first_rows))
    together = bool(np.all(codes[1:] >= codes[:-1]))  # codes never go back: no unit comes back later
    within = pa.array(codes[1:] == codes[:-1]) if together else None
    for name in UNIT_COLUMNS:
        if together:
            column, spread = rows[name].slice(1), rows[name].slice(0, max(rows.num_rows - 1, 0))
        else:
            column, spread = rows[name], first[name].take(pa.array(codes))
        same = pc.fill_null(pc.equal(column, spread), False)
        if column.null_count or spread.null_count:
            same = pc.or_(same, pc.and_(pc.is_null(column), pc.is_null(spread)))
        if together:
            same = pc.or_(same, pc.invert(within))
        if not pc.all(same).as_py():
            if slow is None:
                raise ValueError("the rows of a unit differ: units_frame needs the pandas rows")
            return units_frame(slow(), params)
    if together and len(first_rows):
        list_votes = np.add.reduceat(rows["votes"].to_numpy(), first_rows)
    else:
        sums = pa.table({"code": pa.array(codes), "votes": rows["votes"]}).group_by("code", use_threads=False) \
            .aggregate([("votes", "sum")])
        list_votes = np.zeros(len(first_rows), dtype=np.int64)
        list_votes[sums["code"].to_numpy()] = sums["votes_sum"].to_numpy()
    units = first.select(["line", "unit_id", *UNIT_COLUMNS]).to_pandas(types_mapper={pa.int64(): None}.get)
    units["blank"] = units["blank"].astype("Int64")
    unit_ids = units["unit_id"]
    return _derived_unit_columns(units, pd.Series(1, index=unit_ids), pd.Series(list_votes, index=unit_ids), params)


def _derived_unit_columns(units: pd.DataFrame, variants: pd.Series, list_votes: pd.Series,
                          params: dict) -> pd.DataFrame:
    units["variants"] = units["unit_id"].map(variants).astype("int64")
    counts = units[list(UNIT_COUNT_COLUMNS)].astype("float64")
    units["smallest_count"] = counts.min(axis=1, skipna=True).astype("int64")
    units["list_votes"] = units["unit_id"].map(list_votes).astype("int64")
    units["valid"] = (units["voters"] - units["blank"].fillna(0) - units["invalid"]).astype("int64")
    units["min_list_votes"] = units["valid"]
    units["max_list_votes"] = units["valid"] * int(params["votes_per_voter"])
    expected = units["unit_id"].map(params["unit_constituency"])
    if NATIONAL_UNIT in params["unit_ids"]:
        expected = expected.where(units["unit_id"] != NATIONAL_UNIT, "")
    # An unknown unit is reported by delivery_rows (unknown_unit); do not report it twice.
    units["expected_constituency"] = expected.fillna(units["constituency"]).astype(str)
    registered = units["registered"].astype("float64")
    units["turnout"] = (units["voters"] / registered.where(registered > 0)).astype("float64")
    return units


def rows_frame(rows: pd.DataFrame, params: dict) -> pd.DataFrame:
    """The parsed rows plus ``unit_known`` (unit id in the country's unit list)."""
    known = set(params["unit_ids"])
    rows = rows.copy()
    rows["unit_known"] = rows["unit_id"].isin(known)
    return rows


def rows_table(delivery: Delivery, params: dict) -> pa.Table:
    """The ``rows`` frame as an Arrow table (same columns, same values), for
    :mod:`expectations.row_checks`: ``line``, the parsed columns, ``unit_known``."""
    table = delivery.table
    line = pa.array(np.arange(FIRST_DATA_LINE, FIRST_DATA_LINE + table.num_rows, dtype=np.int64))
    known = pc.is_in(table["unit_id"], value_set=pa.array(list(params["unit_ids"]), type=pa.string()))
    return table.add_column(0, "line", line).append_column("unit_known", known)


class _LazyFrame:
    """A suite's frame made only when asked: the pandas frame for GX (:meth:`frame`), or the Arrow
    table for :mod:`expectations.row_checks` (:meth:`table`)."""

    def __init__(self, make_frame, make_table=None) -> None:
        self._make_frame, self._make_table = make_frame, make_table
        self._frame: pd.DataFrame | None = None

    @property
    def empty(self) -> bool:
        return self.table().num_rows == 0 if self._make_table is not None else self.frame().empty

    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = self._make_frame()
        return self._frame

    def table(self) -> pa.Table | None:
        if self._make_table is None:
            return None
        if not hasattr(self, "_table"):
            self._table = self._make_table()
        return self._table


def country_frame(units: pd.DataFrame, params: dict) -> pd.DataFrame:
    registered, voters = int(units["registered"].sum()), int(units["voters"].sum())
    present = set(units["unit_id"].tolist())
    missing = [u for u in params["unit_ids"] if u not in present and u != NATIONAL_UNIT]
    return pd.DataFrame([{"registered": registered, "voters": voters,
                          "turnout": voters / registered if registered else float("nan"),
                          "units_reporting": int((units["unit_id"] != NATIONAL_UNIT).sum()),
                          "units_total": int(params["units_total"]), "units_missing": len(missing),
                          "missing_units": ", ".join(missing[:MAX_ROWS_REPORTED])
                          + (f" ... ({len(missing)} in all)" if len(missing) > MAX_ROWS_REPORTED else "")}])


CHANGES_COLUMNS = ["kind", "key", "line", "current", "previous"]


def changes_frame(rows: pd.DataFrame | None, previous: pd.DataFrame | None) -> pd.DataFrame:
    """Country and list totals now vs in the previous accepted snapshot (empty without one)."""
    if previous is None or previous.empty:
        return pd.DataFrame(columns=CHANGES_COLUMNS)
    out = []
    now_units, before_units = rows.drop_duplicates("unit_id"), previous.drop_duplicates("unit_id")
    for key in UNIT_COUNT_COLUMNS:
        if key == "blank" and (now_units[key].isna().all() or before_units[key].isna().all()):
            continue
        out.append(("total", key, 0, int(now_units[key].fillna(0).sum()), int(before_units[key].fillna(0).sum())))
    now = rows.groupby("list_id", sort=False).agg(votes=("votes", "sum"), line=("line", "min"))
    before = previous.groupby("list_id")["votes"].sum()
    for list_id in sorted(set(now.index) | set(before.index)):
        current = int(now["votes"].get(list_id, 0))
        line = int(now["line"].get(list_id, 0)) if list_id in now.index else 0
        out.append(("list", list_id, line, current, int(before.get(list_id, 0))))
    return _changes(out)


def changes_frame_of_tables(delivery: Delivery, previous: pa.Table) -> pd.DataFrame:
    """:func:`changes_frame` (the same frame) from the delivery's Arrow rows and the previous
    snapshot as an Arrow table (:data:`enr.delivery.SCHEMA`), without a pandas frame of the rows:
    the units' totals from their first rows, the list votes summed by Arrow."""
    if previous.num_rows == 0:
        return pd.DataFrame(columns=CHANGES_COLUMNS)
    out = []
    now_units, before_units = delivery.units(), unit_table(previous)
    for key in UNIT_COUNT_COLUMNS:
        if key == "blank" and (now_units[key].null_count == now_units.num_rows
                               or before_units[key].null_count == before_units.num_rows):
            continue
        out.append(("total", key, 0, pc.sum(now_units[key]).as_py() or 0, pc.sum(before_units[key]).as_py() or 0))
    now, before = _list_totals(delivery.table), _list_totals(previous)
    for list_id in sorted(set(now) | set(before)):
        current, line = now.get(list_id, (0, 0))
        out.append(("list", list_id, line, current, before.get(list_id, (0, 0))[0]))
    return _changes(out)


def _list_totals(table: pa.Table) -> dict[str, tuple[int, int]]:
    """list_id -> (votes, line of its first row)."""
    keyed = table.select(["list_id", "votes"]).append_column(
        "row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    sums = keyed.group_by("list_id").aggregate([("votes", "sum"), ("row", "min")]).to_pydict()
    return {k: (v, FIRST_DATA_LINE + r) for k, v, r in zip(sums["list_id"], sums["votes_sum"], sums["row_min"])}


def _changes(out: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(out, columns=CHANGES_COLUMNS)
    for column in ("line", "current", "previous"):
        frame[column] = frame[column].astype("int64")
    return frame


# -- the report -----------------------------------------------------------------------------------

@dataclass
class Failure:
    """One failing expectation, mapped to its rule."""

    rule: str
    severity: str
    suite: str
    expectation: str
    column: str | None
    message: str
    expected: Any
    found: Any
    rows: list[int]
    unexpected_count: int | None

    def as_dict(self) -> dict:
        return _jsonable(self.__dict__)


@dataclass
class ValidationReport:
    election: str
    country: str
    sequence: int
    file: str | None
    failures: list[Failure] = field(default_factory=list)
    warnings: list[Failure] = field(default_factory=list)
    suites: dict[str, dict] = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return not self.failures

    def rejection(self) -> DeliveryRejected | None:
        """The :class:`DeliveryRejected` of the first failure (all failures in ``details``)."""
        if not self.failures:
            return None
        first = self.failures[0]
        return DeliveryRejected(first.rule, first.message, file=self.file, row=first.rows[0] if first.rows else None,
                                expected=first.expected, found=first.found, rows=first.rows,
                                details=[f.as_dict() for f in self.failures])

    def warning_texts(self) -> list[str]:
        return [f"{w.rule}: {w.message}" + (f" (lines {', '.join(map(str, w.rows))})" if w.rows else "")
                + (f" [{w.unexpected_count} unit(s)]" if w.unexpected_count else "") for w in self.warnings]

    def to_json(self) -> dict:
        params = {k: (f"<{len(v)} values>" if isinstance(v, (list, dict)) and len(v) > _LONG else v)
                  for k, v in self.params.items()}
        return _jsonable({"election": self.election, "country": self.country, "sequence": self.sequence,
                          "file": self.file, "success": self.success, "params": params,
                          "failures": [f.as_dict() for f in self.failures],
                          "warnings": [w.as_dict() for w in self.warnings], "suites": self.suites})

    def to_html(self) -> str:
        return render_html(self.to_json())


def _fill(value: Any, params: dict) -> Any:
    if isinstance(value, str) and value.startswith("$") and value[1:] in params:
        return params[value[1:]]
    if isinstance(value, str) and "$" in value:
        for key in sorted(params, key=len, reverse=True):
            token = f"${key}"
            if token in value:
                replacement = params[key]
                if isinstance(replacement, (list, dict)):
                    replacement = ", ".join(map(repr, replacement)) if len(replacement) <= _LONG \
                        else f"{len(replacement)} values"
                value = value.replace(token, str(replacement))
        return value
    if isinstance(value, dict):
        return {k: _fill(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, params) for v in value]
    return value


def _active(expectation: dict, params: dict) -> bool:
    when = (expectation.get("meta") or {}).get("when")
    if not when:
        return True
    negate = when.startswith("not:")
    value = bool(params.get(when.removeprefix("not:")))
    return value != negate


def _trim(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _trim(v) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) > _LONG:
            return [_trim(v) for v in value[:_LONG]] + [f"... {len(value) - _LONG} more"]
        return [_trim(v) for v in value]
    return value


def _found(result: dict) -> Any:
    indexed = result.get("partial_unexpected_index_list")
    if indexed and isinstance(indexed[0], dict) and len(indexed[0]) > 1:
        return _jsonable([{k: v for k, v in item.items() if k != "line"} for item in indexed[:MAX_ROWS_REPORTED]])
    for key in ("partial_missing_list", "partial_unexpected_list"):
        if key in result and result[key]:
            return _jsonable(result[key][:MAX_ROWS_REPORTED])
    if "observed_value" in result:
        return _jsonable(result["observed_value"])
    return None


def validate_delivery(delivery: Delivery, *, election: str | None = None,
                      previous: pd.DataFrame | pa.Table | None = None,
                      suites_dir: Path | None = None) -> ValidationReport:
    """Validate a parsed delivery with the suites; ``previous`` = the unit-level rows of the
    previously accepted non-estimate snapshot of the country (or None): a pandas frame (with
    ``line``), or the snapshot's Arrow table as the intake reads it."""
    meta = delivery.meta
    election = election or meta.election
    monotonic = previous is not None and not meta.is_correction and meta.status != "estimate"
    params = suite_params(election, meta.country, meta.status, monotonic=monotonic)
    table = rows_table(delivery, params)
    rows = _LazyFrame(lambda: delivery.frame(with_line=True))  # pandas rows: only where needed
    units = units_frame_of_table(table, params, slow=rows.frame, codes=delivery.unit_codes())
    # previous: pandas rows, or the snapshot as an Arrow table (compared without pandas frames of the rows)
    arrow = isinstance(previous, pa.Table)
    empty = previous is None or (previous.num_rows == 0 if arrow else previous.empty)
    compared = previous if monotonic and not empty else None
    frames = {"rows": _LazyFrame(lambda: rows_frame(rows.frame(), params), lambda: table),
              "units": units, "country": country_frame(units, params),
              "changes": changes_frame_of_tables(delivery, compared) if arrow and compared is not None
              else changes_frame(rows.frame() if compared is not None else None, compared)}
    report = ValidationReport(election=election, country=meta.country, sequence=meta.sequence,
                              file=delivery.file_name,
                              params={k: v for k, v in params.items() if k != "unit_constituency"})
    # GX (its import alone takes seconds in a fresh task process) only when a suite needs it
    opened: list[_GxSession] = []

    def session() -> _GxSession:
        if not opened:
            opened.append(_session())
            opened[0].forget()
        return opened[0]

    with _GX_LOCK:
        try:
            _run_suites(session, report, frames, params, suites_dir)
        finally:
            for each in opened:
                each.forget()
    return report


# -- the GX context of the process ----------------------------------------------------------------

_GX_LOCK = threading.RLock()
_GX_SESSION: _GxSession | None = None


class _GxSession:
    """The process's ephemeral context with one pandas data source ``delivery``, its dataframe
    asset ``frame`` and the whole-dataframe batch definition ``whole`` (the names appear in the
    results: ``batch_id`` ``delivery-frame``, as when each call made its own context)."""

    def __init__(self) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.pid = os.getpid()
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        self.datasource = self.context.data_sources.add_pandas("delivery")
        self.whole = self.datasource.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")

    def forget(self) -> None:
        """Drop the data source's execution engine: its loaded batches (the frames) and its metric
        cache go with it; the next validation builds a fresh one, as a fresh context would."""
        self.datasource._execution_engine = None  # GX rebuilds it when None (Datasource.get_execution_engine)


def _session() -> _GxSession:
    """The process's :class:`_GxSession` (call with ``_GX_LOCK`` held)."""
    global _GX_SESSION
    if _GX_SESSION is None or _GX_SESSION.pid != os.getpid():
        _GX_SESSION = _GxSession()
    return _GX_SESSION


def _after_fork_in_child() -> None:
    # A lock held by another thread at fork time would never be released in the child.
    global _GX_LOCK, _GX_SESSION
    _GX_LOCK, _GX_SESSION = threading.RLock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _run_suites(session: Callable[[], _GxSession], report: ValidationReport, frames: dict, params: dict,
                suites_dir: Path | None) -> None:
    """Every suite of :data:`SUITE_ORDER` on its frame; ``session`` opens the process's GX context,
    called only for a suite that GX itself must run (none, for a delivery that passes column-wise)."""
    for name in SUITE_ORDER:
        spec = load_suite(name, suites_dir)
        frame = frames[spec["frame"]]
        chosen = [(i, e) for i, e in enumerate(spec["expectations"]) if _active(e, params)]
        if not chosen or frame.empty:
            continue
        described, extras = [], []
        for index, item in chosen:
            item_meta = {**_fill(item.get("meta") or {}, params), "index": index}
            described.append((item["type"], _fill(item.get("kwargs") or {}, params), item_meta))
            extras.append({"severity": item["severity"]} if item.get("severity") else {})
        table = frame.table() if isinstance(frame, _LazyFrame) else None
        if table is not None:
            # Row expectations on a million rows: evaluated column-wise first; GX runs the suite
            # only when one fails (its result names the rows) or cannot be evaluated there.
            if row_checks.verdict([(kind, kwargs) for kind, kwargs, _ in described], table) is True:
                report.suites[name] = _trim(row_checks.passed_suite_json(name, described, table))
                continue
        elif not isinstance(frame, _LazyFrame):
            # The aggregate suites (units, country, changes): GX's fixed cost per expectation is
            # most of their time; evaluated column-wise first, GX only on a failure or a warning.
            if frame_checks.verdict([(kind, kwargs) for kind, kwargs, _ in described], frame) is True:
                report.suites[name] = _trim(row_checks.passed_suite_json(
                    name, described, frame, evaluated_by=FRAME_EVALUATED_BY))
                continue
        if isinstance(frame, _LazyFrame):
            frame = frame.frame()
        import great_expectations as gx
        from great_expectations.expectations.registry import get_expectation_impl
        from great_expectations.validator.v1_validator import Validator

        # GX's expectation objects (pydantic models) only for a suite GX runs.
        expectations = [get_expectation_impl(kind)(**kwargs, meta=item_meta, **extra)
                        for (kind, kwargs, item_meta), extra in zip(described, extras)]
        suite = gx.ExpectationSuite(name=name, expectations=expectations)
        # What Batch.validate does, without building the batch twice (get_batch, then again inside
        # validate) and with one batch for both passes of a failing suite.
        validator = Validator(batch_definition=session().whole, batch_parameters={"dataframe": frame},
                              result_format="BOOLEAN_ONLY")
        # A quick pass first; the details (rows, values) only for a suite with a failure or warning.
        result = validator.validate_expectation_suite(suite)
        if not all(item.success for item in result.results):
            validator.result_format = {
                "result_format": "SUMMARY", "unexpected_index_column_names": INDEX_COLUMNS[spec["frame"]],
                "partial_unexpected_count": MAX_ROWS_REPORTED}
            result = validator.validate_expectation_suite(suite)
        as_json = result.to_json_dict()
        report.suites[name] = _trim(as_json)
        for item in sorted(result.results, key=lambda r: r.expectation_config.meta.get("index", 0)):
            if item.success:
                continue
            config = item.expectation_config
            item_meta = config.meta or {}
            res = item.result or {}
            if item.exception_info and item.exception_info.get("raised_exception"):
                res = {"observed_value": item.exception_info.get("exception_message")}
            lines = [int(r["line"]) for r in res.get("partial_unexpected_index_list") or []
                     if isinstance(r, dict) and r.get("line")]
            severity = str(getattr(config.severity, "value", config.severity) or "critical").lower()
            failure = Failure(rule=item_meta.get("rule", config.type), severity=severity, suite=name,
                              expectation=config.type, column=config.kwargs.get("column") or
                              config.kwargs.get("column_A"), message=item_meta.get("message", config.type),
                              expected=item_meta.get("expected"), found=_found(res),
                              rows=lines[:MAX_ROWS_REPORTED], unexpected_count=res.get("unexpected_count")
                              or res.get("missing_count"))
            (report.warnings if severity == "warning" else report.failures).append(failure)


def render_html(report: dict) -> str:
    """A small self-contained HTML page of a validation report (for the pre-publication site)."""
    esc = lambda v: html.escape(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str))  # noqa: E731
    verdict = "accepted by the suites" if report["success"] else "REFUSED"
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        f"<title>Validation {esc(report['country'])} {report['sequence']:04d}</title>",
        "<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
        ".fail{background:#fde2e2}.warn{background:#fff4cc}.ok{color:#2a7a2a}</style>",
        f"<h1>{esc(report['election'])} {esc(report['country'])} delivery {report['sequence']:04d}: {verdict}</h1>",
        f"<p>File <code>{esc(report.get('file') or '')}</code></p>",
    ]
    for title, items, css in (("Failures", report["failures"], "fail"), ("Warnings", report["warnings"], "warn")):
        if items:
            parts.append(f"<h2>{title}</h2><table><tr><th>rule</th><th>message</th><th>lines</th>"
                         "<th>expected</th><th>found</th><th>count</th></tr>")
            for item in items:
                parts.append(f"<tr class={css}><td>{esc(item['rule'])}</td><td>{esc(item['message'])}</td>"
                             f"<td>{esc(', '.join(map(str, item['rows'])))}</td><td>{esc(item['expected'])}</td>"
                             f"<td>{esc(item['found'])}</td><td>{esc(item['unexpected_count'])}</td></tr>")
            parts.append("</table>")
    for name, suite in report["suites"].items():
        parts.append(f"<h2>Suite {esc(name)}</h2><table><tr><th></th><th>expectation</th><th>rule</th>"
                     "<th>kwargs</th><th>result</th></tr>")
        for item in suite.get("results", []):
            config = item.get("expectation_config", {})
            ok = item.get("success")
            kwargs = {k: v for k, v in (config.get("kwargs") or {}).items() if k != "batch_id"}
            result = {k: v for k, v in (item.get("result") or {}).items()
                      if k in ("observed_value", "unexpected_count", "element_count", "partial_unexpected_list",
                               "partial_missing_list")}
            parts.append(f"<tr class={'ok' if ok else 'fail'}><td>{'✓' if ok else '✗'}</td>"
                         f"<td>{esc(config.get('type', ''))}</td><td>{esc((config.get('meta') or {}).get('rule', ''))}</td>"
                         f"<td><code>{esc(kwargs)}</code></td><td><code>{esc(result)}</code></td></tr>")
        parts.append("</table>")
    parts.append(f"<h2>Parameters</h2><pre>{esc(json.dumps(report['params'], indent=1, ensure_ascii=False))}</pre>")
    return "\n".join(parts) + "\n</html>\n"


__all__ = ["Failure", "ValidationReport", "load_suite", "render_html", "suite_params", "validate_delivery",
           "units_frame", "changes_frame", "SUITES_DIR", "STATUSES"]
