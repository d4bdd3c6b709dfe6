"""Highest averages (divisor methods), exact and fast.

A divisor method divides each list's votes by a series of divisors d(0) < d(1) < d(2) < ... and
gives the seats, one by one, to the largest quotients ``votes / d(seats already won)``. Equivalently
there is a number λ (the *electoral divisor*, Wahlzahl) such that each list gets as many seats as it
has quotients above λ. The series used by the member states:

* D'Hondt: 1, 2, 3, 4, ...                      (:mod:`transforms.dhondt`)
* Sainte-Laguë / Webster / Schepers: 1, 3, 5, 7, ... (:mod:`transforms.sainte_lague`)
* modified Sainte-Laguë (Sweden): 1.2, 3, 5, 7, ...

Every series here is ``d(k) = step·k + offset`` scaled to integers (optionally with a different
first divisor, kept as an integer on the same scale: 1.2, 3, 5 -> 6, 15, 25 on scale 5), so a
quotient is the exact fraction ``votes·scale / d`` and two quotients are compared by
cross-multiplication of integers — never floats.

Instead of awarding the seats one by one (``seats × lists`` work), the engine starts from the seats
each list has above an estimated divisor λ₀ = V / (S + L·(offset/step − ½)) — a consistent partial
allocation, since every quotient counted is above λ₀ and every other one is not — and then adds the
next largest quotients (or takes back the smallest counted ones), with a heap when more than a few
are needed, until exactly S seats are given. This is exact: the result is the S largest quotients,
whatever the estimate.

Comparisons use exact integer keys ``votes·K // d`` with ``K = d_max²`` (d_max the largest divisor
that can occur, ``d(S)``). For divisors d1, d2 ≤ d_max two different quotients differ by at least
``1/(d1·d2) ≥ 1/K``, so their keys differ in the same direction, and equal quotients have equal keys:
the keys order the quotients exactly as cross-multiplication would, and equality of keys is an exact
tie. Python compares these integers in C, which keeps the engine fast without any float.

Without caps and without the step log (most calls), :func:`_plain` answers first: the same estimate,
with the boundary found in the same pass and the seats the estimate is off adjusted from it, by
cross-multiplication of small integers (cheaper in Python than the keys); it leaves every case with a
decision to take (a tie, bad input, an estimate far off) to the general path. ``highest_averages`` and
the general path are separate functions because the general path's comprehensions make a dozen of its
locals closure cells, created on every call.

Caps (an independent candidate holds one seat at most) remove a list from the contest once reached.
Ties: if the smallest winning quotient equals the largest losing one, the lists concerned are tied
for the last seat(s); :func:`transforms.tie.decide` applies the law's tie-break and otherwise returns
a :class:`~transforms.tie.Tie` and leaves the contested seats unallocated.
"""
from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from itertools import compress
from operator import countOf, not_

from transforms.apportionment import Apportionment
from transforms.exact import decimal_str, divisor_str, frac_str, ratio_decimal, ratio_str
from transforms.tie import Lots, Where, decide


@dataclass(frozen=True)
class DivisorSeries:
    """Divisors ``d(k) = (step·k + offset) / scale``, with ``d(0) = first / scale`` if ``first`` is set."""

    name: str
    step: int
    offset: int
    scale: int = 1
    first: int | None = None

    def __post_init__(self) -> None:
        if self.step <= 0 or self.offset <= 0 or self.scale <= 0:
            raise ValueError(f"divisor series {self.name}: step, offset and scale must be positive")
        if self.first is not None and not 0 < self.first <= self.step + self.offset:
            raise ValueError(f"divisor series {self.name}: the first divisor must be in (0, d(1)]")

    def scaled(self, k: int) -> int:
        if k == 0 and self.first is not None:
            return self.first
        return self.step * k + self.offset

    def divisor(self, k: int) -> Fraction:
        return Fraction(self.scaled(k), self.scale)

    def describe(self) -> str:
        return ", ".join(divisor_str(self.divisor(k)) for k in range(4)) + ", ..."


DHONDT = DivisorSeries("D'Hondt", 1, 1)
SAINTE_LAGUE = DivisorSeries("Sainte-Laguë", 2, 1)


