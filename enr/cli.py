"""`enr`: the operator's command line.

    enr demo                      replay the 2019 night through Airflow and publish a signed site
    enr airflow                   start Airflow (standalone) with these DAGs, to watch and approve in the UI
    enr status                    versions pending approval, what is published, deliveries and quarantine
    enr approve VERSION|--reject  answer a pending approval through Airflow's REST API
    enr verify PATH               check a published version: signature and every SHA-256
    enr rollback VERSION          make an earlier published version current again
    enr seats --election ...      recompute seats from published tables (the reviewers' check)
    enr replay --out DIR          write a night of signed deliveries (for a rehearsal or a test)
    enr rehearse [--speed 360]    rehearse a whole night through Airflow in a separate rehearsal area
    enr lot COUNTRY TIE WINNER    record the drawn lot that settles a tie

A thin face: each subcommand calls one function of the parts below it.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path


def _print_seats(summary: dict) -> None:
    groups = summary.get("groups") or []
    width = max((len(g["id"]) for g in groups), default=4)
    for group in groups:
        print(f"  {group['id']:<{width}}  {group['seats']:>4}")
    print(f"  {'total':<{width}}  {sum(g['seats'] for g in groups):>4}")


def cmd_demo(args: argparse.Namespace) -> int:
    from enr import pipeline
    from enr.night import run_demo_night

    summary = run_demo_night(election=args.election, bad=args.bad)
    current = summary.get("published")
    if not current:
        print("no version was published", file=sys.stderr)
        return 1
    report = pipeline.verify_current(args.election)
    print()
    print(f"published {current['version']} of {args.election} (manifest sha256 {current['manifest_sha256']})")
    print(f"  site:     {report['path']}/en/index.html")
    print(f"  verified: {'OK' if report['ok'] else 'FAILED'} ({report['files']} files, signature by {report['signer']})")
    print(f"  backup:   {report['backup_path']}")
    for wave in summary["waves"]:
        print(f"  wave {wave['wave']}: staged {wave['version']}")
    for version in summary.get("versions", []):
        print(f"  {version['version']}: {version['status']}")
    print(f"EU seats by group ({current['seats_allocated']} of {current['seats_total']}):")
    _print_seats(current)
    print(f"demo night took {summary['elapsed_s']} s")
    return 0 if report["ok"] else 1


def cmd_verify(args: argparse.Namespace) -> int:
    from enr import pipeline

    report = pipeline.verify_path(args.path, keyring=args.keyring, fingerprints=args.fingerprint or None)
    print(json.dumps(report, indent=1) if args.json else report["text"])
    return 0 if report["ok"] else 1


def cmd_status(args: argparse.Namespace) -> int:
    from enr import pipeline

    status = pipeline.status(args.election)
    if args.json:
        print(json.dumps(status, indent=1, default=str))
        return 0
    print(pipeline.format_status(status))
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    from enr.airflow_api import AirflowAPI

    api = AirflowAPI(base_url=args.api_url, username=args.user, password=args.password or os.environ.get(
        "ENR_AIRFLOW_PASSWORD", args.user))  # embedded default: the password is the user name
    pending = api.approvals_for(args.version)
    if not pending:
        print(f"no pending approval{' for ' + args.version if args.version else ''}", file=sys.stderr)
        return 1
    detail = pending[0]
    deadline = time.monotonic() + 30
    while not api.is_waiting(detail):  # see AirflowAPI.is_waiting
        if time.monotonic() > deadline:
            print(f"{detail['subject']}: the approval task is not waiting for input yet (state "
                  f"{(detail.get('task_instance') or {}).get('state')}); try again", file=sys.stderr)
            return 1
        time.sleep(0.5)
        detail = next((d for d in api.approvals_for(args.version) if d.get("task_instance", {}).get("task_id")
                       == detail["task_instance"]["task_id"] and d["task_instance"]["dag_run_id"]
                       == detail["task_instance"]["dag_run_id"]), detail)
    answer = api.answer(detail, "Reject" if args.reject else "Approve")
    print(f"{detail['subject']} -> {answer['chosen_options'][0]} by {answer['responded_by']['name']}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from enr import pipeline

    result = pipeline.rollback(args.election, args.version, by=args.by)
    print(f"public/{args.election}/current.json now points to {result['version']}")
    return 0


def cmd_seats(args: argparse.Namespace) -> int:
    from transforms.seats_cli import run

    return run(args.election, args.results, args.turnout, args.constituency_results, args.out)


def cmd_replay(args: argparse.Namespace) -> int:
    from enr import pipeline, replay

    keys = pipeline.ensure_demo_keys()
    night = replay.write_night(Path(args.out), election=args.election, waves=tuple(args.waves.split(",")),
                               sender_home=keys["sender_home"], seed=args.seed, bad=args.bad)
    for wave in night.waves:
        print(f"{wave.label}: {len(wave.files)} deliveries")
    return 0


def cmd_rehearse(args: argparse.Namespace) -> int:
    from enr.rehearsal import run_rehearsal

    countries = [c.strip().upper() for c in args.countries.split(",")] if args.countries else None
    summary = run_rehearsal(election=args.election, countries=countries, waves=tuple(args.waves.split(",")),
                            speed=args.speed, bad=args.bad, corrections=not args.no_corrections, scale=args.scale,
                            seed=args.seed)
    checks = summary["checks"]
    status = summary["status"]
    print()
    print(f"rehearsal of {args.election} in {summary['home']}: {summary['deliveries']} deliveries, "
          f"{summary['rows']:,} rows, {summary['elapsed_s']} s")
    for wave in summary["waves"]:
        published = f", published after {wave['published_s']} s" if "published_s" in wave else ""
        print(f"  wave {wave['wave']}: staged {wave['version']} {wave['staged_s']} s after landing{published}")
    from enr import pipeline

    print(pipeline.format_status(status))
    seats = checks.get("seats", {})
    print(f"seats as official 2019 where the data settles them ({len(seats.get('checked', []))} countries): "
          f"{'OK' if seats.get('ok') else 'DIFFERENT: ' + json.dumps(seats.get('differing'))}")
    print(f"published version verified (primary and backup): {'OK' if checks.get('verify') else 'FAILED'}")
    print(f"test flag on the published version: {'yes' if checks.get('test_flag') else 'NO'}")
    print(f"rehearsal {'PASSED' if checks.get('ok') else 'FAILED'}")
    return 0 if checks.get("ok") else 1


def cmd_lot(args: argparse.Namespace) -> int:
    from enr import pipeline

    pipeline.record_lot(args.election, args.country, args.tie, args.winner, by=args.by)
    print(f"recorded: {args.country} tie {args.tie} -> {args.winner}; the next tally uses it")
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    from enr.airflow_env import airflow_environment

    env = {**os.environ, **airflow_environment(port=args.port)}
    print(f"Airflow UI on http://127.0.0.1:{args.port} (users admin/admin, reviewer/reviewer, operator/operator)")
    from enr.night import _set_password

    _set_password(env)
    airflow = str(Path(sys.executable).with_name("airflow"))
    return subprocess.call([airflow, "standalone"], env=env)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enr", description="Election-night results publisher")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = add("demo", cmd_demo, "replay the 2019 night through Airflow and publish a signed site")
    p.add_argument("--election", default="ep2019")
    p.add_argument("--bad", type=int, default=1, help="bad deliveries to mix in (they end in quarantine)")

    p = add("verify", cmd_verify, "verify a published version (manifest signature and SHA-256 of every file)")
    p.add_argument("path", help="a version folder (public/<election>/<version>) or a bucket URL of one")
    p.add_argument("--keyring", help="GNUPGHOME with the publisher's public key (default: the demo keyring; with "
                                     "--fingerprint: the folder's publisher-key.asc in a scratch keyring)")
    p.add_argument("--fingerprint", action="append", default=[],
                   help="the publisher's primary key fingerprint, obtained out of band (40 hex digits): a valid "
                        "signature by any other key is refused")
    p.add_argument("--json", action="store_true")

    p = add("status", cmd_status, "what is pending, published, accepted and quarantined")
    p.add_argument("--election", default=os.environ.get("ENR_ELECTION", "ep2019"))
    p.add_argument("--json", action="store_true")

    p = add("approve", cmd_approve, "approve (or reject) a pending version through Airflow's REST API")
    p.add_argument("version", nargs="?", help="e.g. v0003; default: the newest pending")
    p.add_argument("--reject", action="store_true")
    p.add_argument("--api-url", default=os.environ.get("ENR_AIRFLOW_URL", "http://127.0.0.1:8080"))
    p.add_argument("--user", default=os.environ.get("ENR_AIRFLOW_USER", "reviewer"),
                   help="an Airflow user named in ENR_REVIEWERS (default reviewer)")
    p.add_argument("--password")

    p = add("rollback", cmd_rollback, "make an earlier published version current again")
    p.add_argument("version")
    p.add_argument("--election", default=os.environ.get("ENR_ELECTION", "ep2019"))
    p.add_argument("--by", default=os.environ.get("USER", "operator"))

    p = add("seats", cmd_seats, "recompute seats from results tables")
    p.add_argument("--election", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--turnout", required=True)
    p.add_argument("--constituency-results")
    p.add_argument("--out", required=True)

    p = add("replay", cmd_replay, "write a night of signed deliveries")
    p.add_argument("--out", required=True)
    p.add_argument("--election", default="ep2019")
    p.add_argument("--waves", default="provisional:40,provisional:85,final:100")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bad", type=int, default=0)

    p = add("rehearse", cmd_rehearse, "rehearse a whole night (estimates, waves, final, corrections, bad "
            "deliveries) through Airflow in a separate rehearsal area; never publishes to a real one")
    p.add_argument("--election", default="ep2019")
    p.add_argument("--countries", help="comma-separated country codes (default: all)")
    p.add_argument("--waves", default="estimate,provisional:25,provisional:60,provisional:90,final:100")
    p.add_argument("--speed", type=float, default=360.0,
                   help="time compression of the deliveries' issued_at (360: a 6-hour night in a minute; 0: no waiting)")
    p.add_argument("--bad", type=int, default=3, help="bad deliveries to mix in (they end in quarantine)")
    p.add_argument("--no-corrections", action="store_true")
    p.add_argument("--scale", help="reporting units: a number, or 'municipal' (ENR_UNITS_SCALE)")
    p.add_argument("--seed", type=int, default=0)

    p = add("lot", cmd_lot, "record the lot drawn to settle a tie")
    p.add_argument("country")
    p.add_argument("tie", help="the tie's key, as shown on the staged methodology page")
    p.add_argument("winner", help="list id that won the lot")
    p.add_argument("--election", default=os.environ.get("ENR_ELECTION", "ep2019"))
    p.add_argument("--by", default=os.environ.get("USER", "operator"))

    p = add("airflow", cmd_airflow, "start Airflow standalone with these DAGs (UI on loopback)")
    p.add_argument("--port", type=int, default=8080)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
