"""Legal thresholds: who takes part in the allocation.

A threshold has a *line* and a *base*:

* the line is ``percent`` % of the base (5 % of the valid votes in France), or ``quotas`` whole
  quotas of base / seats (the Netherlands' *kiesdeler* = valid votes / 31; Bulgaria's quota =
  votes for lists and independents / 17; Romania's electoral coefficient for independents);
* the base is named in the rule and resolved against the country's totals:

  ====================== =====================================================================
  ``valid_votes``        valid votes (blank ballots excluded, as the turnout table gives them)
  ``votes_cast``         ballots cast, invalid included (Croatia, Lithuania)
  ``valid_ballot_envelopes`` Latvia's "votes cast" = valid ballot envelopes; between the valid
                         votes and the ballots cast, not in the standard turnout table
  ``list_votes``         the votes of all lists (and independents) in the results table
  ====================== =====================================================================

* ``inclusive``: whether a list *exactly at* the line qualifies. Each law says so ("at least 5 %"
  -> inclusive; "more than 5 %" -> not). Tests exercise every threshold at the line and one vote
  below.

Unknown bases are not guessed. When the exact base is not available (no valid-vote count yet, or a
base the table does not carry), it is bounded — valid votes ≥ the sum of the list votes, ballots cast
≥ valid votes — and a list is ``pass`` if it clears the line even at the upper bound, ``fail`` if it
misses it even at the lower bound, and otherwise ``undecided``. :mod:`transforms.national` then tries
every outcome for the undecided lists and publishes the seats only if they do not depend on it.

Lithuania's fill rule (``fill_percent``): if the lists above the line have less than 60 % of the
base between them, further lists are admitted in order of votes until 60 % is reached.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from transforms.apportionment import Totals
from transforms.exact import decimal_str, frac_str
from transforms.tie import Where

BASES = ("valid_votes", "votes_cast", "valid_ballot_envelopes", "list_votes")

BASE_TEXT = {
    "valid_votes": "valid votes",
    "votes_cast": "ballots cast (invalid included)",
    "valid_ballot_envelopes": "valid ballot envelopes",
    "list_votes": "votes of all lists and independents in the table",
}


@dataclass(frozen=True)
class ThresholdSpec:
    """A threshold: ``percent`` % (or ``quotas`` × base/seats) of ``base``; ``inclusive`` at the line."""

    base: str
    inclusive: bool
    percent: Fraction | None = None
    quotas: Fraction | None = None
    fill_percent: Fraction | None = None

    def line(self, base_votes: int, seats: int) -> Fraction:
        if self.percent is not None:
            return self.percent * base_votes / 100
        assert self.quotas is not None
        return self.quotas * Fraction(base_votes, seats)

    def describe(self) -> str:
        size = f"{decimal_str(self.percent)} %" if self.percent is not None else \
            (f"{frac_str(self.quotas)} quota(s) (base / seats)")
        return (f"{size} of the {BASE_TEXT.get(self.base, self.base)}, "
                f"{'a list exactly at the line qualifies' if self.inclusive else 'a list must exceed the line'}")


@dataclass
class ThresholdOutcome:
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)


def base_bounds(base: str, totals: Totals, list_votes_total: int) -> tuple[int | None, int | None]:
    """(lower, upper) bounds of the base; equal when it is known exactly; None = unbounded/unknown."""
    cast = totals.ballots_cast
    if base == "list_votes":
        return list_votes_total, list_votes_total
    if base == "valid_votes":
        if totals.valid is not None:
            return totals.valid, totals.valid
        return list_votes_total, cast
    if base == "votes_cast":
        if cast is not None:
            return cast, cast
        return (totals.valid if totals.valid is not None else list_votes_total), None
    if base == "valid_ballot_envelopes":
        low = totals.valid if totals.valid is not None else list_votes_total
        return low, cast
    raise ValueError(f"unknown threshold base {base!r} (known: {', '.join(BASES)})")


def _qualifies(votes: int, line: Fraction, inclusive: bool) -> bool:
    return votes >= line if inclusive else votes > line


def apply_threshold(spec: ThresholdSpec, votes: Mapping[str, int], *, totals: Totals, seats: int,
                    where: Where, list_votes_total: int | None = None, log: bool = True,
                    label: str = "threshold") -> ThresholdOutcome:
    """Sort the lists of ``votes`` into passed / failed / undecided against ``spec``."""
    out = ThresholdOutcome()
    lvt = sum(votes.values()) if list_votes_total is None else list_votes_total
    low, high = base_bounds(spec.base, totals, lvt)
    if low is None:
        out.undecided = list(votes)
        out.gaps.append(f"{where.country}: the threshold base ({BASE_TEXT.get(spec.base, spec.base)}) is unknown")
        return out
    line_low = spec.line(low, seats)
    line_high = spec.line(high, seats) if high is not None else None
    exact = high is not None and low == high
    base_text = str(low) if exact else f"{low}..{high if high is not None else '?'}"
    line_text = frac_str(line_low) if exact else \
        f"{decimal_str(line_low)}..{decimal_str(line_high) if line_high is not None else '?'}"
    for i, x in votes.items():
        if line_high is not None and _qualifies(x, line_high, spec.inclusive):
            out.passed.append(i)
            result = "pass"
        elif not _qualifies(x, line_low, spec.inclusive):
            out.failed.append(i)
            result = "fail"
        else:
            out.undecided.append(i)
            result = "undecided"
        if log:
            step = {"kind": "threshold", "stage": where.stage, "constituency": where.constituency,
                    "test": label, "list_id": i, "votes": x, "base": spec.base, "base_votes": base_text,
                    "line": line_text,
                    "line_decimal": decimal_str(line_low), "inclusive": "yes" if spec.inclusive else "no",
                    "result": result}
            if exact and low:
                step["share_percent"] = decimal_str(Fraction(100 * x, low), 4)
            out.steps.append(step)
    if spec.fill_percent is not None:
        if not exact:
            out.gaps.append(f"{where.country}: the {decimal_str(spec.fill_percent)} % admission rule needs the "
                            f"exact {BASE_TEXT.get(spec.base, spec.base)}")
            return out
        fill_line = spec.fill_percent * low / 100
        admitted = sum(votes[i] for i in out.passed)
        if admitted < fill_line:
            for i in sorted(out.failed, key=lambda j: -votes[j]):
                if admitted >= fill_line:
                    break
                out.failed.remove(i)
                out.passed.append(i)
                admitted += votes[i]
                out.steps.append({"kind": "threshold", "stage": where.stage, "constituency": where.constituency,
                                  "test": "admission to reach the minimum share", "list_id": i, "votes": votes[i],
                                  "admitted_total": admitted, "fill_line": frac_str(fill_line),
                                  "result": "pass"})
            order = {i: k for k, i in enumerate(votes)}
            out.passed.sort(key=order.__getitem__)
        elif log:
            out.steps.append({"kind": "threshold", "stage": where.stage, "constituency": where.constituency,
                              "test": "minimum share of the admitted lists", "admitted_total": admitted,
                              "fill_line": frac_str(fill_line), "result": "reached"})
    return out
