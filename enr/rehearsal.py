"""Rehearsal: a whole election night replayed as a timed stream of signed test deliveries.

A rehearsal is what the desk runs in the weeks before the night: the contractor's deliveries as
they would arrive (a national estimate first, then provisional waves with a growing share of the
reporting units, then final results, then a few corrections), with some bad deliveries mixed in,
all through the real DAGs in Airflow, approvals answered through the REST API — the demo's
driver (:func:`enr.night.airflow_running`, :func:`enr.night.run_waves`).

* **Timed**: each wave is dropped into the inbox at its deliveries' ``issued_at``, compressed by
  ``speed`` (``--speed 360``: a 6-hour night in a minute; 30 minutes between waves become 5 s).
  When the pipeline is slower than the compressed clock, the next wave lands as soon as the
  previous one is done and the lag is reported.
* **Always a test**: every delivery carries ``"test": true``, so does every row of the store,
  every bundle, manifest, feed row and page (the TEST banner).
* **Never in a real public area** (the hard guard, two layers):

  1. a rehearsal runs in its own area: its own ``ENR_HOME`` (``$ENR_HOME/rehearsal/<election>``
     by default) with its own export and backup buckets, store, keys and Airflow home; the
     export bucket is marked ``AREA.json {"purpose": "rehearsal"}`` before anything runs, and a
     bucket marked for a real election (or where a real version was published) is refused;
  2. the publish step itself (:func:`publish.release.check_area`) refuses a test version into a
     real election's public area and a real version into a rehearsal area, whatever called it.

* **Checked at the end**: the published seats against the official 2019 seats where the data
  settles them (:data:`SETTLED`, the golden test's list), the published version verified
  (signatures and every digest, primary and backup), and the operator's view (``enr status``)
  listing the rejected deliveries and the corrections.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

from enr.home import init_home
from enr.settings import get_settings

DEFAULT_WAVES = ("estimate", "provisional:25", "provisional:60", "provisional:90", "final:100")
# Countries whose 2019 seats the data in data/ep2019 settles (tests/test_seats_golden.py: SETTLED).
SETTLED = ("AT", "BE", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IT", "LT", "LU", "LV",
           "NL", "PL", "PT", "RO", "SE", "SI", "SK")
AREA_VARIABLES = ("ENR_BUCKET_URL", "ENR_BACKUP_BUCKET_URL", "ENR_STORE_URL", "ENR_TRUSTED_KEYS",
                  "ENR_SIGNING_HOME", "AIRFLOW_HOME")


class RehearsalRefused(RuntimeError):
    """The rehearsal would run against a real election's area."""


def rehearsal_home(election: str) -> Path:
    return get_settings().home / "rehearsal" / election


@contextmanager
def rehearsal_area(home: Path, *, bucket_url: str | None = None) -> Iterator[Path]:
    """Point every setting of this process (and of the Airflow processes it starts) at ``home``."""
    saved = {k: os.environ.get(k) for k in ("ENR_HOME", *AREA_VARIABLES)}
    home.mkdir(parents=True, exist_ok=True)
    os.environ["ENR_HOME"] = str(home)
    for key in AREA_VARIABLES:
        os.environ.pop(key, None)
    if bucket_url:
        os.environ["ENR_BUCKET_URL"] = bucket_url
    os.environ["AIRFLOW_HOME"] = str(home / "airflow")
    try:
        yield home
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def guard_area(election: str) -> dict:
    """Mark the export bucket as a rehearsal area; refuse one that belongs to a real election."""
    from enr import pipeline
    from publish.release import AreaMismatch, area_purpose, mark_area

    bucket = pipeline.export_bucket()
    area = area_purpose(bucket, election)
    if area["purpose"] == "election":
        raise RehearsalRefused(f"{bucket.url}: this is a real election's area ({area['why']}); "
                               "a rehearsal never runs there")
    try:
        return mark_area(bucket, "rehearsal")
    except AreaMismatch as exc:
        raise RehearsalRefused(str(exc)) from exc


def night_clock(waves, speed: float, echo=print):
    """``wait_until(index, wave)`` for :func:`enr.night.run_waves`: waits for the wave's compressed issue time."""
    start = [0.0]  # the night's clock starts when the first wave lands
    times = []
    for wave in waves:
        issued = [json.loads(p.read_bytes().split(b"\n", 1)[0][len(b"#ENR "):])["issued_at"] for p in wave.files]
        times.append(min(datetime.fromisoformat(t) for t in issued) if issued else None)
    origin = next((t for t in times if t is not None), None)
    lags: list[float] = []

    def wait_until(index: int, wave) -> None:
        if index == 0 or not start[0]:
            start[0] = time.monotonic()
        if origin is None or times[index] is None or speed <= 0:
            return
        due = start[0] + (times[index] - origin).total_seconds() / speed
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
            lags.append(0.0)
        else:
            lags.append(round(now - due, 1))
            if now - due > 1:
                echo(f"  (wave {wave.label} lands {now - due:.1f} s after its compressed issue time: the pipeline is "
                     f"slower than --speed {speed:g})")

    wait_until.lags = lags  # type: ignore[attr-defined]
    return wait_until


