"""D'Hondt (Jefferson; highest averages with divisors 1, 2, 3, ...).

Each list's votes are divided by 1, 2, 3, ...; the seats go to the largest quotients. Equivalently,
every list gets ``floor(votes / λ)`` seats for the largest divisor λ that gives out all seats (the
Austrian *Wahlzahl*). It slightly favours larger lists.

Which countries use it is data, not code: a country file says ``method = "dhondt"``
(``elections/<id>/countries/<CC>.toml``; 2019: AT, CZ, EE, ES, FR, HR, HU, PL, PT, SI, DK and FI
with electoral alliances through :mod:`transforms.alliance`, BE per electoral college and the UK's
Great Britain regions per constituency). Variants that give D'Hondt's seats under another name live
in their own modules: :mod:`transforms.netherlands`, :mod:`transforms.romania`,
:mod:`transforms.hagenbach_bischoff` (Luxembourg); Poland's national allocation is D'Hondt, followed
by the distribution of :mod:`transforms.poland`.
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
