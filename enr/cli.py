"""`enr`: the operator's command line.

    enr demo                      replay the 2019 night through Airflow and publish a signed site
    enr init --purpose P          prepare a home: stores migrated, public areas declared, keys checked
    enr airflow                   start Airflow (standalone) with these DAGs, to watch and approve in the UI
    enr status                    versions pending approval, what is published, deliveries and quarantine
    enr approve VERSION|--reject  answer a pending approval through Airflow's REST API
    enr verify PATH               check a published version: signature and every SHA-256
    enr rollback VERSION          make an earlier published version current again
    enr seats --election ...      recompute seats from published tables (the reviewers' check)
    enr replay --out DIR          write a night of signed deliveries (for a rehearsal or a test)
    enr rehearse [--speed 360]    rehearse a whole night through Airflow in a separate rehearsal area
    enr lot COUNTRY TIE WINNER    record the drawn lot that settles a tie
    enr contractor-pack --election ID --out DIR   what the results contractor needs to write deliveries
    enr check-delivery FILE...    the intake's verdict on delivery files, changing nothing
    enr check-election [DIR]      is an election definition ready? one line per problem (file, row, rule)
    enr subscribers add|list|disable|enable|test   the media's webhook subscribers (docs/MEDIA.md)

A thin face: each subcommand calls one function of the parts below it. Bad arguments and missing
set-up print one line (what is wrong, what to do) and exit 2; other failures print one line and
exit 1; `enr -v ...` shows the traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path

from enr.errors import SetupRequired, UsageError


def _print_seats(summary: dict) -> None:
    groups = summary.get("groups") or []
    width = max((len(g["id"]) for g in groups), default=4)
    for group in groups:
        print(f"  {group['id']:<{width}}  {group['seats']:>4}")
    print(f"  {'total':<{width}}  {sum(g['seats'] for g in groups):>4}")


def cmd_demo(args: argparse.Namespace) -> int:
    from enr import operator
    from enr.night import run_demo_night

    summary = run_demo_night(election=args.election, bad=args.bad)
    current = summary.get("published")
    if not current:
        print("no version was published", file=sys.stderr)
        return 1
    report = operator.verify_current(args.election)
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
    from enr import operator

    if "://" not in args.path and not Path(args.path).is_dir():
        raise UsageError(f"{args.path}: no such folder (a published version, e.g. "
                         f"$ENR_HOME/bucket/public/ep2019/v0003, or a bucket URL of one)")
    report = operator.verify_path(args.path, keyring=args.keyring, fingerprints=args.fingerprint or None)
    print(json.dumps(report, indent=1) if args.json else report["text"])
    return 0 if report["ok"] else 1


def cmd_init(args: argparse.Namespace) -> int:
    from enr.home import init_home

    election = args.election
    for line in init_home(election, args.purpose, demo_keys=args.demo_keys, airflow=not args.no_airflow):
        print(f"  {line}")
    print(f"ready: start Airflow with `enr airflow`, then drop signed deliveries into the export bucket's inbox/")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from enr import operator
    from enr.home import require_initialised

    require_initialised("`enr status`")
    status = operator.status(args.election)
    if args.json:
        print(json.dumps(status, indent=1, default=str))
        return 0
    print(operator.format_status(status))
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    from enr.airflow_api import AirflowAPI
    from enr.home import password_of, passwords_file

    password = args.password or os.environ.get("ENR_AIRFLOW_PASSWORD") or password_of(args.user)
    if not password:
        raise SetupRequired(f"no password for Airflow user {args.user!r}: pass --password or ENR_AIRFLOW_PASSWORD "
                            f"(the embedded Airflow's are in {passwords_file()}, made by `enr init`)")
    api = AirflowAPI(base_url=args.api_url, username=args.user, password=password)
    if not api.healthy():
        raise SetupRequired(f"no Airflow API at {args.api_url}: start it with `enr airflow` (or set --api-url)")
    pending = _of_election(api.approvals_for(args.version), args.election)
    if not pending:
        print(f"no pending approval{' for ' + args.version if args.version else ''}"
              f"{' of ' + args.election if args.election else ''}", file=sys.stderr)
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


def _of_election(pending: list[dict], election: str | None) -> list[dict]:
    """Only the approvals of ``election`` (their subject: ``Publish <election> results <version>?``):
    two elections side by side both have a v0001."""
    return [d for d in pending if not election or (d.get("subject") or "").startswith(f"Publish {election} results ")]


def cmd_rollback(args: argparse.Namespace) -> int:
    from enr import operator
    from enr.home import require_initialised

    require_initialised("`enr rollback`")
    result = operator.rollback(args.election, args.version, by=args.by)
    print(f"public/{args.election}/current.json now points to {result['version']}")
    from enr.media.commands import announce_rollback

    print(announce_rollback(args.election, result["version"]))
    return 0


def cmd_seats(args: argparse.Namespace) -> int:
    from transforms.seats_cli import run

    return run(args.election, args.results, args.turnout, args.constituency_results, args.out)


def cmd_replay(args: argparse.Namespace) -> int:
    from enr import demo, replay
    from enr.definition import load_election

    waves = _waves(args.waves)
    countries = [c.strip().upper() for c in args.countries.split(",")] if args.countries else None
    unknown = sorted(set(countries or ()) - set(load_election(args.election).countries))
    if unknown:
        raise UsageError(f"--countries: {', '.join(unknown)} not in {args.election}")
    keys = demo.ensure_demo_keys()
    night = replay.write_night(Path(args.out), election=args.election, waves=waves, countries=countries,
                               sender_home=keys["sender_home"], seed=args.seed, bad=args.bad)
    for wave in night.waves:
        print(f"{wave.label}: {len(wave.files)} deliveries")
    return 0


def _waves(spec: str) -> tuple:
    from enr.replay import Wave

    try:
        return tuple(Wave.parse(w) for w in spec.split(","))
    except ValueError as exc:
        raise UsageError(f"--waves {spec!r}: {exc}; expected comma-separated STATUS[:PERCENT], "
                         f"e.g. provisional:40,provisional:85,final:100") from exc


def cmd_drop(args: argparse.Namespace) -> int:
    from enr import demo
    from enr.home import require_initialised

    require_initialised("`enr drop`")
    files = [Path(f) for f in args.files if not f.endswith(".asc")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    unsigned = [f.name for f in files if not f.with_name(f.name + ".asc").is_file()]
    demo.drop_into_inbox(files)
    print(f"{len(files)} deliveries in the inbox" + (f" ({len(unsigned)} without a signature: they will be "
                                                     f"refused): {', '.join(unsigned)}" if unsigned else ""))
    return 0


def cmd_rehearse(args: argparse.Namespace) -> int:
    from enr.rehearsal import run_rehearsal

    countries = [c.strip().upper() for c in args.countries.split(",")] if args.countries else None
    summary = run_rehearsal(election=args.election, countries=countries, waves=_waves(args.waves),
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
    from enr import operator

    print(operator.format_status(status))
    seats = checks.get("seats", {})
    if seats.get("synthetic"):
        print(f"seats: synthetic counts ({args.election}), no official seats to compare them with")
    else:
        print(f"seats as official 2019 where the data settles them ({len(seats.get('checked', []))} countries): "
              f"{'OK' if seats.get('ok') else 'DIFFERENT: ' + json.dumps(seats.get('differing'))}")
    print(f"published version verified (primary and backup): {'OK' if checks.get('verify') else 'FAILED'}")
    print(f"test flag on the published version: {'yes' if checks.get('test_flag') else 'NO'}")
    print(f"rehearsal {'PASSED' if checks.get('ok') else 'FAILED'}")
    return 0 if checks.get("ok") else 1


def cmd_lot(args: argparse.Namespace) -> int:
    from enr import operator
    from enr.home import require_initialised

    require_initialised("`enr lot`")
    operator.record_lot(args.election, args.country, args.tie, args.winner, by=args.by)
    print(f"recorded: {args.country} tie {args.tie} -> {args.winner}; the next tally uses it")
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    from enr.airflow_env import airflow_environment, airflow_executable
    from enr.home import EMBEDDED_USERS, ensure_passwords, migrate_airflow, migrate_stores, require_initialised
    from enr.supervise import run_supervised

    record = require_initialised("`enr airflow`")
    env = {**os.environ, **airflow_environment(port=args.port)}
    env.setdefault("ENR_ELECTION", record.get("election", "ep2019"))
    for line in migrate_stores():
        print(f"  {line}")
    passwords, _ = ensure_passwords()
    migrate_airflow(env)
    base = f"http://127.0.0.1:{args.port}"
    print(f"Airflow UI on {base} — users {', '.join(EMBEDDED_USERS)}; their passwords are in {passwords}")
    print(f"  approvals: {base}/required_actions   pre-publication site: {base}/enr-preview/")
    print("  stop with Ctrl-C (or `kill` this process): every Airflow process stops with it", flush=True)
    return run_supervised([airflow_executable(), "standalone"], env)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2 through :func:`main`)."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def cmd_contractor_pack(args: argparse.Namespace) -> int:
    from enr.contractor import write_pack

    index = write_pack(args.election, Path(args.out))
    print(f"contractor pack of {index['election']} in {index['out']}: {len(index['countries'])} countries, "
          f"examples {', '.join(index['examples'])}, publisher key {index['publisher_fingerprint']}")
    return 0


def cmd_check_election(args: argparse.Namespace) -> int:
    from enr.check_election import check_election
    from enr.definition import elections_root

    if args.path and args.election:
        raise UsageError("give a definition folder or --election, not both")
    folder = Path(args.path) if args.path else elections_root() / (args.election or os.environ.get("ENR_ELECTION", "ep2019"))
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such election definition folder")
    problems, figures = check_election(folder)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{folder}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{folder}: ready ({figures['countries']} countries, {figures['seats']} seats, {figures['lists']} lists, "
          f"{figures['units']} units, {figures['languages']} languages)")
    return 0


def cmd_check_delivery(args: argparse.Namespace) -> int:
    from enr.intake import check_deliveries

    paths = [Path(p) for p in args.files]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such delivery file")
    results = check_deliveries(paths, election=args.election, trusted_keys=args.trusted_keys,
                               verify=not args.no_signature)
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=1, ensure_ascii=False))
    for result in results if not args.json else ():
        if result.outcome == "refused":
            reason = result.reason or {}
            line = f" line {reason['row']}" if reason.get("row") else ""
            detail = f" (expected {reason.get('expected')}, found {reason.get('found')})" \
                if reason.get("expected") is not None or reason.get("found") is not None else ""
            print(f"refused  {result.file_name}{line}: {result.rule}: {reason.get('message')}{detail}")
        else:
            print(f"{result.outcome:<8} {result.file_name}" + (f" ({result.status})" if result.status else ""))
        for warning in result.warnings:
            print(f"         warning {warning}")
    return 0 if all(r.outcome != "refused" for r in results) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="enr", description="Election-night results publisher")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = add("demo", cmd_demo, "replay a night through Airflow and publish a signed site (ep2019: the real 2019 "
            "counts; ep2024: synthetic counts, marked so on every page)")
    p.add_argument("--election", default=os.environ.get("ENR_ELECTION", "ep2019"))
    p.add_argument("--bad", type=int, default=1, help="bad deliveries to mix in (they end in quarantine)")

    p = add("init", cmd_init, "prepare this home (ENR_HOME) for an election: stores migrated, public areas "
            "declared, keys checked, Airflow's users and secrets; idempotent")
    p.add_argument("--election", default=os.environ.get("ENR_ELECTION", "ep2019"))
    p.add_argument("--purpose", choices=("election", "rehearsal"),
                   help="what the public areas are for (needed once, when they are not declared yet)")
    p.add_argument("--demo-keys", action="store_true",
                   help="make throwaway sender and signing keys (a rehearsal on this machine; never a real night)")
    p.add_argument("--no-airflow", action="store_true", help="skip the embedded Airflow's database and users")

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
    p.add_argument("--election", help="only this election's approvals (default: any; two elections side by side "
                   "both have a v0001)")
    p.add_argument("--api-url", default=os.environ.get("ENR_AIRFLOW_URL") or
                   f"http://127.0.0.1:{os.environ.get('ENR_AIRFLOW_PORT') or 8080}")
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
    p.add_argument("--election", default=os.environ.get("ENR_ELECTION", "ep2019"))
    p.add_argument("--waves", default="provisional:40,provisional:85,final:100")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bad", type=int, default=0)
    p.add_argument("--countries", help="comma-separated country codes (default: all)")

    p = add("drop", cmd_drop, "put signed deliveries into the export bucket's inbox as the contractor does "
            "(each .csv first, its .asc signature last)")
    p.add_argument("files", nargs="+", help="delivery files (.csv; their .csv.asc beside them)")

    p = add("rehearse", cmd_rehearse, "rehearse a whole night (estimates, waves, final, corrections, bad "
            "deliveries) through Airflow in a separate rehearsal area; never publishes to a real one")
    p.add_argument("--election", default=os.environ.get("ENR_ELECTION", "ep2019"))
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

    p = add("contractor-pack", cmd_contractor_pack, "write what the results contractor needs (units, lists, "
            "constituencies, the format, the metadata schema, examples, the publisher's key fingerprint)")
    p.add_argument("--election", required=True)
    p.add_argument("--out", required=True, help="a new or empty folder")

    p = add("check-delivery", cmd_check_delivery, "the intake's verdict on delivery files (signature, parse, "
            "suites) without changing the store or the bucket; exit 0 if every file would be accepted")
    p.add_argument("files", nargs="+", help="<election>-<CC>-<seq>.csv files, each with its .asc beside it")
    p.add_argument("--election", help="default: the file name's")
    p.add_argument("--trusted-keys", help="GnuPG home with the sender's public key and senders.json "
                   "(default ENR_TRUSTED_KEYS)")
    p.add_argument("--no-signature", action="store_true", help="skip the signature check (format tests only)")
    p.add_argument("--json", action="store_true")

    p = add("check-election", cmd_check_election, "check an election definition before the night (seats, methods, "
            "lists and groups, constituencies, languages, embargo, legal sources, units); one line per problem")
    p.add_argument("path", nargs="?", help="a definition folder (elections/<id>); default: --election's")
    p.add_argument("--election", help="an election id under ENR_ELECTIONS_DIR (default ENR_ELECTION)")

    from enr.media.commands import add_arguments as subscriber_arguments, cmd_subscribers

    subscriber_arguments(add("subscribers", cmd_subscribers, "the media's webhook subscribers (Standard Webhooks): "
                             "add, list, disable, enable, test"))

    p = add("airflow", cmd_airflow, "start Airflow standalone with these DAGs (UI on loopback)")
    p.add_argument("--port", type=int, default=int(os.environ.get("ENR_AIRFLOW_PORT") or 8080),
                   help="the UI's and API's port on 127.0.0.1 (default ENR_AIRFLOW_PORT or 8080)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    verbose = any(a in ("-v", "--verbose") for a in argv)
    command = next((a for a in argv if not a.startswith("-")), "")
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return args.func(args)
    except (UsageError, SetupRequired) as exc:
        if verbose:
            traceback.print_exc()
        print(f"enr {command}: {exc}".replace("enr : ", "enr: "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the operator gets one line; -v shows the traceback
        if verbose:
            traceback.print_exc()
        kind = _user_error(exc)
        print(f"enr {command}: {exc}" + ("" if verbose else f"  (`enr -v {command} ...` shows the traceback)"),
              file=sys.stderr)
        return 2 if kind else 1


def _user_error(exc: Exception) -> bool:
    """Errors in what the operator gave (a file, an election id, a table): exit 2 like a bad argument."""
    from enr.definition import DefinitionError
    from enr.seats_command import InputError

    return isinstance(exc, (DefinitionError, InputError, FileNotFoundError, IsADirectoryError))


if __name__ == "__main__":
    sys.exit(main())
