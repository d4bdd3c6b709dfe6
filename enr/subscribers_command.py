"""``enr subscribers add|list|disable|enable|test`` and the rollback's announcement to the media.

A thin face over :mod:`enr.media` (its arguments are parsed in ``enr/cli.py``): one line per subscriber out.
``list`` never prints a secret in full; ``add`` prints the new secret once, for the newsroom.
"""
from __future__ import annotations

import argparse
import json
import os

from enr.errors import UsageError


def _codes(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def _line(s) -> str:
    state = "active" if s.active else f"DISABLED ({s.disabled_reason})"
    failing = f"  FAILING x{s.consecutive_failures}: {s.last_error}" if s.active and s.consecutive_failures else ""
    filters = f" countries={','.join(s.countries)}" if s.countries else ""
    filters += f" languages={','.join(s.languages)}" if s.languages else ""
    return f"{s.id:<20} {state:<10} {s.url}  secret {s.masked_secret()}{filters}{failing}"


def cmd_subscribers(args: argparse.Namespace) -> int:
    from enr import media
    from enr.home import require_initialised
    from enr.media.subscribers import SubscriberError

    require_initialised("`enr subscribers`")
    registry = media.registry()
    try:
        if args.action == "add":
            s = registry.add(args.url, subscriber_id=args.subscriber_id, secret=args.secret,
                             countries=_codes(args.countries), languages=_codes(args.languages), by=args.by)
            print(_line(s))
            if not args.secret:
                print(f"secret (give it to the newsroom; it is not shown again in full): {s.secret}")
        elif args.action == "list":
            everyone = registry.all()
            if args.json:
                print(json.dumps([s.public() for s in everyone], indent=1))
            for s in [] if args.json else everyone:
                print(_line(s))
            if not everyone and not args.json:
                print("no subscribers (add one: enr subscribers add URL)")
        elif args.action in ("disable", "enable"):
            change = registry.disable if args.action == "disable" else registry.enable
            print(_line(change(args.subscriber_id, by=args.by, **({"reason": args.reason} if args.reason else {}))))
        elif args.action == "test":
            result = media.send_test(args.subscriber_id)
            print(f"{result['id']}: {'acknowledged' if result['ok'] else 'FAILED'} "
                  f"({result['status'] or result['error']}, {result['elapsed_ms']} ms) webhook-id {result['webhook_id']}")
            return 0 if result["ok"] else 1
    except SubscriberError as exc:
        raise UsageError(str(exc)) from None
    return 0


def announce_rollback(election: str, version: str) -> str:
    """Start ``notify_media`` for a rollback through Airflow's REST API (as ``ENR_AIRFLOW_USER``, default
    ``operator``); one line saying what happened (a rollback never fails because the media were not told)."""
    from enr.airflow_api import AirflowAPI, AirflowAPIError
    from enr.home import password_of

    url = os.environ.get("ENR_AIRFLOW_URL") or f"http://127.0.0.1:{os.environ.get('ENR_AIRFLOW_PORT') or 8080}"
    user = os.environ.get("ENR_AIRFLOW_USER") or "operator"
    conf = {"election": election, "version": version, "kind": "rollback"}
    by_hand = f"start DAG notify_media with conf {json.dumps(conf)} to tell the media"
    password = os.environ.get("ENR_AIRFLOW_PASSWORD") or password_of(user)
    api = AirflowAPI(base_url=url, username=user, password=password or "", timeout=10)
    if not password or not api.healthy():
        return f"media NOT notified: no Airflow API at {url} (or no password for {user}); {by_hand}"
    try:
        run_id = api.trigger("notify_media", conf)
    except (AirflowAPIError, OSError) as exc:
        return f"media NOT notified ({exc}); {by_hand}"
    return f"media: notify_media run {run_id} started for the rollback to {version}"
