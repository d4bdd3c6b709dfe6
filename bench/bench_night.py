"""Benchmark a full-EU wave at municipal scale through the pipeline's own steps (not a test).

    .venv/bin/python bench/bench_night.py [--runs 3] [--scale municipal] [--workers 2]

What it measures, each step in its own Python process (so its peak memory, ``ru_maxrss``, is its
own; times are taken inside the process around the step's call, plus the process's wall time; the
tasks' third-party libraries are imported before the clock starts, as a worker of either executor
has them imported before it forks a task, plugins/enr_airflow/preload.py):

1. **ingest** (signature + strict parse + Great Expectations suite + store), the whole EU's final
   wave at ``--scale`` (default ``municipal``), countries taken from one queue by ``--workers``
   processes, in the DAG's order: the inbox sensor lists the countries with the most bytes waiting
   first (``pending_countries(largest_first=True)``), the DAG maps one ingest task per country in
   that order (``ingest.expand``), Airflow queues them by map index and each goes to whichever
   worker slot is free, so a slot that finished a large country takes the next one; here the queue
   is a claim file per country that a process creates (``O_EXCL``) before it ingests the country
   -> rows/s of parse+validate;
2. **tally**: every country's seats and the EU aggregate from the store (``pipeline.tally``);
3. **render + sign**: the whole site, 24 languages, history pages, feeds, widget, manifest and
   signatures, staged to the local bucket (``pipeline.stage(incremental=False)``);
4. **one-country update**: a correction delivery for one country: ingest, tally, incremental
   stage (only what the country touches re-rendered), against a full re-render of the same version.

Every run is **cold**: its own empty social-card cache (``ENR_CARD_CACHE``, a new folder per run),
so the full render draws every card (696 for 29 pages x 24 languages), as on a night whose numbers
no earlier render has seen; ``cards_drawn`` says how many were drawn. The history is loaded
before the wave (``operator.load_history``), which renders the history pages into the run's own
render cache (``<ENR_HOME>/render-cache``, :mod:`publish.render_cache`; each run has its own home,
so its own cache), outside the wave's clock, as the historical_backfill DAG does before the night;
the stage takes them from there. ``ENR_RENDER_CACHE=`` (empty) measures the stage without it. The machine's load average
(1 minute) is noted before and after each step: on the shared 2-core machine it moves the figures.
``--profile`` also profiles the ingest of the largest country, a cold full render and a one-country update.

Writes bench/results/night.json (the figures) and bench/results/night.md; ``bench/run_all.py``
merges them into BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable
ELECTION = "ep2019"

# Each step runs as: python bench_night.py --step NAME --home H [--countries ...]; it prints one JSON line.
STEP_CODE = r'''
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
step, args = sys.argv[1], json.loads(sys.argv[2])
import logging
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
for noisy in ("great_expectations", "gnupg", "urllib3", "botocore", "fsspec"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
from enr import pipeline
# as in a worker of either executor (plugins/enr_airflow/preload.py): the tasks' third-party libraries
# are imported before a task process starts, so before the step's clock starts here
from plugins.enr_airflow.preload import preload
preload()
def cpu():
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime
cpu_start = cpu()
start, started_at = time.perf_counter(), time.time()
out = {{}}
if step == "ingest":
    rows = 0
    for country in args["countries"]:
        if args.get("claims"):  # the shared queue: the first process to claim a country ingests it
            try:
                os.close(os.open(os.path.join(args["claims"], country), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                continue
            out.setdefault("countries", []).append(country)
        summary = pipeline.ingest_country({election!r}, country)
        assert not summary["quarantined"], summary
        out.setdefault("accepted", 0)
        out["accepted"] += len(summary["accepted"])
elif step == "tally":
    out = pipeline.tally({election!r}) or {{}}
elif step == "stage":
    tallied = pipeline.tally({election!r}, force=args.get("force", False)) if args.get("tally") else args["tallied"]
    out = pipeline.stage({election!r}, tallied, incremental=args["incremental"])
elif step in ("profile", "profile_stage", "profile_update"):
    import cProfile, pstats, io
    profiler = cProfile.Profile()
    profiler.enable()
    if step == "profile":
        for country in args["countries"]:
            pipeline.ingest_country({election!r}, country)
    elif step == "profile_update":  # the one-country update: tally + incremental stage
        pipeline.stage({election!r}, pipeline.tally({election!r}), incremental=True)
    else:
        pipeline.stage({election!r}, pipeline.tally({election!r}), incremental=False)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
    out = {{"profile": text.getvalue()}}
out["seconds"] = time.perf_counter() - start
out["clock"] = [started_at, time.time()]  # wall-clock bounds of the step inside the process
out["cpu_s"] = cpu() - cpu_start  # this process and its children (card helper, gpg): what load does not inflate
# peak RSS of this process: VmHWM (ru_maxrss would include the parent's peak, inherited across fork)
out["maxrss_mb"] = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print("RESULT " + json.dumps(out, default=str))
'''


def load() -> float:
    """The 1-minute load average of the machine."""
    return round(os.getloadavg()[0], 2)


def run_step(step: str, args: dict, env: dict) -> dict:
    code = STEP_CODE.format(root=str(ROOT), election=ELECTION)
    load_before = load()
    started = time.perf_counter()
    proc = subprocess.run([PY, "-c", code, step, json.dumps(args)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    (RESULTS / "logs").mkdir(parents=True, exist_ok=True)
    with (RESULTS / "logs" / "night-steps.log").open("a") as handle:
        handle.write(f"=== {step} {json.dumps(args)[:200]}\n{proc.stderr[-20000:]}\n")
    if proc.returncode != 0:
        raise RuntimeError(f"step {step} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["wall_s"] = wall
    result["load"] = [load_before, load()]
    drawn = re.findall(r"cards_drawn=(\d+)", proc.stderr)
    if drawn:
        result["cards_drawn"] = sum(int(n) for n in drawn)
    return result


def run_parallel(step: str, groups: list[list[str]], env: dict, claims: Path | None = None) -> tuple[float, list[dict]]:
    """Run ``step`` in one process per group; with ``claims`` (an empty folder), every group is the
    same queue of countries and each process ingests the countries it claims first."""
    code = STEP_CODE.format(root=str(ROOT), election=ELECTION)
    started = time.perf_counter()
    extra = {"claims": str(claims)} if claims is not None else {}
    procs = [subprocess.Popen([PY, "-c", code, step, json.dumps({"countries": g, **extra})], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for g in groups]
    results = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{step} failed:\n{out[-3000:]}\n{err[-5000:]}")
        results.append(json.loads(next(l for l in out.splitlines() if l.startswith("RESULT "))[len("RESULT "):]))
    processes_wall = time.perf_counter() - started
    # as for the other steps: from the first worker's clock start to the last one's end (process
    # start-up and the preload before it, as in an Airflow worker, not counted)
    wall = max(r["clock"][1] for r in results) - min(r["clock"][0] for r in results)
    for result in results:
        result["processes_wall_s"] = processes_wall
    return wall, results


def balance(sizes: dict[str, int], workers: int) -> list[list[str]]:
    groups: list[list[str]] = [[] for _ in range(workers)]
    load = [0] * workers
    for country, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        k = load.index(min(load))
        groups[k].append(country)
        load[k] += size
    return [g for g in groups if g]


def prepare(scale: str, cache: Path, change: str) -> dict:
    """Write (once) the signed final wave of every country and a correction for ``change``."""
    os.environ["ENR_UNITS_SCALE"] = scale
    os.environ["ENR_HOME"] = str(cache / "home")
    from enr import demo, replay

    marker = cache / "night.json"
    keys = demo.ensure_demo_keys()
    if not marker.exists():
        night = replay.write_night(cache / "deliveries", election=ELECTION, waves=("final:100",),
                                   sender_home=keys["sender_home"], scale=scale)
        rows, correction = replay.correction_rows(ELECTION, change, replay.wave_rows(ELECTION, change, "final:100"))
        data = replay.make_delivery(ELECTION, change, "final:100", 2, rows=rows, corrects=1, reason=correction,
                                    wave_index=1)
        replay.write_delivery(cache / "update", data, replay.delivery_name(ELECTION, change, 2),
                              sender_home=keys["sender_home"])
        marker.write_text(json.dumps({"files": [p.name for p in night]}))
    files = sorted((cache / "deliveries").glob("*.csv"))
    sizes = {f.name.split("-")[1]: max(0, f.read_bytes().count(b"\n") - 2) for f in files}
    return {"files": files, "rows": sizes, "keys": keys, "update": sorted((cache / "update").glob("*.csv"))}


# The runs' homes, removed only after the last run, not between runs: on a file system without a
# journal (this machine's ext4) creating a file skips every inode deleted in the last ~30 s, so
# thousands of files removed just before a run would slow its stage, as nothing does on a worker.
FINISHED: list[Path] = []


def compile_project() -> None:
    """Compile the project's modules to bytecode, as the production image does (docker/Dockerfile):
    a task process then loads them instead of compiling them (with ``PYTHONDONTWRITEBYTECODE`` set,
    as in that image and on this machine, nothing else would write them)."""
    import compileall

    for package in ("enr", "publish", "transforms", "expectations", "historical_loader", "plugins", "dags"):
        compileall.compile_dir(str(ROOT / package), quiet=1)


def one_run(number: int, prepared: dict, cache: Path, workers: int, change: str, env_base: dict) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"enr-bench-{number}-", dir="/tmp"))
    cards = home / "card-cache"  # empty: the render draws every card, as for a wave never seen before
    env = {**env_base, "ENR_HOME": str(home), "ENR_CARD_CACHE": str(cards)}
    # the keys, and the scaled unit sets the replay wrote (the intake reads them; it never invents one)
    for name in ("keys", "units"):
        shutil.copytree(cache / "home" / name, home / name, symlinks=True,
                        ignore=shutil.ignore_patterns("S.gpg-agent*", "*.lock"))
    os.environ["ENR_HOME"] = str(home)
    from enr import demo, operator, pipeline

    pipeline.open_store().migrate()
    operator.load_history(run_id="bench")
    demo.drop_into_inbox(prepared["files"])
    groups = [pipeline.pending_countries(ELECTION, largest_first=True)] * workers  # the inbox sensor's order
    claims = home / "ingest-claims"
    claims.mkdir()
    ingest_load = load()
    wall, results = run_parallel("ingest", groups, env, claims)
    claimed = sorted(country for r in results for country in r.get("countries", []))
    assert claimed == sorted(prepared["rows"]), f"the ingest queue lost or repeated countries: {claimed}"
    ingest_load = [ingest_load, load()]
    rows = sum(prepared["rows"].values())
    tally = run_step("tally", {}, env)
    tallied = {k: tally[k] for k in ("election", "version", "bundle_path")}
    stage = run_step("stage", {"tallied": tallied, "incremental": False}, env)
    # the one-country update: its delivery lands, is ingested, tallied, staged incrementally
    demo.drop_into_inbox(prepared["update"])
    update_ingest = run_step("ingest", {"countries": [change]}, env)
    update_tally = run_step("tally", {}, env)
    tallied2 = {k: update_tally[k] for k in ("election", "version", "bundle_path")}
    update_stage = run_step("stage", {"tallied": tallied2, "incremental": True}, env)
    full_again = run_step("stage", {"tally": True, "force": True, "incremental": False}, env)
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**env, "GNUPGHOME": str(home / "keys" / "signing")},
                   capture_output=True)
    FINISHED.append(home)  # removed after the last run (see FINISHED)
    return {
        "rows": rows, "countries": len(prepared["rows"]), "workers": len(groups),
        "ingest_worker_countries": [r.get("countries", []) for r in results],
        "ingest_s": wall, "ingest_rows_per_s": rows / wall, "ingest_processes_wall_s": results[0]["processes_wall_s"],
        "ingest_maxrss_mb": max(r["maxrss_mb"] for r in results),
        "ingest_cpu_s": sum(r["cpu_s"] for r in results), "ingest_cpu_max_worker_s": max(r["cpu_s"] for r in results),
        "tally_cpu_s": tally["cpu_s"], "stage_cpu_s": stage["cpu_s"], "full_rerender_cpu_s": full_again["cpu_s"],
        "update_stage_cpu_s": update_stage["cpu_s"],
        "tally_s": tally["seconds"], "tally_maxrss_mb": tally["maxrss_mb"],
        "stage_s": stage["seconds"], "stage_maxrss_mb": stage["maxrss_mb"],
        "wave_total_s": wall + tally["seconds"] + stage["seconds"],
        "update_ingest_s": update_ingest["seconds"], "update_ingest_maxrss_mb": update_ingest["maxrss_mb"],
        "update_tally_s": update_tally["seconds"], "update_stage_s": update_stage["seconds"],
        "update_stage_maxrss_mb": update_stage["maxrss_mb"],
        "update_s": update_tally["seconds"] + update_stage["seconds"],
        "update_with_ingest_s": update_ingest["seconds"] + update_tally["seconds"] + update_stage["seconds"],
        "full_rerender_s": full_again["seconds"],
        "process_overhead_s": stage["wall_s"] - stage["seconds"],
        "cards_drawn": stage.get("cards_drawn"), "update_cards_drawn": update_stage.get("cards_drawn"),
        "load": {"ingest": ingest_load, "tally": tally["load"], "stage": stage["load"],
                 "update_stage": update_stage["load"], "full_rerender": full_again["load"]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", default="municipal")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--change", default="AT", help="the country of the one-country update")
    parser.add_argument("--cache", default="/tmp/enr-bench-cache")
    parser.add_argument("--profile", action="store_true", help="also profile the ingest of the largest country")
    args = parser.parse_args()
    cache = Path(args.cache) / args.scale.replace("*", "x")
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    compile_project()
    prepared = prepare(args.scale, cache, args.change)
    print(f"deliveries ready ({sum(prepared['rows'].values()):,} rows, {time.perf_counter() - started:.0f} s)",
          flush=True)
    env = {**os.environ, "ENR_UNITS_SCALE": args.scale, "GX_ANALYTICS_ENABLED": "false"}
    for var in ("ENR_BUCKET_URL", "ENR_BACKUP_BUCKET_URL", "ENR_STORE_URL", "ENR_TRUSTED_KEYS", "ENR_SIGNING_HOME"):
        env.pop(var, None)
    runs = []
    for number in range(args.runs):
        run = one_run(number, prepared, cache, args.workers, args.change, env)
        runs.append(run)
        print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in run.items()}), flush=True)
    profile = None
    if args.profile:
        home = Path(tempfile.mkdtemp(prefix="enr-bench-prof-", dir="/tmp"))
        for name in ("keys", "units"):
            shutil.copytree(cache / "home" / name, home / name, symlinks=True,
                            ignore=shutil.ignore_patterns("S.gpg-agent*", "*.lock"))
        os.environ["ENR_HOME"] = str(home)
        from enr import demo, operator, pipeline

        pipeline.open_store().migrate()
        biggest = max(prepared["rows"], key=prepared["rows"].get)
        demo.drop_into_inbox([f for f in prepared["files"] if f"-{biggest}-" in f.name])
        profile_env = {**env, "ENR_HOME": str(home), "ENR_CARD_CACHE": str(home / "card-cache")}
        ingest = run_step("profile", {"countries": [biggest]}, profile_env)
        operator.load_history(run_id="bench-profile")
        demo.drop_into_inbox([f for f in prepared["files"] if f"-{biggest}-" not in f.name])
        for group in balance({k: v for k, v in prepared["rows"].items() if k != biggest}, 1):
            run_step("ingest", {"countries": group}, profile_env)
        render = run_step("profile_stage", {}, profile_env)  # cold: its own empty card cache
        demo.drop_into_inbox(prepared["update"])
        run_step("ingest", {"countries": [args.change]}, profile_env)
        update = run_step("profile_update", {}, profile_env)
        profile = {"country": biggest, "rows": prepared["rows"][biggest], "text": ingest["profile"],
                   "load": ingest["load"], "render_text": render["profile"], "render_load": render["load"],
                   "render_cards_drawn": render.get("cards_drawn"), "update_text": update["profile"],
                   "update_load": update["load"], "update_cards_drawn": update.get("cards_drawn")}
        shutil.rmtree(home, ignore_errors=True)
    for home in FINISHED:
        shutil.rmtree(home, ignore_errors=True)
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]
              if isinstance(runs[0][k], (int, float)) and all(isinstance(r[k], (int, float)) for r in runs)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "night.json").write_text(json.dumps({"scale": args.scale, "runs": runs, "median": median,
                                                    "cold_card_cache": True, "cpus": os.cpu_count(),
                                                    "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                                                             cwd=ROOT, capture_output=True,
                                                                             text=True).stdout.strip(),
                                                    "change": args.change, "profile": profile,
                                                    "command": "bench/bench_night.py " + " ".join(sys.argv[1:])},
                                                   indent=1))
    print(f"median: {json.dumps({k: round(v, 2) for k, v in median.items()})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
