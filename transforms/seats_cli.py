"""Compatibility entry point for ``enr seats``: delegates to :func:`enr.seats_command.run`.

The command reads and writes files, so it lives in :mod:`enr.seats_command`, outside the pure
seat engine; this shim keeps ``from transforms.seats_cli import run`` (as wired in ``enr/cli.py``)
working. It imports nothing at module import time and touches no file itself.
"""
from __future__ import annotations

from pathlib import Path


def run(election: str, results_csv_path: str | Path, turnout_csv_path: str | Path,
        constituency_csv_path: str | Path | None, out_path: str | Path) -> int:
    """``enr seats``; see :func:`enr.seats_command.run` (exit status 0 / 1 / 2)."""
    from enr.seats_command import run as command  # lazy: keeps transforms free of enr at import time

    return command(election, results_csv_path, turnout_csv_path, constituency_csv_path, out_path)
