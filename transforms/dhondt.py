"""D'Hondt (Jefferson; highest averages with divisors 1, 2, 3, ...).

Each list's votes are divided by 1, 2, 3, ...; the seats go to the largest quotients. Equivalently,
every list gets ``floor(votes / λ)`` seats for the largest divisor λ that gives out all seats (the
Austrian *Wahlzahl*). It slightly favours larger lists.

Used for the European Parliament by AT (4 %), BE (per electoral college), CZ (5 %), DK and FI (with
electoral alliances, :mod:`transforms.alliance`), EE, ES, FR (5 %), HR (5 %), HU (5 %), NL (among the
lists reaching the quota, :mod:`transforms.netherlands`), PL (5 %, then
:mod:`transforms.poland`), PT, RO (5 %, :mod:`transforms.romania`), SI, and by the UK in 2019 in each
Great Britain region. Luxembourg's Hagenbach-Bischoff procedure gives the same seats
(:mod:`transforms.hagenbach_bischoff`).
"""
from __future__ import annotations

from collections.abc import Mapping

from transforms.apportionment import Apportionment, MethodInput
from transforms.divisor import DHONDT, highest_averages
from transforms.tie import Lots, Where


def allocate(votes: Mapping[str, int], seats: int, *, caps: Mapping[str, int] | None = None,
             where: Where | None = None, tie_break: str = "lot", lots: Lots | None = None,
             log: bool = True) -> Apportionment:
    """D'Hondt seats for ``votes`` (list id -> votes); exact, ties surfaced."""
    return highest_averages(votes, seats, DHONDT, caps=caps, where=where, tie_break=tie_break, lots=lots,
                            log=log)


def method(inp: MethodInput) -> Apportionment:
    """Registry entry ``dhondt``: D'Hondt among the lists that passed the threshold."""
    return allocate(inp.votes, inp.seats, caps=inp.caps, where=inp.where, tie_break=inp.rule.tie_break,
                    lots=inp.lots, log=inp.log)
