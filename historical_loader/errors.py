"""Typed errors of the history loader: each names the file or election, the rule and the rows."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """One rule outcome for one election: a violation (error) or a known gap (warning).

    ``election`` reads ``EP 1984 DE`` (or ``delegation 1995-01-01 AT``); ``lines`` are the source
    file's line numbers (header = line 1) of the rows concerned.
    """

    election: str
    rule: str
    message: str
    file: str = ""
    lines: tuple[int, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        where = f"{self.file} " if self.file else ""
        rows = ""
        if self.lines:
            shown = ", ".join(str(n) for n in self.lines[:12]) + (" ..." if len(self.lines) > 12 else "")
            rows = f" (line{'s' if len(self.lines) > 1 else ''} {shown})"
        return f"{where}{self.election}: rule {self.rule}: {self.message}{rows}"

    def as_dict(self) -> dict:
        return {"election": self.election, "rule": self.rule, "message": self.message, "file": self.file,
                "lines": list(self.lines)}


class HistoryValidationError(ValueError):
    """The historical data breaks a rule. ``violations`` lists every one; the message names the
    election (year and country), the rule and the source lines of the first few."""

    def __init__(self, violations: list[Finding]):
        self.violations = list(violations)
        head = "; ".join(str(v) for v in self.violations[:5])
        more = f"; and {len(self.violations) - 5} more" if len(self.violations) > 5 else ""
        super().__init__(f"{len(self.violations)} violation(s) of the historical data rules: {head}{more}")

    @property
    def rules(self) -> set[str]:
        return {v.rule for v in self.violations}


class HistoryConflictError(RuntimeError):
    """An election already in the store differs from the source now (the source file changed).

    Nothing of the year was written. Load again with ``replace=True`` (CLI ``--replace``,
    DAG param ``replace``) to overwrite the stored election with the source's rows.
    """

    def __init__(self, year: int, differences: list[str]):
        self.year = year
        self.differences = list(differences)
        head = "; ".join(self.differences[:8])
        more = f"; and {len(self.differences) - 8} more" if len(self.differences) > 8 else ""
        super().__init__(f"year {year}: the store already holds different rows for these elections "
                         f"(the source changed since it was loaded): {head}{more}. Nothing was written; "
                         f"load with replace=True (--replace) to overwrite them.")