def modified_sainte_lague(first: Fraction) -> DivisorSeries:
    """Sainte-Laguë with the first divisor replaced (Sweden: 1.2)."""
    first = Fraction(first)
    den = first.denominator
    return DivisorSeries(f"modified Sainte-Laguë (first divisor {divisor_str(first)})", 2 * den, den, den,
                         first.numerator)


_NOWHERE = Where("")


def _bad_input(votes: Mapping[str, int], seats: object, where: Where | None) -> None:
    where = where or _NOWHERE
    for i, x in votes.items():
        if type(x) is not int or x < 0:
            raise where.error(f"votes of {i!r} must be a non-negative int, not {x!r}")
    raise where.error(f"seats must be a non-negative int, not {seats!r}")


def _estimate(v: list[int], cap: list[int] | None, p: int, q: int, a: int, b: int, first: int) -> tuple[list[int], int]:
    """Seats above λ = p/q, i.e. #{k : v / d(k) > λ}, exactly (capped); and their sum."""
    pa = p * a
    shift = p * b - pa + 1
    pf = p * first
    s = [0] * len(v)
    given = 0
    for k, x in enumerate(v):
        xq = x * q
        if xq > pf:
            g = (xq - shift) // pa
            if g < 1:
                g = 1
            if cap is not None and g > cap[k]:
                g = cap[k]
            s[k] = g
            given += g
    return s, given


_MAX_STEPS = 3  # seats the fast path adjusts, one scan each; beyond, the general path (heap) is used
_MANY_LISTS = 16  # above this many lists, the fast path refines its estimate first
_MAX_LISTS = 100  # above this many, the estimate's random error (~√lists/3 seats) usually exceeds _MAX_STEPS


