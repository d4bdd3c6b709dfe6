"""The values passed between the stages of an allocation.

* :class:`Totals`: a country's turnout figures (registered, voters, valid, blank, invalid), any of
  which may be unknown on election night;
* :class:`MethodInput`: what a method of :mod:`transforms.registry` receives — the typed rule, where
  it runs, the number of seats, the votes of the lists taking part (the threshold already applied)
  and of all lists, the flags of the table (independents, minority lists, alliances) and the lots;
* :class:`Apportionment`: what every method returns — seats per list, ties, step log, data gaps,
  and ``info`` (method-specific exact figures, e.g. remainders, for later stages).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from transforms.tie import Lots, Tie, Where

if TYPE_CHECKING:  # pragma: no cover
    from transforms.rules import CountryRule

TOTAL_FIELDS = ("registered", "voters", "valid", "blank", "invalid")
_new = object.__new__


@dataclass(frozen=True)
class Totals:
    """Turnout figures of one country; ``None`` = not (yet) known."""

    registered: int | None = None
    voters: int | None = None
    valid: int | None = None
    blank: int | None = None
    invalid: int | None = None

    @classmethod
    def from_mapping(cls, data: Mapping | None) -> Totals:
        if not data:
            return cls()
        values = {}
        for name in TOTAL_FIELDS:
            value = data.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                values[name] = None
                continue
            if isinstance(value, float):
                if value != value:  # NaN from pandas
                    values[name] = None
                    continue
                if not value.is_integer():
                    raise ValueError(f"totals[{name!r}] = {value!r} is not a whole number")
            values[name] = int(value)
            if values[name] < 0:
                raise ValueError(f"totals[{name!r}] = {value!r} is negative")
        return cls(**values)

    @property
    def ballots_cast(self) -> int | None:
        """Voters; or valid + blank + invalid when voters is not given."""
        if self.voters is not None:
            return self.voters
        if self.valid is not None and self.invalid is not None:
            return self.valid + self.invalid + (self.blank or 0)
        return None

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in TOTAL_FIELDS}


@dataclass
class Apportionment:
    """Result of one allocation stage."""

    seats: dict[str, int]
    ties: list[Tie] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    @property
    def allocated(self) -> int:
        return sum(self.seats.values())

    def absorb(self, part: "Apportionment") -> None:
        """Append a sub-allocation's steps, ties and gaps (its seats are the caller's to place)."""
        self.steps.extend(part.steps)
        self.ties.extend(part.ties)
        self.gaps.extend(part.gaps)

    @classmethod
    def plain(cls, seats: dict[str, int], info: dict) -> "Apportionment":
        """A result without ties, steps or gaps, built without the dataclass ``__init__`` (the hot path
        of the methods called with ``log=False``; equal to ``Apportionment(seats, info=info)``).
        Plain attribute stores: cheaper than filling ``__dict__``, which makes Python build it."""
        result = _new(cls)
        result.seats = seats
        result.ties = []
        result.steps = []
        result.gaps = []
        result.info = info
        return result


@dataclass(frozen=True)
class MethodInput:
    rule: CountryRule
    where: Where
    seats: int
    votes: dict[str, int]
    all_votes: dict[str, int]
    totals: Totals = Totals()
    independents: frozenset[str] = frozenset()
    minority: frozenset[str] = frozenset()
    alliances: Mapping[str, str] = field(default_factory=dict)
    lots: Lots | None = None
    log: bool = True

    @property
    def caps(self) -> dict[str, int]:
        """An independent candidate can hold one seat at most."""
        return {i: 1 for i in self.independents if i in self.votes}
