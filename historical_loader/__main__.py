"""Command line: ``python -m historical_loader {migrate,validate,load,verify} ...``.

The store is ``--store`` or ``ENR_STORE_URL`` (see docs/CONTRACTS.md); the data folder is
``--data`` or ``ENR_HISTORICAL_DIR`` (default ``data/historical``). ``--day`` is a regular EP
election day (the backfill run it stands for, e.g. ``1984-06-17``); ``--all`` takes every year.

Exit codes: 0 done, 2 validation failed (the message names election, rule and lines), 3 the
store holds different rows for an election (load again with ``--replace`` to overwrite).
"""
from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from pathlib import Path

from historical_loader import backfill
from historical_loader.election_days import EP_ELECTION_DAYS
from historical_loader.errors import HistoryConflictError, HistoryValidationError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m historical_loader", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("migrate", "validate", "load", "verify"))
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--day", help="EP election day of the run: " + ", ".join(d.isoformat() for d in EP_ELECTION_DAYS))
    which.add_argument("--all", action="store_true", help="every election day")
    parser.add_argument("--store", help="SQLAlchemy URL of the results store (default: ENR_STORE_URL)")
    parser.add_argument("--data", type=Path, help="folder of the ParlGov files (default: data/historical)")
    parser.add_argument("--replace", action="store_true",
                        help="overwrite stored elections whose rows differ from the source")
    parser.add_argument("--run-id", default=f"cli:{getpass.getuser()}", help="recorded as loaded_by_run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    days = [d.isoformat() for d in EP_ELECTION_DAYS] if args.all or not args.day else [args.day]
    if args.command != "migrate" and not (args.all or args.day):
        parser.error("give --day DAY or --all")
    try:
        if args.command == "migrate":
            out: object = backfill.migrate_store(args.store)
        elif args.command == "validate":
            out = [backfill.validate_window(day, args.data) for day in days]
        elif args.command == "load":
            backfill.migrate_store(args.store)
            if args.all:
                out = backfill.load_all(args.store, run_id=args.run_id, replace=args.replace, folder=args.data)
            else:
                out = backfill.load_window(days[0], args.store, run_id=args.run_id, replace=args.replace,
                                           folder=args.data)
        else:
            out = [backfill.verify_window(day, args.store, args.data) for day in days]
    except HistoryValidationError as exc:
        print(f"validation failed: {exc}", file=sys.stderr)
        return 2
    except HistoryConflictError as exc:
        print(f"conflict: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
