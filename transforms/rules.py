"""Each member state's electoral law as typed data, from its country file or an older rules.csv.

A definition holds one file per country, ``elections/<id>/countries/<CC>.toml``
(:mod:`transforms.country_file` flattens it; docs/NEW_ELECTION.md shows one), or, in the older
tabular form, ``elections/<id>/rules.csv``: one row per country (``constituency`` empty) and one row
per constituency where the law has them. Both become the same rows of strings (a
:class:`RuleRow` remembers the file and the key or row it came from), and :func:`parse_rules` turns
those rows into :class:`CountryRule` objects through one validation path: it fails with a
:class:`~transforms.errors.RuleError` that names the file, the key (country file) or the row and
column (rules.csv), and the rule broken.

Columns (machine-readable; empty = not applicable; the country file's key for each is in
:data:`transforms.country_file.KEYS`):

=============================== ==========================================================================
``country``                     ISO code as the EU uses it (``EL``, ``UK``)
``constituency``                empty on the country row; the constituency/college/region name otherwise
``allocation_level``            country row: ``national`` (one allocation on national totals; constituency
                                rows, if any, receive a ``distribution`` or are STV) or ``constituency``
                                (every constituency row allocates its own seats); constituency rows:
                                ``constituency``
``seats``                       seats of the country (as seated) / of the constituency (empty when a
                                distribution decides them, as in Italy and Poland)
``method``                      name in :data:`transforms.registry.METHODS`; on a constituency-level
                                country row, the default for its constituency rows
``threshold_percent``           e.g. ``5``, ``1.8`` (exact decimal)
``threshold_quotas``            a threshold of whole quotas instead (NL kiesdeler, BG quota): ``1``
``threshold_base``              ``valid_votes`` | ``votes_cast`` | ``valid_ballot_envelopes`` | ``list_votes``
``threshold_inclusive``         ``1``: a list exactly at the line qualifies; ``0``: it must exceed it
``threshold_fill_percent``      LT: admit further lists until the admitted ones have this share (60)
``independent_threshold_quotas`` RO: an independent needs this many quotas (base / seats)
``independent_threshold_base``  base of that quota (default: ``threshold_base``)
``quota``                       ``hare`` | ``droop`` | ``hagenbach_bischoff`` | ``imperiali`` (largest remainder)
``quota_rounding``              ``exact`` | ``floor`` | ``ceil`` | ``round_half_up`` | ``floor_plus_one``
``quota_base``                  ``participating_votes`` | ``list_votes`` | ``valid_votes``
``first_divisor``               modified Sainte-Laguë: ``1.2``
``alliances``                   ``none`` | ``dhondt`` (DK, FI: seats to alliances, then inside) |
                                ``minority_link`` (IT: a ``minority=1`` list counts with its linked list)
``minority_min_votes``          IT: 50000
``distribution``                national seats -> constituencies: ``hare_niemeyer_by_list`` (PL) |
                                ``italy_list_quotient`` (IT)
``deferred_seats``              2019 Brexit specials: seats allocated on top and not seated (IT 3, SK 1;
                                on IE STV constituency rows: elected, seated only in 2020)
``deferred_rule``               ``smallest_remainder`` (SK § 220a) | ``smallest_remainder_used`` (IT) |
                                ``last_elected`` (STV, informational)
``tie_break``                   ``lot`` | ``more_votes_then_lot`` (the law's tie-break before the lot)
``constituencies``, ``special_notes``, ``source``   human text, kept as is
=============================== ==========================================================================
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction

from transforms.errors import RuleError
from transforms.exact import decimal_str, parse_decimal
from transforms.quota import QUOTAS, ROUNDINGS
from transforms.threshold import BASES, ThresholdSpec
from transforms.tie import TIE_BREAKS

COLUMNS = (
    "country", "constituency", "allocation_level", "seats", "method",
    "threshold_percent", "threshold_quotas", "threshold_base", "threshold_inclusive", "threshold_fill_percent",
    "independent_threshold_quotas", "independent_threshold_base",
    "quota", "quota_rounding", "quota_base", "first_divisor",
    "alliances", "minority_min_votes", "distribution", "deferred_seats", "deferred_rule", "tie_break",
    "constituencies", "special_notes", "source",
)
REQUIRED = ("country", "constituency", "allocation_level", "seats", "method", "threshold_percent",
            "threshold_base", "threshold_inclusive")
LEVELS = ("national", "constituency")
ALLIANCES = ("none", "dhondt", "minority_link")
QUOTA_BASES = ("participating_votes", "list_votes", "valid_votes")
DEFERRED_RULES = ("smallest_remainder", "smallest_remainder_used", "last_elected")


class RuleRow(dict):
    """One rule's fields as strings (the columns above), with where they were written.

    ``file``: ``rules.csv`` or ``countries/DE.toml``; ``written_as``: for a country file, the key each column
    was written under (``threshold_percent`` -> ``threshold.percent``), so that an error names the key
    the author wrote; None for a rules.csv row, whose errors name the row and the column; ``number``:
    a rules.csv row's number (1 = first data row).
    """

    def __init__(self, fields: Mapping[str, str], *, file: str = "rules.csv",
                 written_as: Mapping[str, str] | None = None, number: int = 0) -> None:
        super().__init__(fields)
        self.file = file
        self.written_as = dict(written_as) if written_as is not None else None
        self.number = number


@dataclass(frozen=True)
class CountryRule:
    """A country's typed law (a country file, or a country row of rules.csv); its constituencies
    (constituency tables or rows) in ``constituencies``."""

    country: str
    constituency: str = ""
    allocation_level: str = "national"
    seats: int | None = None
    method: str = ""
    threshold: ThresholdSpec | None = None
    independent_threshold: ThresholdSpec | None = None
    quota: str = ""
    quota_rounding: str = "exact"
    quota_base: str = ""
    first_divisor: Fraction | None = None
    alliances: str = "none"
    minority_min_votes: int | None = None
    distribution: str = ""
    deferred_seats: int = 0
    deferred_rule: str = ""
    tie_break: str = "lot"
    constituencies_text: str = ""
    special_notes: str = ""
    source: str = ""
    row: int = 0
    constituencies: tuple[CountryRule, ...] = field(default=())

    @property
    def label(self) -> str:
        return f"{self.country}{' / ' + self.constituency if self.constituency else ''}"

    @property
    def allocated_seats(self) -> int:
        """Seats the allocation is made for (seated + deferred, e.g. 76 for Italy 2019)."""
        return (self.seats or 0) + self.deferred_seats

    def constituency_rule(self, name: str) -> CountryRule | None:
        for c in self.constituencies:
            if c.constituency == name:
                return c
        return None

    def summary(self) -> dict:
        """The ``rule`` object of the bundle: method, threshold, and the law in words."""
        t = self.threshold
        return {
            "method": self.method,
            "threshold_percent": decimal_str(t.percent) if t and t.percent is not None else "",
            "threshold_base": t.base if t else "",
            "threshold_inclusive": ("yes" if t.inclusive else "no") if t else "",
            "allocation_level": self.allocation_level,
            "text": self.special_notes,
        }


def _fail(row_no: int, row: Mapping[str, str], column: str, problem: str) -> RuleError:
    """The error for ``column`` of ``row``, placed as its author wrote it: ``countries/DE.toml key
    threshold.percent (DE): ...`` for a country file, ``rules.csv row 3 (DE), column 'threshold_percent':
    ...`` for a rules.csv row."""
    where = f"{row.get('country', '?')}{' / ' + row['constituency'] if row.get('constituency') else ''}"
    written_as = getattr(row, "written_as", None)
    if written_as is not None:
        file, key = row.file, written_as.get(column, column)
        return RuleError(f"{file} key {key} ({where}): {problem}", file=file, key=key,
                         detail=f"({where}): {problem}")
    file = getattr(row, "file", "rules.csv")
    return RuleError(f"{file} row {row_no} ({where}), column {column!r}: {problem}", file=file, row=row_no,
                     detail=f"({where}), column {column!r}: {problem}")


def _text(row: Mapping[str, str], column: str) -> str:
    value = row.get(column)
    return (value or "").strip()


def _int(row_no: int, row: Mapping[str, str], column: str, *, minimum: int = 0) -> int | None:
    text = _text(row, column)
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise _fail(row_no, row, column, f"{text!r} is not a whole number") from None
    if value < minimum:
        raise _fail(row_no, row, column, f"{value} is below {minimum}")
    return value


def _dec(row_no: int, row: Mapping[str, str], column: str, *, low: Fraction, high: Fraction | None
         ) -> Fraction | None:
    text = _text(row, column)
    if not text:
        return None
    try:
        value = parse_decimal(text)
    except (ValueError, ZeroDivisionError):
        raise _fail(row_no, row, column, f"{text!r} is not a decimal number") from None
    if value <= low or (high is not None and value > high):
        raise _fail(row_no, row, column, f"{text} is out of range ({low}, {high}]")
    return value


def _choice(row_no: int, row: Mapping[str, str], column: str, choices: Iterable[str], default: str) -> str:
    text = _text(row, column) or default
    choices = tuple(choices)
    if text not in choices:
        raise _fail(row_no, row, column, f"{text!r} is not one of {', '.join(c for c in choices if c)}")
    return text


def _flag(row_no: int, row: Mapping[str, str], column: str) -> bool | None:
    text = _text(row, column)
    if not text:
        return None
    if text in {"1", "yes", "true"}:
        return True
    if text in {"0", "no", "false"}:
        return False
    raise _fail(row_no, row, column, f"{text!r} is not 1 or 0")


def _threshold(row_no: int, row: Mapping[str, str]) -> ThresholdSpec | None:
    percent = _dec(row_no, row, "threshold_percent", low=Fraction(0), high=Fraction(100))
    quotas = _dec(row_no, row, "threshold_quotas", low=Fraction(0), high=None)
    fill = _dec(row_no, row, "threshold_fill_percent", low=Fraction(0), high=Fraction(100))
    base = _text(row, "threshold_base")
    inclusive = _flag(row_no, row, "threshold_inclusive")
    if percent is None and quotas is None:
        if fill is not None:
            raise _fail(row_no, row, "threshold_fill_percent", "needs a threshold")
        return None
    if percent is not None and quotas is not None:
        raise _fail(row_no, row, "threshold_quotas", "give threshold_percent or threshold_quotas, not both")
    if base not in BASES:
        raise _fail(row_no, row, "threshold_base", f"{base!r} is not one of {', '.join(BASES)}")
    if inclusive is None:
        raise _fail(row_no, row, "threshold_inclusive",
                    "must say whether a list exactly at the line qualifies (1) or not (0)")
    return ThresholdSpec(base=base, inclusive=inclusive, percent=percent, quotas=quotas, fill_percent=fill)


def _parse_row(row_no: int, row: Mapping[str, str], methods: Mapping, distributions: Mapping) -> CountryRule:
    for column in REQUIRED:
        if column not in row:
            raise _fail(row_no, row, column, "missing column")
    country = _text(row, "country")
    if not country:
        raise _fail(row_no, row, "country", "empty")
    constituency = _text(row, "constituency")
    level = _choice(row_no, row, "allocation_level", LEVELS, "national" if not constituency else "constituency")
    if constituency and level != "constituency":
        raise _fail(row_no, row, "allocation_level", "a constituency row has allocation_level 'constituency'")
    seats = _int(row_no, row, "seats")
    if not constituency and seats is None:
        raise _fail(row_no, row, "seats", "the country row needs its number of seats")
    method = _text(row, "method")
    if method and method not in methods:
        raise _fail(row_no, row, "method", f"{method!r} is not a registered method "
                                           f"(known: {', '.join(sorted(methods))})")
    distribution = _text(row, "distribution")
    if distribution and distribution not in distributions:
        raise _fail(row_no, row, "distribution", f"{distribution!r} is not a registered distribution "
                                                 f"(known: {', '.join(sorted(distributions))})")
    independent_quotas = _dec(row_no, row, "independent_threshold_quotas", low=Fraction(0), high=None)
    independent = None
    threshold = _threshold(row_no, row)
    if independent_quotas is not None:
        base = _text(row, "independent_threshold_base") or _text(row, "threshold_base")
        if base not in BASES:
            raise _fail(row_no, row, "independent_threshold_base", f"{base!r} is not one of {', '.join(BASES)}")
        inclusive = _flag(row_no, row, "threshold_inclusive")
        independent = ThresholdSpec(base=base, inclusive=True if inclusive is None else inclusive,
                                    quotas=independent_quotas)
    quota = _text(row, "quota")
    if quota and quota not in QUOTAS:
        raise _fail(row_no, row, "quota", f"{quota!r} is not one of {', '.join(QUOTAS)}")
    rounding = _choice(row_no, row, "quota_rounding", ROUNDINGS, "exact")
    quota_base = _choice(row_no, row, "quota_base", ("",) + QUOTA_BASES, "")
    first_divisor = _dec(row_no, row, "first_divisor", low=Fraction(0), high=None)
    alliances = _choice(row_no, row, "alliances", ALLIANCES, "none")
    minority_min = _int(row_no, row, "minority_min_votes")
    deferred = _int(row_no, row, "deferred_seats") or 0
    deferred_rule = _choice(row_no, row, "deferred_rule", ("",) + DEFERRED_RULES, "")
    if deferred and not deferred_rule:
        raise _fail(row_no, row, "deferred_rule", "deferred_seats needs a deferred_rule")
    tie_break = _choice(row_no, row, "tie_break", TIE_BREAKS, "lot")
    rule = CountryRule(
        country=country, constituency=constituency, allocation_level=level, seats=seats, method=method,
        threshold=threshold, independent_threshold=independent, quota=quota, quota_rounding=rounding,
        quota_base=quota_base, first_divisor=first_divisor, alliances=alliances, minority_min_votes=minority_min,
        distribution=distribution, deferred_seats=deferred, deferred_rule=deferred_rule, tie_break=tie_break,
        constituencies_text=_text(row, "constituencies"), special_notes=_text(row, "special_notes"),
        source=_text(row, "source"), row=row_no)
    if method:
        spec = methods[method]
        for column in spec.requires:
            if not _text(row, column):
                raise _fail(row_no, row, column, f"method {method!r} needs it")
        if deferred and deferred_rule not in spec.deferral:
            raise _fail(row_no, row, "deferred_rule",
                        f"method {method!r} does not support {deferred_rule!r} "
                        f"(supports: {', '.join(spec.deferral) or 'none'})")
    return rule


def parse_rules(rows: Iterable[Mapping[str, str]]) -> dict[str, CountryRule]:
    """Typed rules per country code from the rows of the country files or of rules.csv (see the
    module docstring)."""
    from transforms.registry import DISTRIBUTIONS, METHODS  # the whitelist; imported here to avoid a cycle

    countries: dict[str, CountryRule] = {}
    country_rows: dict[str, Mapping[str, str]] = {}
    children: dict[str, list[CountryRule]] = {}
    child_rows: dict[str, list[tuple[int, Mapping[str, str]]]] = {}
    for row_no, row in enumerate(rows, start=1):
        rule = _parse_row(row_no, row, METHODS, DISTRIBUTIONS)
        if rule.constituency:
            names = [c.constituency for c in children.get(rule.country, [])]
            if rule.constituency in names:
                raise _fail(row_no, row, "constituency", "appears twice")
            children.setdefault(rule.country, []).append(rule)
            child_rows.setdefault(rule.country, []).append((row_no, row))
        else:
            if rule.country in countries:
                raise _fail(row_no, row, "country", "a second country row for the same country")
            if not rule.method:
                if rule.allocation_level == "national":
                    raise _fail(row_no, row, "method", "a national allocation needs a method")
            countries[rule.country] = rule
            country_rows[rule.country] = row
    result: dict[str, CountryRule] = {}
    for cc, rule in countries.items():
        kids = children.pop(cc, [])
        rows_of = dict((r.constituency, (n, raw)) for r, (n, raw) in zip(kids, child_rows.get(cc, [])))
        fixed: list[CountryRule] = []
        for kid in kids:
            n, raw = rows_of[kid.constituency]
            if rule.allocation_level == "constituency":
                method = kid.method or rule.method
                if not method:
                    raise _fail(n, raw, "method", "no method here nor on the country row")
                if kid.seats is None:
                    raise _fail(n, raw, "seats", "a constituency that allocates its own seats needs its number")
                spec = METHODS[method]
                for column in spec.requires:
                    if not _text(raw, column) and not getattr(rule, column, None):
                        raise _fail(n, raw, column, f"method {method!r} needs it")
                kid = replace(kid, method=method,
                              tie_break=kid.tie_break if _text(raw, "tie_break") else rule.tie_break)
            fixed.append(kid)
        rule = replace(rule, constituencies=tuple(fixed))
        if rule.allocation_level == "constituency":
            if not fixed:
                raise _fail(rule.row, country_rows[cc], "allocation_level", "'constituency' but no constituency rows")
            seated = sum((k.seats or 0) - k.deferred_seats for k in fixed)
            if seated != rule.seats:
                raise _fail(rule.row, country_rows[cc], "seats",
                            f"{rule.seats}, but the constituency rows seat {seated}")
        elif fixed:
            if rule.distribution:
                for kid in fixed:
                    if kid.seats is not None:
                        n, raw = rows_of[kid.constituency]
                        raise _fail(n, raw, "seats", f"seats are decided by the distribution "
                                                     f"{rule.distribution!r}; leave empty")
            elif METHODS[rule.method].kind == "declared":
                given = [k for k in fixed if k.seats is not None]
                if given and sum(k.seats - k.deferred_seats for k in given) != rule.seats:
                    raise _fail(rule.row, country_rows[cc], "seats",
                                f"{rule.seats}, but the constituency rows seat "
                                f"{sum(k.seats - k.deferred_seats for k in given)}")
            else:
                raise _fail(rule.row, country_rows[cc], "distribution",
                            "constituency rows under a national allocation need a distribution")
        elif rule.distribution:
            raise _fail(rule.row, country_rows[cc], "distribution", "a distribution needs constituency rows")
        result[cc] = rule
    for cc, kids in children.items():
        n, raw = child_rows[cc][0]
        raise _fail(n, raw, "country", f"constituency row for {cc!r}, which has no country row")
    return result
