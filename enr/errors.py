"""Errors the operator can act on: the ``enr`` command prints them as one line and exits 2.

``UsageError``: a command's arguments are wrong (names the argument and the expected form).
``SetupRequired``: something must be prepared first (names the command that prepares it).
"""
from __future__ import annotations


class UsageError(ValueError):
    """Bad arguments: what is wrong and the expected form."""


class SetupRequired(RuntimeError):
    """Missing set-up: what is missing and the command that prepares it."""
