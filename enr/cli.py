"""`enr`: the operator's command line.

    enr demo                      replay the 2019 night through Airflow and publish a signed site
    enr init --purpose P          prepare a home: stores migrated, public areas declared, keys checked
    enr airflow                   start Airflow (standalone) with these DAGs, to watch and approve in the UI
    enr drop FILE...              put signed deliveries into the export bucket's inbox (as the contractor does)
    enr status                    versions pending approval, what is published, deliveries and quarantine
    enr approve VERSION|--reject  answer a pending approval through Airflow's REST API
    enr verify PATH               check a published version: signature and every SHA-256
    enr rollback VERSION          make an earlier published version current again
    enr replicate [VERSION]       copy a published version to the backup bucket (none: retry pending backups)
    enr current                   the election's current.json in a bucket
    enr seats --election ...      recompute seats from published tables (the reviewers' check)
    enr replay --out DIR          write a night of signed deliveries (for a rehearsal or a test)
    enr rehearse [--speed 360]    rehearse a whole night through Airflow in a separate rehearsal area
    enr lot COUNTRY TIE WINNER    record the drawn lot that settles a tie
    enr contractor-pack --election ID --out DIR   what the results contractor needs to write deliveries
    enr check-delivery FILE...    the intake's verdict on delivery files, changing nothing
    enr check-election [DIR]      is an election definition ready? one line per problem (file, row, rule)
    enr subscribers add|list|disable|enable|test   the media's webhook subscribers (docs/MEDIA.md)
    enr write-units --election ID       generate a definition's reporting units from its results files
    enr write-synthetic --election ID   write a synthetic definition's results files
    enr compile-catalogs          compile the site's translation catalogs (.po to .mo) after editing a .po
    enr history migrate|validate|load|verify   the historical results 1979-2019, without Airflow
    enr production secrets|init   the production layout's set-up (docker/.env's secrets; the init service)

A thin face: each subcommand calls one function of the parts below it, and every command's arguments
are parsed here (the modules below have no parser and no ``python -m`` entry). Bad arguments and missing
set-up print one line (what is wrong, what to do) and exit 2; other failures print one line and
exit 1; `enr -v ...` shows the traceback.
"""
from __future__ import annotations

import argparse
import getpass
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

    if args.bucket:  # one bucket by its URL, without the store (e.g. a backup restored elsewhere)
        from publish.release import rollback

        print(json.dumps(rollback(_bucket(args.bucket, args.conn_id), args.election, args.version), indent=1))
        return 0
    require_initialised("`enr rollback`")
    result = operator.rollback(args.election, args.version, by=args.by)
    print(f"public/{args.election}/current.json now points to {result['version']}")
    from enr.subscribers_command import announce_rollback

    print(announce_rollback(args.election, result["version"]))
    return 0


def cmd_seats(args: argparse.Namespace) -> int:
    from enr.seats_command import run

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


