"""The whitelist of allocation methods and constituency distributions, by the names the country files use.

A rule names its method (``method``) and, for two-tier countries, its distribution
(``distribution``); :func:`transforms.rules.parse_rules` refuses any name not listed here. Nothing is
imported dynamically from a name in a data file: adding a method means adding a module and a line
here, reviewed like any other code.

``kind``: ``divisor`` (highest averages), ``quota`` (largest remainder and national quota
variants) or ``declared`` (STV: seats come from the declaration). ``requires``: rule columns the
method cannot do without. ``deferral``: the ``deferred_rule`` values the method implements.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

from transforms import (bulgaria, cyprus, dhondt, germany, greece, hagenbach_bischoff, hare_niemeyer, italy,
                        largest_remainder, netherlands, poland, romania, sainte_lague, slovakia)
from transforms.apportionment import Apportionment, MethodInput


def _declared(inp: MethodInput) -> Apportionment:  # pragma: no cover - never computed
    raise inp.where.error("STV seats are declared, not computed")


@dataclass(frozen=True)
class MethodSpec:
    name: str
    fn: Callable[[MethodInput], Apportionment]
    kind: str
    text: str
    requires: tuple[str, ...] = ()
    deferral: tuple[str, ...] = ()


_METHODS = [
    MethodSpec("dhondt", dhondt.method, "divisor", "D'Hondt (highest averages 1, 2, 3, ...)"),
    MethodSpec("sainte_lague", sainte_lague.method, "divisor", "Sainte-Laguë (highest averages 1, 3, 5, ...)"),
    MethodSpec("sainte_lague_schepers", germany.method, "divisor",
               "Sainte-Laguë/Schepers (divisor method with standard rounding)"),
    MethodSpec("sainte_lague_modified", sainte_lague.modified_method, "divisor",
               "modified Sainte-Laguë (first divisor raised)", requires=("first_divisor",)),
    MethodSpec("largest_remainder", largest_remainder.method, "quota", "largest remainder with a quota",
               requires=("quota",)),
    MethodSpec("hare_niemeyer", hare_niemeyer.method, "quota", "Hare-Niemeyer (exact Hare quota, largest remainders)"),
    MethodSpec("hagenbach_bischoff", hagenbach_bischoff.method, "divisor",
               "Hagenbach-Bischoff electoral number, then largest averages (= D'Hondt)"),
    MethodSpec("greece_reinforced", greece.method, "quota",
               "Greek quota on all valid votes, remainders in order (repeated)"),
    MethodSpec("bulgaria_quota", bulgaria.method, "quota",
               "Bulgarian quota as threshold, independents first, Hare-Niemeyer"),
    MethodSpec("cyprus_quota", cyprus.method, "quota", "Cypriot quota, one remainder seat each"),
    MethodSpec("slovakia_ren", slovakia.method, "quota", "Slovak republic electoral number, largest remainders",
               deferral=("smallest_remainder",)),
    MethodSpec("italy_national", italy.method, "quota",
               "Italian national quota (floor), largest remainders, minority lists",
               deferral=("smallest_remainder_used",)),
    MethodSpec("romania_dhondt", romania.method, "divisor", "D'Hondt with independents (one seat at most)"),
    MethodSpec("netherlands_dhondt", netherlands.method, "divisor",
               "kiesdeler full seats, then largest averages (= D'Hondt among lists reaching the kiesdeler)"),
    MethodSpec("stv", _declared, "declared", "single transferable vote: seats as declared",
               deferral=("last_elected",)),
]

METHODS = MappingProxyType({m.name: m for m in _METHODS})

DISTRIBUTIONS = MappingProxyType({
    "hare_niemeyer_by_list": poland.distribute,
    "italy_list_quotient": italy.distribute,
})
