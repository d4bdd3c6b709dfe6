"""Version ids of an election's published site: ``v0001``, ``v0002``, ... ordered by number.

A version id is compared by its number, never as text: ``"v10000" < "v9999"`` as strings, but version 10000
comes after 9999. Everything that orders versions (the store, staging, publication, rollback) uses
:func:`version_key`.
"""
from __future__ import annotations

import re


def version_key(version: str) -> tuple:
    """Order of versions: by the numbers in the id (``v0010`` after ``v0009``), then by text."""
    return tuple(int(n) for n in re.findall(r"\d+", version)), version


def next_version(existing: list[str]) -> str:
    """The id after the highest of ``existing`` ids of the form ``v<digits>`` (``v0001`` when there is none)."""
    numbers = [int(n[1:]) for n in existing if n.startswith("v") and n[1:].isdigit()]
    return f"v{max(numbers, default=0) + 1:04d}"
