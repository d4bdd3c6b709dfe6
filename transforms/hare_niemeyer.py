"""Hare-Niemeyer (Hamilton): largest remainders with the exact Hare quota.

Each list's ideal share is ``seats × votes / total``; it gets the whole part, and the seats left go
to the largest fractional parts. Compared exactly as integers: ``seats·votes mod total``.

Used by Bulgaria on the lists reaching the quota (:mod:`transforms.bulgaria`), by Lithuania (with
its own threshold rules), and by Poland to share each committee's seats among its 13 constituency
lists (:mod:`transforms.poland`).
"""
from __future__ import annotations

from collections.abc import Mapping

from transforms.apportionment import Apportionment, MethodInput
from transforms.largest_remainder import largest_remainder
from transforms.tie import Lots, Where

_NOWHERE = Where("")  # built once: a frozen dataclass costs about a microsecond to make


def allocate(votes: Mapping[str, int], seats: int, *, caps: Mapping[str, int] | None = None,
             where: Where | None = None, tie_break: str = "lot", lots: Lots | None = None,
             log: bool = True) -> Apportionment:
    """Hare-Niemeyer seats for ``votes``; exact, ties surfaced."""
    total = sum(votes.values())
    if seats == 0:
        return Apportionment(dict.fromkeys(votes, 0))
    if total == 0:
        raise (where or _NOWHERE).error(f"{seats} seat(s) to share but no votes")
    return largest_remainder(votes, seats, (total, seats), caps=caps, where=where, tie_break=tie_break,
                             lots=lots, quota_label="Hare-Niemeyer: exact Hare quota = votes / seats",
                             log=log)


def method(inp: MethodInput) -> Apportionment:
    """Registry entry ``hare_niemeyer``: among the lists that passed the threshold."""
    return allocate(inp.votes, inp.seats, caps=inp.caps, where=inp.where, tie_break=inp.rule.tie_break,
                    lots=inp.lots, log=inp.log)
