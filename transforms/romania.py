"""Romania: D'Hondt with the 5 % threshold, and independents who need the electoral coefficient
(Law 33/2007).

* Parties, political and electoral alliances and national-minority organisations alike need 5 % of
  the valid votes nationally (threshold, inclusive).
* An independent candidate takes part if he or she has at least the national electoral
  coefficient = valid votes / number of seats (rule ``independent_threshold_quotas = 1`` on the
  valid votes; ``independent = 1`` in the results table).
* D'Hondt over the qualifying lists and independents; an independent can win one seat at most
  (the cap of :class:`~transforms.apportionment.MethodInput`), the other seats go on by D'Hondt.

Registry: ``romania_dhondt``.
"""
from __future__ import annotations

from transforms.apportionment import Apportionment, MethodInput
from transforms.dhondt import allocate


def method(inp: MethodInput) -> Apportionment:
    return allocate(inp.votes, inp.seats, caps=inp.caps, where=inp.where, tie_break=inp.rule.tie_break,
                    lots=inp.lots, log=inp.log)