def _plain(votes: Mapping[str, int], seats: int, series: DivisorSeries) -> Apportionment | None:
    """The fast path of :func:`highest_averages` without caps and without the step log.

    The same arithmetic as the general path, in fewer passes over the lists. One pass gives every list
    its seats above the estimated divisor λ (exact, as :func:`_estimate`) and finds, on the way, the
    smallest quotient held and the largest one not held (cross-multiplication; the first list in table
    order among equal quotients). The estimate is consistent — every quotient held is above λ, every
    other one is not — so a missing seat goes to that largest unheld quotient, which then is the
    smallest held one, and one more pass over the lists holding seats finds the new largest unheld
    quotient; a seat too many, symmetrically. The seats are kept in the result dict itself.

    Returns None where the general path must decide: bad input, no seats or no votes, a first divisor
    below the offset, an estimate more than ``_MAX_STEPS`` seats off, or a tie at the boundary; and for
    more than ``_MAX_LISTS`` lists, where the general path's heap does better.
    """
    if type(votes) is not dict:
        votes = dict(votes)
    values = votes.values()
    n = len(votes)
    # bool and other int subclasses are rejected like floats (the general path names the bad value);
    # a negative vote count is caught in the pass below (such a list never holds a seat there)
    if (type(seats) is not int or seats <= 0 or not n or n > _MAX_LISTS
            or countOf(map(type, values), int) != n):
        return None
    total_votes = sum(values)
    a, b, first = series.step, series.offset, series.first
    if first is None:
        first = b
    elif first < b:
        return None  # the seat count below assumes d(0) >= offset (the general path clamps); no law differs
    if total_votes <= 0:
        return None
    c = b - a  # d(g - 1) = a·g + c for g >= 2
    # λ = p/q as in the general path
    p = 2 * total_votes
    q = 2 * a * seats + (n - countOf(values, 0)) * (2 * b - a)
    if q <= 0:
        q = 2 * a * seats
    if n > _MANY_LISTS:
        # many lists, most of them small: each counts for half a seat in λ's denominator but holds none,
        # which puts λ too low; count only the lists above λ, twice (on the sorted votes: in C)
        ranked = sorted(values)
        for _ in range(2):
            i = bisect_right(ranked, p * first // q)  # the first list with v·q > p·d(0)
            if i == n:
                break
            p = 2 * sum(ranked[i:])
            q = 2 * a * seats + (n - i) * (2 * b - a)
            if q <= 0:
                q = 2 * a * seats
    # seats above λ = p/q: #{k : v / d(k) > p/q}, i.e. g = ceil((v·q/p − b) / a) when v·q > p·d(0)
    pa = p * a
    shift = p * b - pa + 1
    pf = p * first
    won = dict.fromkeys(votes, 0)  # the result: seats per list, in table order
    lwn, lwd, lw_i = 1, 0, None  # smallest quotient held, lwn / lwd (1/0: none yet), and its list
    fln, fld, fl_i = 0, 1, None  # largest quotient not held (0/1: none yet; lists without votes stay out)
    most, most_i = 0, None  # the most votes of a list without a seat (fewer cannot be the largest quotient)
    for i, x in votes.items():
        xq = x * q
        if xq > pf:
            g = (xq - shift) // pa  # >= 1 since d(0) >= b
            won[i] = g
            dk = a * g + c if g > 1 else first
            if x * lwd < lwn * dk:
                lwn, lwd, lw_i = x, dk, i
            dk = a * g + b
            if x * fld > fln * dk:
                fln, fld, fl_i = x, dk, i
        elif x > most:
            most, most_i = x, i
            if x * fld > fln * first:
                fln, fld, fl_i = x, first, i
        elif x < 0:
            return None
    off = seats - sum(won.values())
    if off > _MAX_STEPS or off < -_MAX_STEPS:
        return None
    while off > 0:
        # the largest quotient not held wins the seat; it is below every quotient held so far (those
        # are above λ, it is not), so it is the new smallest held one, unless it equals an earlier
        # step's, whose list came first in table order
        if fln * lwd < lwn * fld:
            lwn, lwd = fln, fld
        won[fl_i] += 1
        off -= 1
        if fl_i == most_i:  # the list with the most votes among those without a seat won it: the next one
            most, most_i = 0, None
            for i in compress(won, map(not_, won.values())):
                if votes[i] > most:
                    most, most_i = votes[i], i
        # the new largest quotient not held: among the lists holding seats, or the best one without
        fln, fld, fl_i = 0, 1, None
        for i, g in compress(won.items(), won.values()):
            x = votes[i]
            dk = a * g + b
            if x * fld > fln * dk:
                fln, fld, fl_i = x, dk, i
        if most:
            t = most * fld - fln * first
            if t > 0 or (t == 0 and (fl_i is None or _comes_first(votes, most_i, fl_i))):
                fln, fld, fl_i = most, first, most_i
    while off < 0:
        # symmetric: the smallest quotient held loses its seat and is the new largest one not held
        if lwn * fld > fln * lwd:
            fln, fld = lwn, lwd
        won[lw_i] -= 1
        off += 1
        lwn, lwd, lw_i = 1, 0, None
        for i, g in compress(won.items(), won.values()):  # the lists holding seats
            x = votes[i]
            dk = a * g + c if g > 1 else first
            if x * lwd < lwn * dk:
                lwn, lwd, lw_i = x, dk, i
    if lwn * fld <= fln * lwd:
        return None  # a tie at the boundary: the general path records it
    scale = series.scale
    return Apportionment.plain(won, {"series": series.name, "boundary": (lwn * scale, lwd, fln * scale, fld)})


def _comes_first(votes: Mapping[str, int], i: str, j: str) -> bool:
    """Whether list ``i`` comes before list ``j`` in the table (equal quotients: the first one counts)."""
    for k in votes:
        if k == i:
            return True
        if k == j:
            return False
    return False


def highest_averages(votes: Mapping[str, int], seats: int, series: DivisorSeries = DHONDT, *,
                     caps: Mapping[str, int] | None = None, where: Where | None = None,
                     tie_break: str = "lot", lots: Lots | None = None, log: bool = True) -> Apportionment:
    """Allocate ``seats`` among ``votes`` (list -> int) by the divisor ``series``. Exact."""
    if not log and not caps:
        fast = _plain(votes, seats, series)
        if fast is not None:
            return fast
    return _general(votes, seats, series, caps, where, tie_break, lots, log)


def _general(votes: Mapping[str, int], seats: int, series: DivisorSeries, caps: Mapping[str, int] | None,
             where: Where | None, tie_break: str, lots: Lots | None, log: bool) -> Apportionment:
    """:func:`highest_averages` with caps, step log, ties, bad input: every case.

    A function of its own because its comprehensions and the helper ``d`` make a dozen of its locals
    closure cells, which every call would create (~0.3 µs), even one the fast path answers.
    """
    ids = list(votes)
    v = list(votes.values())
    if type(seats) is not int or seats < 0 or not set(map(type, v)) <= {int} or (v and min(v) < 0):
        _bad_input(votes, seats, where)
    n = len(ids)
    total_votes = sum(v)
    if seats == 0:
        return Apportionment(dict.fromkeys(ids, 0), info={"series": series.name})
    if total_votes == 0:
        raise (where or _NOWHERE).error(f"{seats} seat(s) to allocate but no votes")
    cap: list[int] | None = None
    if caps:
        cap = [seats + 1] * n  # no cap: a list can never hold more than all seats
        pos = {i: k for k, i in enumerate(ids)}
        for i, c in caps.items():
            if i in pos:
                cap[pos[i]] = min(c, seats)
    a, b, f = series.step, series.offset, series.first
    first = b if f is None else f  # d(0); d(k) = a*k + b for k >= 1

    # --- estimate: λ0 = V / (S + L·(b/a − ½)) on the scaled quotients ---
    contenders = n - v.count(0)
    p = 2 * total_votes
    q = 2 * a * seats + contenders * (2 * b - a)
    if q <= 0:
        q = 2 * a * seats
    s, given = _estimate(v, cap, p, q, a, b, first)
    if abs(given - seats) > 2:
        # second try: leave out the lists whose first quotient is below λ0 (they hold no seat anyway)
        big = [x for x in v if x * q > p * first]
        q2 = 2 * a * seats + len(big) * (2 * b - a)
        if big and q2 > 0:
            s2, given2 = _estimate(v, cap, 2 * sum(big), q2, a, b, first)
            if abs(given2 - seats) < abs(given - seats):
                s, given = s2, given2

    # --- adjust to exactly `seats`: linear scans for a few steps, a heap on exact integer keys beyond ---
    if given < seats and seats - given <= 3:
        while given < seats:
            best, bn, bd = -1, 0, 1
            for k in range(n):
                x = v[k]
                g = s[k]
                if x and (cap is None or g < cap[k]):
                    dk = a * g + b if g else first
                    if best < 0 or x * bd > bn * dk:
                        best, bn, bd = k, x, dk
            if best < 0:
                raise (where or _NOWHERE).error(f"only {given} of {seats} seats can be filled: every list "
                                                 "with votes has reached its maximum")
            s[best] += 1
            given += 1
    elif given > seats and given - seats <= 3:
        while given > seats:
            low, ln, ld = -1, 0, 1
            for k in range(n):
                g = s[k]
                if g:
                    dk = a * g - a + b if g > 1 else first
                    if low < 0 or v[k] * ld < ln * dk:
                        low, ln, ld = k, v[k], dk
            s[low] -= 1
            given -= 1
    elif given != seats:
        big_k = (a * seats + b) ** 2  # exact keys, see the module docstring
        if given < seats:
            heap = [(-(x * big_k // (a * g + b if g else first)), k) for k, (x, g) in enumerate(zip(v, s))
                    if x and (cap is None or g < cap[k])]
            heapq.heapify(heap)
            while given < seats:
                if not heap:
                    raise (where or _NOWHERE).error(f"only {given} of {seats} seats can be filled: every list "
                                                     "with votes has reached its maximum")
                k = heapq.heappop(heap)[1]
                s[k] += 1
                given += 1
                if cap is None or s[k] < cap[k]:
                    heapq.heappush(heap, (-(v[k] * big_k // (a * s[k] + b)), k))
        else:
            heap = [(x * big_k // (a * g - a + b if g > 1 else first), k) for k, (x, g) in enumerate(zip(v, s)) if g]
            heapq.heapify(heap)
            while given > seats:
                k = heapq.heappop(heap)[1]
                s[k] -= 1
                given -= 1
                g = s[k]
                if g:
                    heapq.heappush(heap, (v[k] * big_k // (a * g - a + b if g > 1 else first), k))

    # --- the boundary: smallest winning vs largest losing quotient (cross-multiplication) ---
    lwn, lwd, lw_k = 0, 1, -1
    fln, fld, fl_k = 0, 1, -1
    for k in range(n):
        x = v[k]
        g = s[k]
        if g:
            dk = a * g - a + b if g > 1 else first
            if lw_k < 0 or x * lwd < lwn * dk:
                lwn, lwd, lw_k = x, dk, k
        if x and (cap is None or g < cap[k]):
            dk = a * g + b if g else first
            if fl_k < 0 or x * fld > fln * dk:
                fln, fld, fl_k = x, dk, k

    def d(k: int) -> int:
        return a * k + b if k else first

    scale = series.scale
    lw = (lwn * scale, lwd)
    fl = (fln * scale, fld)
    if not log and (lw_k < 0 or fl_k < 0 or lwn * fld != fln * lwd):
        # fast path (no step log, no tie at the boundary): the same result, built without the general tail
        return Apportionment.plain(dict(zip(ids, s)), {"series": series.name, "boundary": lw + fl})
    where = where or _NOWHERE
    result = Apportionment(dict(zip(ids, s)), info={"series": series.name})
    steps = result.steps
    # the boundary as exact integer pairs (quotient = num / den); as Fractions too when logging
    result.info["boundary"] = lw + fl
    if log:
        steps.append({"kind": "quotient", "stage": where.stage, "constituency": where.constituency,
                      "method": series.name, "divisors": series.describe(), "seats": seats,
                      "lists": n, "votes": total_votes})
        if lw_k >= 0:
            result.info["last_winning_quotient"] = Fraction(*lw)
            result.info["last_winning_list"] = ids[lw_k]
        if fl_k >= 0:
            result.info["first_losing_quotient"] = Fraction(*fl)
            result.info["first_losing_list"] = ids[fl_k]

    if lw_k >= 0 and fl_k >= 0 and lwn * fld == fln * lwd:
        tied_holders = [k for k in range(n) if s[k] and v[k] * lwd == lwn * d(s[k] - 1)]
        seekers = [k for k in range(n) if v[k] and (cap is None or s[k] < cap[k])
                   and v[k] * lwd == lwn * d(s[k])]
        tied = [ids[k] for k in sorted(tied_holders + seekers)]
        quotient = Fraction(*lw)
        chosen, tie, tie_steps = decide(
            where, tied, len(tied_holders), votes=votes, tie_break=tie_break, lots=lots,
            first_seat=seats - len(tied_holders) + 1,
            criterion=f"equal quotients {frac_str(quotient)} ({decimal_str(quotient)})")
        for k in tied_holders:
            s[k] -= 1
        position = {i: k for k, i in enumerate(ids)}
        for i in chosen:
            s[position[i]] += 1
        result.seats = dict(zip(ids, s))
        steps.extend(tie_steps)
        if tie is not None:
            result.ties.append(tie)

    if log:
        # seat order: by exact integer keys (see the module docstring), equal quotients in table order
        big_k = (a * seats + b) ** 2
        order = sorted(((v[k] * big_k // d(j), k, j) for k in range(n) for j in range(s[k])),
                       key=lambda e: (-e[0], e[1]))
        divisor_text: dict[int, str] = {}
        stage, constituency = where.stage, where.constituency
        for number, (_, k, j) in enumerate(order, start=1):
            num, den = v[k] * scale, d(j)
            if den not in divisor_text:
                divisor_text[den] = divisor_str(Fraction(den, scale))
            steps.append({"kind": "seat", "stage": stage, "constituency": constituency,
                          "seat": number, "list_id": ids[k], "divisor": divisor_text[den],
                          "quotient": ratio_str(num, den), "quotient_decimal": ratio_decimal(num, den)})
        if lw_k >= 0:
            step = {"kind": "quotient", "stage": where.stage, "constituency": where.constituency,
                    "last_winning_list": ids[lw_k], "last_winning_quotient": ratio_str(*lw),
                    "last_winning_quotient_decimal": ratio_decimal(*lw)}
            if fl_k >= 0:
                step.update({"first_losing_list": ids[fl_k], "first_losing_quotient": ratio_str(*fl),
                             "first_losing_quotient_decimal": ratio_decimal(*fl)})
            steps.append(step)
    return result
