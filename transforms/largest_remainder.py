"""Largest remainder (quota) methods.

Each list gets as many seats as it has whole quotas (``floor(votes / quota)``); the seats left go,
one each, to the lists with the largest remainders ``votes − seats × quota``. The quota and its
rounding come from :mod:`transforms.quota`; the votes the quota is computed on (``quota_base``) are
the law's choice: the votes of the lists taking part (Hare-Niemeyer, Lithuania, Italy), or all valid
votes including the lists below the threshold (Greece, Cyprus), or all list votes (Luxembourg).

Two situations the plain method leaves open, handled as the laws say:

* more seats left than lists eligible for one (a quota computed on a larger base than the
  participating lists, as in Greece): ``leftover="repeat"`` goes through the same order again;
  ``leftover="gap"`` leaves them unallocated and reports it (the law is silent); ``"error"`` raises;
* more whole quotas than seats (a small, rounded quota such as Slovakia's): seats are taken back, one
  each, from the lists with the smallest remainders (the list with fewer votes first, when the law
  says so), i.e. the holders with the largest remainders keep theirs.

Exactness: with quota ``qn/qd`` every remainder is compared as the integer ``votes·qd − seats·qn``.
Ties for the last remainder seat(s) go through :func:`transforms.tie.pick_top`.

Called without caps, eligibility limits or step log, :func:`_plain` answers the common case (one
pass, dicts built directly, no decision to take) and leaves the rest — a tie, seats taken back or left
over, bad input — to the general path.

Registry entry ``largest_remainder``: rule columns ``quota``, ``quota_rounding``, ``quota_base``.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from fractions import Fraction
from itertools import compress
from operator import countOf

from transforms.apportionment import Apportionment, MethodInput
from transforms.exact import ratio_decimal, ratio_str
from transforms.quota import describe, quota
from transforms.tie import Lots, Where, pick_top

LEFTOVER = ("error", "repeat", "gap")
_NOWHERE = Where("")


def remainder_fractions(info: dict) -> dict[str, Fraction]:
    """The exact remainders (votes − quota seats × quota) of a :func:`largest_remainder` result."""
    qd = info["quota_nd"][1]
    return {i: Fraction(k, qd) for i, k in info["remainder_keys"].items()}


def largest_remainder(votes: Mapping[str, int], seats: int, quota_value: Fraction | int | tuple[int, int], *,
                      caps: Mapping[str, int] | None = None, where: Where | None = None,
                      tie_break: str = "lot", lots: Lots | None = None, leftover: str = "error",
                      remainder_eligible: Collection[str] | None = None, quota_label: str = "",
                      log: bool = True) -> Apportionment:
    """Whole quotas, then largest remainders. ``info`` keeps the exact quota seats and remainders.

    ``quota_value``: an int, a Fraction, or a pair ``(numerator, denominator)`` of ints (saves building
    a Fraction on the hot path).
    """
    if not log and not caps and remainder_eligible is None:
        fast = _plain(votes, seats, quota_value, leftover)
        if fast is not None:
            return fast
    return _general(votes, seats, quota_value, caps, where, tie_break, lots, leftover, remainder_eligible,
                    quota_label, log)


def _plain(votes: Mapping[str, int], seats: int, quota_value: Fraction | int | tuple[int, int],
           leftover: str) -> Apportionment | None:
    """The fast path of :func:`largest_remainder` without caps, eligibility limits or step log.

    The same arithmetic and result as the general path when that path takes no decision: the whole
    quotas do not exceed the seats, no more seats are left than lists with votes, and the last
    remainder seat is not a tie. Returns None otherwise (and on bad input), for the general path.
    """
    q = quota_value
    if type(q) is int:
        qn, qd = q, 1
    elif type(q) is tuple:
        qn, qd = q
        if type(qn) is not int or type(qd) is not int:
            return None
        q = None
    elif type(q) is Fraction:
        qn, qd = q.numerator, q.denominator
    else:
        return None
    if type(votes) is not dict:
        votes = dict(votes)
    values = votes.values()
    n = len(votes)
    if (type(seats) is not int or not n or qn <= 0 or qd <= 0 or leftover not in LEFTOVER
            or countOf(map(type, values), int) != n or min(values) < 0):
        return None
    quota_seats = {}
    remainders = {}  # remainder × qd = votes·qd − whole·qn
    for i, x in votes.items():
        xq = x * qd
        w = xq // qn
        quota_seats[i] = w
        remainders[i] = xq - w * qn
    left = seats - sum(quota_seats.values())
    if left < 0:
        return None  # more whole quotas than seats: seats are taken back (general path)
    won = quota_seats.copy()
    ranked = []
    if left:
        # lists with votes, by remainder (largest first; equal remainders in table order: sorted is stable)
        ranked = sorted(compress(remainders, values) if 0 in values else remainders, key=remainders.__getitem__,
                        reverse=True)
        if left >= len(ranked):
            if left > len(ranked):
                return None  # seats left over once every list has one (leftover rule: general path)
        elif remainders[ranked[left - 1]] == remainders[ranked[left]]:
            return None  # a tie for the last remainder seat
        del ranked[left:]
        for i in ranked:
            won[i] += 1
    info = {"quota_nd": (qn, qd), "quota_seats": quota_seats, "remainder_keys": remainders,
            "remainder_seats": ranked}
    if q is not None:
        info["quota"] = q
    return Apportionment.plain(won, info)


def _general(votes: Mapping[str, int], seats: int, quota_value: Fraction | int | tuple[int, int],
             caps: Mapping[str, int] | None, where: Where | None, tie_break: str, lots: Lots | None, leftover: str,
             remainder_eligible: Collection[str] | None, quota_label: str, log: bool) -> Apportionment:
    """:func:`largest_remainder` in every case (its comprehensions make closure cells: a function of its own)."""
    where = where or _NOWHERE
    if leftover not in LEFTOVER:
        raise where.error(f"unknown leftover rule {leftover!r}")
    q = quota_value
    if type(q) is tuple:
        qn, qd = q
        q = None
    elif type(q) is int:
        qn, qd = q, 1
    elif type(q) is Fraction:  # immutable: no copy needed
        qn, qd = q.numerator, q.denominator
    else:
        q = Fraction(q)
        qn, qd = q.numerator, q.denominator
    if qn <= 0 or qd <= 0:
        raise where.error(f"quota must be positive, not {quota_value}")
    ids = list(votes)
    v = list(votes.values())
    if not set(map(type, v)) <= {int} or (v and min(v) < 0):
        for i, x in votes.items():
            if type(x) is not int or x < 0:
                raise where.error(f"votes of {i!r} must be a non-negative int, not {x!r}")
    n = len(ids)
    cap: list[int] | None = None
    if caps:
        cap = [min(caps.get(i, seats), seats) for i in ids]
        whole = [min(x * qd // qn, c) for x, c in zip(v, cap)]
    else:
        whole = [x * qd // qn for x in v]
    # remainders as exact integers: remainder × qd (the common denominator)
    rem = [x * qd - w * qn for x, w in zip(v, whole)]
    s = list(whole)
    rem_key = dict(zip(ids, rem))
    info = {"quota_nd": (qn, qd), "quota_seats": dict(zip(ids, whole)), "remainder_keys": rem_key,
            "remainder_seats": []}
    if q is not None or log:
        info["quota"] = q if q is not None else Fraction(qn, qd)
    result = Apportionment.plain({}, info)
    steps = result.steps
    if log:
        steps.append({"kind": "quota", "stage": where.stage, "constituency": where.constituency,
                      "rule": quota_label or "largest remainder", "seats": seats,
                      "quota": ratio_str(qn, qd), "quota_decimal": ratio_decimal(qn, qd)})
        for k, i in enumerate(ids):
            steps.append({"kind": "remainder", "stage": where.stage, "constituency": where.constituency,
                          "list_id": i, "votes": v[k], "quota_seats": whole[k],
                          "remainder": ratio_str(rem[k], qd), "remainder_decimal": ratio_decimal(rem[k], qd)})
    given = sum(whole)
    if given > seats:
        holders = [i for k, i in enumerate(ids) if s[k] > 0]
        excess = given - seats
        if excess > len(holders):
            raise where.error(f"{given} whole quotas for {seats} seats: cannot take back {excess} seats")
        keep, tie, tie_steps = pick_top(where.at(where.stage + ": seats taken back"), holders, rem_key,
                                        len(holders) - excess, votes=votes, tie_break=tie_break, lots=lots,
                                        first_seat=1, criterion="equal remainders (seat taken back)")
        steps.extend(tie_steps)
        if tie:
            result.ties.append(tie)
        keep_set = set(keep)
        for k, i in enumerate(ids):
            if s[k] > 0 and i not in keep_set:
                s[k] -= 1
                if log:
                    steps.append({"kind": "remainder", "stage": where.stage, "constituency": where.constituency,
                                  "list_id": i, "seat_taken_back": 1,
                                  "why": f"{given} whole quotas exceed the {seats} seats; smallest remainder"})
        result.seats = dict(zip(ids, s))
        return result
    left = seats - given
    eligible = [k for k in range(n) if v[k] and (cap is None or s[k] < cap[k])
                and (remainder_eligible is None or ids[k] in remainder_eligible)]
    order_no = given
    round_no = 0
    while left > 0:
        round_no += 1
        if not eligible:
            break
        ranked = sorted(eligible, key=rem.__getitem__, reverse=True)  # stable: equal remainders in table order
        tie = None
        tie_steps: list[dict] = []
        if left >= len(eligible):
            if left > len(eligible) and leftover == "error":
                raise where.error(f"{left} seats left for {len(eligible)} list(s) eligible for a remainder seat")
            chosen = ranked
        elif rem[ranked[left - 1]] != rem[ranked[left]]:
            chosen = ranked[:left]
        else:  # equal remainders at the edge: the law's tie-break, then a recorded lot
            names, tie, tie_steps = pick_top(where, [ids[k] for k in eligible], rem_key, left, votes=votes,
                                             tie_break=tie_break, lots=lots, first_seat=order_no + 1,
                                             criterion="equal remainders")
            position = {i: k for k, i in enumerate(ids)}
            chosen = [position[i] for i in names]
        steps.extend(tie_steps)
        if tie:
            result.ties.append(tie)
        for k in chosen:
            s[k] += 1
            order_no += 1
            info["remainder_seats"].append(ids[k])
            if log:
                steps.append({"kind": "seat", "stage": where.stage, "constituency": where.constituency,
                              "seat": order_no, "list_id": ids[k], "by": "remainder", "round": round_no,
                              "remainder": ratio_str(rem[k], qd), "remainder_decimal": ratio_decimal(rem[k], qd)})
        left -= len(chosen)
        if tie and not tie.resolved:
            left = 0  # the contested seats wait for the lot
            break
        if leftover != "repeat":
            break
        eligible = [k for k in eligible if cap is None or s[k] < cap[k]]
    result.seats = dict(zip(ids, s))
    if left > 0 and (leftover == "gap" or not eligible):
        result.gaps.append(f"{where.country}{' / ' + where.constituency if where.constituency else ''}: "
                           f"{left} seat(s) left after every eligible list got a remainder seat; "
                           "the law as encoded does not say how to fill them")
    return result


def base_votes(inp: MethodInput) -> tuple[int | None, str]:
    """The votes a quota is computed on, per the rule's ``quota_base``."""
    base = inp.rule.quota_base or "participating_votes"
    if base == "participating_votes":
        return sum(inp.votes.values()), "votes of the lists taking part"
    if base == "list_votes":
        return sum(inp.all_votes.values()), "votes of all lists"
    if base == "valid_votes":
        return inp.totals.valid, "all valid votes"
    raise inp.where.error(f"unknown quota_base {base!r}")


def method(inp: MethodInput) -> Apportionment:
    """Registry entry ``largest_remainder`` (rule: ``quota``, ``quota_rounding``, ``quota_base``)."""
    rule = inp.rule
    base, base_text = base_votes(inp)
    if base is None:
        return Apportionment(dict.fromkeys(inp.votes, 0),
                             gaps=[f"{inp.where.country}: the quota is computed on {base_text}, "
                                   "which the totals do not give"])
    q = quota(rule.quota, base, inp.seats, rule.quota_rounding)
    label = f"{describe(rule.quota, rule.quota_rounding)} on {base_text} ({base})"
    return largest_remainder(inp.votes, inp.seats, q, caps=inp.caps, where=inp.where, tie_break=rule.tie_break,
                             lots=inp.lots, quota_label=label, log=inp.log)