def cmd_history(args: argparse.Namespace) -> int:
    """``enr history migrate|validate|load|verify``: the historical results (1979-2019) without Airflow.
    Exit 2 when validation fails (the message names election, rule and lines), 3 when the store holds
    different rows for an election (``--replace`` overwrites them)."""
    from historical_loader import backfill
    from historical_loader.election_days import EP_ELECTION_DAYS
    from historical_loader.errors import HistoryConflictError, HistoryValidationError

    if args.action != "migrate" and not (args.all or args.day):
        raise UsageError("give --day DAY or --all")
    logging.getLogger("historical_loader").setLevel(logging.INFO)
    run_id = args.run_id or f"cli:{getpass.getuser()}"
    days = [d.isoformat() for d in EP_ELECTION_DAYS] if args.all or not args.day else [args.day]
    try:
        if args.action == "migrate":
            out: object = backfill.migrate_store(args.store)
        elif args.action == "validate":
            out = [backfill.validate_window(day, args.data) for day in days]
        elif args.action == "load":
            backfill.migrate_store(args.store)
            if args.all:
                out = backfill.load_all(args.store, run_id=run_id, replace=args.replace, folder=args.data)
            else:
                out = backfill.load_window(days[0], args.store, run_id=run_id, replace=args.replace,
                                           folder=args.data)
            if not args.store:  # the store the stage reads: its history pages into the render cache
                from enr.operator import warm_history_pages

                warm_history_pages()
        else:
            out = [backfill.verify_window(day, args.store, args.data) for day in days]
    except HistoryValidationError as exc:
        print(f"enr history {args.action}: validation failed: {exc}", file=sys.stderr)
        return 2
    except HistoryConflictError as exc:
        print(f"enr history {args.action}: conflict: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(out, indent=2, default=str))
    return 0


def _bucket(url: str, conn_id: str | None):
    """A bucket named on the command line (``file://...`` or ``s3://...``; ``--conn-id`` for an object store)."""
    from publish.bucket import Bucket

    return Bucket(url, conn_id=conn_id)


def cmd_replicate(args: argparse.Namespace) -> int:
    """Copy a published version to the backup bucket and check it there; without a version, every
    version whose backup is pending or failed (as recorded in the store) is copied again."""
    from enr.settings import get_settings

    if args.version is None:
        if args.bucket or args.backup:
            raise UsageError("--bucket and --backup need a VERSION (without one, the store's pending backups "
                             "are retried on the configured buckets)")
        from enr import pipeline

        results = pipeline.retry_backups(args.election)
        print(json.dumps(results, indent=1))
        return 0 if all(r == "ok" for r in results.values()) else 1
    from publish.release import replicate

    settings = get_settings()
    report = replicate(_bucket(args.bucket or settings.bucket_url, args.conn_id),
                       _bucket(args.backup or settings.backup_bucket_url, args.conn_id), args.election, args.version)
    print(json.dumps(report, indent=1))
    return 0


def cmd_current(args: argparse.Namespace) -> int:
    """The election's ``current.json`` in a bucket (default: the export bucket), as JSON."""
    from enr.settings import get_settings
    from publish.release import current

    print(json.dumps(current(_bucket(args.bucket or get_settings().bucket_url, args.conn_id), args.election), indent=1))
    return 0


def cmd_write_units(args: argparse.Namespace) -> int:
    from enr.simulation import write_units

    countries = [c.strip() for c in args.countries.split(",")] if args.countries else None
    for path in write_units(args.election, countries, scale=args.scale, out_dir=args.out):
        print(path)
    return 0


def cmd_compile_catalogs(args: argparse.Namespace) -> int:
    from publish.i18n import LOCALE_DIR, compile_catalogs

    locale_dir = args.locale_dir or LOCALE_DIR
    written = compile_catalogs(locale_dir)
    for path in written:
        print(path)
    if not written:
        print(f"every .mo under {locale_dir} matches its .po: nothing written")
    return 0


def cmd_write_synthetic(args: argparse.Namespace) -> int:
    from enr.definition import load_election
    from enr.synthetic import write_synthetic

    seed = args.seed if args.seed is not None else int(load_election(args.election).results_files.get("synthetic_seed", 0))
    for path in write_synthetic(args.election, seed):
        print(path)
    return 0


def cmd_production(args: argparse.Namespace) -> int:
    """``enr production secrets|init``: the production layout's one-time set-up (:mod:`enr.production`)."""
    from enr import production

    if args.action == "secrets":
        env_file = args.env_file or production.ENV_FILE
        written = production.write_secrets(env_file, args.example or production.ENV_EXAMPLE)
        print(f"{env_file}: {len(written)} secret(s) generated" + (f": {', '.join(written)}" if written else ""))
        return 0
    logging.getLogger().setLevel(logging.INFO)  # the init service's log: one line per step
    production.initialise(airflow_db=not args.skip_airflow_db, store=not args.skip_store,
                          buckets=not args.skip_buckets)
    return 0


def _subscriber_arguments(p: argparse.ArgumentParser) -> None:
    """``enr subscribers add|list|disable|enable|test`` (:func:`enr.subscribers_command.cmd_subscribers`)."""
    sub = p.add_subparsers(dest="action", required=True)
    a = sub.add_parser("add", help="register a newsroom's webhook URL (prints its secret once)")
    a.add_argument("url")
    a.add_argument("--id", dest="subscriber_id", help="letters, digits, _ . - (default: generated)")
    a.add_argument("--secret", help="whsec_<base64> (default: a new random one, Standard Webhooks format)")
    a.add_argument("--countries", help="comma-separated country codes it follows (default: all)")
    a.add_argument("--languages", help="comma-separated languages of the page links it wants (default: none)")
    a.add_argument("--by", default=os.environ.get("USER", "operator"))
    lst = sub.add_parser("list", help="subscribers, their state and failures (secrets masked)")
    lst.add_argument("--json", action="store_true")
    for name, text in (("disable", "stop sending to a subscriber"), ("enable", "send to a subscriber again")):
        d = sub.add_parser(name, help=text)
        d.add_argument("subscriber_id")
        d.add_argument("--reason")
        d.add_argument("--by", default=os.environ.get("USER", "operator"))
    t = sub.add_parser("test", help="send one signed test message now and say what the subscriber answered")
    t.add_argument("subscriber_id")


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
    p.add_argument("--bucket", help="flip current.json in this bucket only (its URL), without the results store")
    p.add_argument("--conn-id", help="with --bucket: the Airflow connection of an object store")

    p = add("seats", cmd_seats, "recompute seats from results tables")
    p.add_argument("--election", required=True, help="election id, e.g. ep2019 (elections/<id>/)")
    p.add_argument("--results", required=True, help="national results CSV (country,list_id,votes[,seats,...])")
    p.add_argument("--turnout", required=True, help="turnout CSV (country,registered_voters,voters,valid_votes,...)")
    p.add_argument("--constituency-results", help="constituency results CSV (country,constituency,list_id,votes[,seats])")
    p.add_argument("--out", required=True, help="where to write country,list_id,seats")

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

    p = add("history", cmd_history, "the historical EP results (1979-2019, ParlGov) without Airflow: migrate the "
            "store, validate the source, load it, verify the store holds exactly the source's rows")
    p.add_argument("action", choices=("migrate", "validate", "load", "verify"))
    which = p.add_mutually_exclusive_group()
    which.add_argument("--day", help="a regular EP election day (the backfill run it stands for, e.g. 1984-06-17)")
    which.add_argument("--all", action="store_true", help="every election day")
    p.add_argument("--store", help="SQLAlchemy URL of the results store (default: ENR_STORE_URL)")
    p.add_argument("--data", type=Path, help="folder of the ParlGov files (default: ENR_HISTORICAL_DIR or "
                   "data/historical)")
    p.add_argument("--replace", action="store_true", help="overwrite stored elections whose rows differ from the source")
    p.add_argument("--run-id", help="recorded as loaded_by_run (default cli:<user>)")

    p = add("replicate", cmd_replicate, "copy a published version to the backup bucket and check it there "
            "(without VERSION: retry every pending or failed backup)")
    p.add_argument("version", nargs="?", help="e.g. v0003")
    p.add_argument("--election", default=os.environ.get("ENR_ELECTION", "ep2019"))
    p.add_argument("--bucket", help="URL of the bucket it is published in (default ENR_BUCKET_URL)")
    p.add_argument("--backup", help="URL of the backup bucket (default ENR_BACKUP_BUCKET_URL)")
    p.add_argument("--conn-id", help="Airflow connection of an object store")

    p = add("current", cmd_current, "the election's current.json in a bucket (what readers are sent to)")
    p.add_argument("--election", default=os.environ.get("ENR_ELECTION", "ep2019"))
    p.add_argument("--bucket", help="bucket URL (default ENR_BUCKET_URL)")
    p.add_argument("--conn-id", help="Airflow connection of an object store")

    p = add("write-units", cmd_write_units, "generate an election definition's unit lists (elections/<id>/units/"
            "<CC>.csv) from its results files")
    p.add_argument("--election", required=True)
    p.add_argument("--countries", help="comma-separated country codes (default: all)")
    p.add_argument("--scale", default="1", help="a number or municipal[*F] (default 1)")
    p.add_argument("--out", type=Path, help="output folder (default: the definition's units/)")

    p = add("write-synthetic", cmd_write_synthetic, "write a synthetic definition's made-up results files "
            "(refused unless the definition says synthetic: true)")
    p.add_argument("--election", required=True)
    p.add_argument("--seed", type=int, default=None, help="default: results_files.synthetic_seed, else 0")

    p = add("compile-catalogs", cmd_compile_catalogs, "compile publish/locale/*/LC_MESSAGES/*.po into the .mo "
            "files committed beside them (after editing a translation)")
    p.add_argument("--locale-dir", type=Path, help="another locale folder (default: the project's publish/locale)")

    p = add("production", cmd_production, "the production layout's set-up (docs/PRODUCTION.md): `secrets` fills "
            "docker/.env once before the first start; `init` is the compose file's one-shot init service")
    steps = p.add_subparsers(dest="action", required=True)
    secrets = steps.add_parser("secrets", help="replace every change-me (or empty secret) of the env file by a fresh "
                               "random value; values already set are kept; mode 0600")
    secrets.add_argument("--env-file", type=Path, default=None, help="default docker/.env")
    secrets.add_argument("--example", type=Path, default=None, help="default docker/.env.example")
    init = steps.add_parser("init", help="migrate Airflow's database and the results store, import the roles, "
                            "create the buckets with their read policy, check the trusted keyring; idempotent")
    init.add_argument("--skip-airflow-db", action="store_true")
    init.add_argument("--skip-store", action="store_true")
    init.add_argument("--skip-buckets", action="store_true")

    from enr.subscribers_command import cmd_subscribers

    _subscriber_arguments(add("subscribers", cmd_subscribers, "the media's webhook subscribers (Standard Webhooks): "
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
