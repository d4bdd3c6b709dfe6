"""Typed errors of the seat engine.

:class:`AllocationError` is raised when an allocation cannot be carried out as the law says (bad
input, impossible parameters); its message names the country, the constituency and the rule.
:class:`RuleError` is raised by :mod:`transforms.rules` when a row of ``rules.csv`` is malformed; its
message names the row. Data *gaps* (a count the law needs but the input lacks) are not errors: they
come back in :attr:`transforms.national.CountryAllocation.gaps` and make the allocation incomplete.
"""
from __future__ import annotations


class AllocationError(ValueError):
    """An allocation that cannot be made; names country, constituency and rule."""

    def __init__(self, message: str, *, country: str = "", constituency: str = "", rule: str = "") -> None:
        self.country = country
        self.constituency = constituency
        self.rule = rule
        self.detail = message
        where = country or "?"
        if constituency:
            where += f" / {constituency}"
        if rule:
            where += f" [rule {rule}]"
        super().__init__(f"{where}: {message}")


class RuleError(ValueError):
    """A row of rules.csv that cannot be turned into a typed rule; names the row and column."""
