"""Typed errors of the seat engine.

:class:`AllocationError` is raised when an allocation cannot be carried out as the law says (bad
input, impossible parameters); its message names the country, the constituency and the rule.
:class:`RuleError` is raised by :mod:`transforms.rules` when a country's law (a country file
``countries/<CC>.toml`` or a row of an older ``rules.csv``) is malformed; its message names the file,
the key or row, and the rule broken. Data *gaps* (a count the law needs but the input lacks) are not errors: they
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
    """A country's law that cannot be turned into a typed rule; names the file, the key or row, and the rule.

    ``file`` (``countries/DE.toml``, ``rules.csv``), ``row`` (rules.csv: 1 = first data row) or ``key``
    (country file: ``threshold.percent``, ``constituency[Dublin].seats``) say where; ``detail`` is the
    message without that place, for a report that prints the place its own way (``enr check-election``).
    """

    def __init__(self, message: str, *, file: str = "", row: int | None = None, key: str = "",
                 detail: str = "") -> None:
        self.file = file
        self.row = row
        self.key = key
        self.detail = detail or message
        super().__init__(message)