def official_seats(election: str) -> dict[str, dict[str, int]]:
    """``{country: {list_id: seats}}`` from the definition's national results file."""
    import csv

    from enr.definition import load_election

    definition = load_election(election)
    seats: dict[str, dict[str, int]] = {}
    with definition.resolve(definition.results_files["national"]).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["seats"].strip():
                seats.setdefault(row["country"], {})[row["list_id"]] = int(row["seats"])
    return seats


def compare_seats(bundle: dict, election: str, countries: list[str] | None = None) -> dict:
    """The published seats against the official ones, for the settled countries the bundle reports.
    A definition with synthetic counts (ep2024) has no official seats: nothing to compare."""
    from enr.definition import load_election

    if load_election(election).synthetic:
        return {"checked": [], "differing": {}, "ok": True, "synthetic": True}
    official = official_seats(election)
    checked, differing = [], {}
    for country in bundle["countries"]:
        code = country["code"]
        if code not in SETTLED or country.get("status") in (None, "none") or (countries and code not in countries):
            continue
        got = {l["list_id"]: int(l["seats"]) for l in country["lists"] if l.get("seats")}
        want = {k: v for k, v in official.get(code, {}).items() if v}
        checked.append(code)
        if got != want:
            differing[code] = {"published": got, "official": want}
    return {"checked": checked, "differing": differing, "ok": not differing and bool(checked)}


def run_rehearsal(*, election: str = "ep2019", countries: list[str] | None = None,
                  waves: tuple[str, ...] = DEFAULT_WAVES, speed: float = 360.0, bad: int = 3,
                  corrections: bool = True, scale: str | None = None, seed: int = 0, home: Path | None = None,
                  bucket_url: str | None = None, fresh: bool = True, echo=print) -> dict:
    """Rehearse ``election``'s night through Airflow in a rehearsal area; returns what happened and the checks."""
    from enr import night as night_driver
    from enr import pipeline, replay

    home = Path(home or rehearsal_home(election))
    if fresh and home.exists():
        shutil.rmtree(home)
    started = time.monotonic()
    saved_scale = os.environ.get("ENR_UNITS_SCALE")
    if scale:
        os.environ["ENR_UNITS_SCALE"] = scale
    try:
        with rehearsal_area(home, bucket_url=bucket_url):
            marker = guard_area(election)
            echo(f"rehearsal area {home} (export bucket {pipeline.export_bucket().url}, marked "
                 f"{marker['purpose']}); every delivery, row and file carries test=true")
            # the area is a home of its own, prepared as `enr init --purpose rehearsal --demo-keys` does
            init_home(election, "rehearsal", demo_keys=True, airflow=False)
            keys = pipeline.ensure_demo_keys()
            outbox = home / "outbox"
            night = replay.write_night(outbox, election=election, waves=waves, sender_home=keys["sender_home"],
                                       seed=seed, countries=countries, corrections=corrections, bad=bad, test=True,
                                       scale=scale)
            rows = sum(max(0, p.read_bytes().count(b"\n") - 2) for p in night)
            echo(f"{len(night)} deliveries written ({rows:,} rows; {bad} bad mixed in; waves: "
                 f"{', '.join(w.label for w in night.waves)}); speed x{speed:g}")
            clock = night_clock(night.waves, speed, echo)
            with night_driver.airflow_running(echo, extra_env={"ENR_DEMO_SENDER_HOME": str(keys["sender_home"])}) \
                    as airflow:
                played = night_driver.run_waves(airflow, election, night.waves, echo, hold_before_last=False,
                                                wait_until=clock)
            status = pipeline.status(election)
            summary = {"election": election, "home": str(home), "waves": played, "lags_s": clock.lags,
                       "deliveries": len(night), "rows": rows, "status": status, "published": status["current"]}
            summary["checks"] = check_rehearsal(election, status, countries=countries)
    finally:
        if scale:
            if saved_scale is None:
                os.environ.pop("ENR_UNITS_SCALE", None)
            else:
                os.environ["ENR_UNITS_SCALE"] = saved_scale
    summary["elapsed_s"] = round(time.monotonic() - started, 1)
    return summary


def check_rehearsal(election: str, status: dict, countries: list[str] | None = None) -> dict:
    """End-of-rehearsal checks: seats as official where settled, verified manifest, the operator's view."""
    from enr import pipeline

    checks: dict = {"published": bool(status.get("current"))}
    if not status.get("current"):
        return {**checks, "ok": False}
    version = status["current"]["version"]
    bucket = pipeline.export_bucket()
    bundle = json.loads(bucket.read(f"public/{election}/{version}/data/bundle.json"))
    checks["test_flag"] = bool(bundle.get("test")) and bool(status["current"].get("test"))
    checks["seats"] = compare_seats(bundle, election, countries)
    checks["verify"] = pipeline.verify_current(election)["ok"]
    checks["rejected"] = [d["file_name"] for d in status["deliveries"] if d["outcome"] == "quarantined"]
    checks["corrections"] = len(status["corrections"])
    checks["ok"] = bool(checks["test_flag"] and checks["seats"]["ok"] and checks["verify"])
    return checks


__all__ = ["DEFAULT_WAVES", "RehearsalRefused", "SETTLED", "check_rehearsal", "compare_seats", "guard_area",
           "official_seats", "rehearsal_area", "run_rehearsal"]
