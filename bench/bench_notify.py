"""Media push benchmark: from the flip of ``current.json`` to the last healthy subscriber notified.

Run: ``.venv/bin/python bench/bench_notify.py [--sizes 250,2500] [--runs 3]`` (writes
bench/results/notify.json and bench/results/notify.md; ``bench/run_all.py`` puts them in
BENCHMARKS.md). Loopback only, in a temporary ``ENR_HOME`` (SQLite store, local bucket).

For each size N: N healthy newsrooms (4 threaded HTTP servers on loopback, answering 204) plus 10
bad ones (5 with a closed port, 5 answering after 5 s, longer than the 3 s timeout). The clock
starts when the publication log and ``current.json`` are written (the flip) and stops when the
last healthy newsroom has received its signed webhook. In between: ``plan`` (store and public
area read, batches of 50) and the mapped ``deliver_batch`` calls run by 4 worker processes started
beforehand (as the LocalExecutor's, ``parallelism=4``), each batch sending concurrently and
recording its attempts in the store. Airflow's own scheduling delay (asset event -> run -> task,
a few seconds under ``airflow standalone``, bench/results/latency.json) is not in this figure.
Every received webhook's signature is checked afterwards; a re-plan must find nothing to send.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
RESULTS = ROOT / "bench" / "results"
WORKERS = 4
BAD = 10


def _warm(_: int) -> int:
    import enr.media.delivery  # noqa: F401 - imported once, before the clock starts
    import enr.pipeline  # noqa: F401

    return os.getpid()


def _deliver(args: tuple[dict, list[str]]) -> dict:
    from enr import media

    return media.deliver(*args)


def one_run(size: int, pool: ProcessPoolExecutor) -> dict:
    from sqlalchemy import insert

    from enr import media, pipeline
    from enr.media import signature
    from enr.media.signature import generate_secret
    from enr.store.models import MediaSubscriberRow
    from tests.support.media import Newsrooms, dead_url, fake_publication

    store = pipeline.open_store()
    store.migrate()
    servers = [Newsrooms(slow_seconds=5.0) for _ in range(4)]
    run_id = f"r{time.time_ns()}"
    rows = [{"id": f"{run_id}-ok{n:05d}", "url": f"{servers[n % 4].base}/ok/{n}", "secret": generate_secret(),
             "countries": None, "languages": None, "created_at": datetime.now(timezone.utc), "created_by": "bench"}
            for n in range(size)]
    rows += [{"id": f"{run_id}-bad{n}", "url": dead_url() if n % 2 else f"{servers[0].base}/slow/{n}",
              "secret": generate_secret(), "countries": None, "languages": None,
              "created_at": datetime.now(timezone.utc), "created_by": "bench"} for n in range(BAD)]
    with store.session() as session, session.begin():
        session.execute(insert(MediaSubscriberRow), rows)
    secrets = {r["url"].rsplit("/", 1)[1]: r["secret"] for r in rows if "/ok/" in r["url"]}
    version = f"v{int(run_id[1:]) % 10**8:08d}"[:9]
    try:
        flip = time.monotonic()
        fake_publication(pipeline.export_bucket(), version=version, countries=("FR",))
        planned = media.plan_notifications("ep2019", version, "publish")
        planned_at = time.monotonic() - flip
        summaries = list(pool.map(_deliver, [(planned["publication"], b) for b in planned["batches"]]))
        done = time.monotonic() - flip
        healthy = [r for s in servers for r in s.paths("/ok/")]
        last = max(r["at"] for r in healthy) - flip
        bad_ok = [r for r in healthy if not r["path"].startswith("/ok/")]
        for r in healthy:
            signature.verify(secrets[r["path"].rsplit("/", 1)[1]], r["headers"], r["body"])
        again = media.plan_notifications("ep2019", version, "publish")
        return {"subscribers": size, "bad": BAD, "batches": len(planned["batches"]),
                "healthy_notified": len({r["path"] for r in healthy}), "signatures_checked": len(healthy),
                "plan_s": round(planned_at, 3), "flip_to_last_healthy_s": round(last, 3),
                "flip_to_all_batches_done_s": round(done, 3),
                "failed": sum(len(s["failed"]) for s in summaries), "bad_acknowledged": len(bad_ok),
                "rerun_would_send": sum(len(b) for b in again["batches"]) - BAD}
    finally:  # this run's subscribers leave (the next run has its own)
        from enr.store.models import MediaSubscriberEventRow

        with store.session() as session, session.begin():
            session.execute(insert(MediaSubscriberEventRow), [
                {"subscriber_id": r["id"], "event": "disabled", "at": datetime.now(timezone.utc), "who": "bench",
                 "reason": "end of the bench run"} for r in rows])
        for s in servers:
            s.close()
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="250,2500")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["ENR_HOME"] = tempfile.mkdtemp(prefix="enrnb", dir="/tmp")
    os.environ.pop("ENR_STORE_URL", None)
    os.environ.pop("ENR_BUCKET_URL", None)
    os.environ.setdefault("ENR_PUBLIC_BASE_URL", "https://results.example.eu/public")
    results = []
    with ProcessPoolExecutor(WORKERS, mp_context=get_context("spawn")) as pool:
        list(pool.map(_warm, range(WORKERS * 2)))
        for size in (int(s) for s in args.sizes.split(",")):
            runs = [one_run(size, pool) for _ in range(args.runs)]
            for r in runs:
                print(json.dumps(r), flush=True)
            results.append({"subscribers": size, "runs": runs,
                            "median_flip_to_last_healthy_s": statistics.median(r["flip_to_last_healthy_s"] for r in runs),
                            "median_plan_s": statistics.median(r["plan_s"] for r in runs)})
    doc = {"command": "bench/bench_notify.py --sizes " + args.sizes + f" --runs {args.runs}", "workers": WORKERS,
           "timeout_s": 3, "batch_size": 50, "results": results,
           "at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "load": os.getloadavg()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "notify.json").write_text(json.dumps(doc, indent=1))
    lines = ["## Media push: flip to the last healthy subscriber notified", "",
             f"`.venv/bin/python {doc['command']}` on {doc['at']} (load {tuple(round(x, 1) for x in doc['load'])}). "
             f"N healthy loopback newsrooms plus {BAD} bad ones (5 closed ports, 5 answering after 5 s; timeout 3 s); "
             f"batches of 50 delivered by {WORKERS} worker processes started beforehand (the mapped `deliver_batch` "
             "tasks of `notify_media` under the LocalExecutor with parallelism 4), attempts recorded in the SQLite "
             "store. The clock starts at the flip (publication log and `current.json` written) and stops when the "
             "last healthy newsroom received its webhook; Airflow's scheduling delay (asset event to task start) is "
             "not included. Every signature was checked afterwards, and a re-plan found nothing to send again to "
             "those that acknowledged.", "",
             "| subscribers | batches | median flip → last healthy notified | runs (s) | plan (median) | "
             "all batches done (incl. the bad ones' timeouts) |", "|---:|---:|---:|---|---:|---|"]
    for res in results:
        runs = res["runs"]
        lines.append(f"| {res['subscribers']:,} (+{BAD} bad) | {runs[0]['batches']} | "
                     f"**{res['median_flip_to_last_healthy_s']:.2f} s** | "
                     f"{', '.join(format(r['flip_to_last_healthy_s'], '.2f') for r in runs)} | {res['median_plan_s']:.2f} s | "
                     f"{', '.join(format(r['flip_to_all_batches_done_s'], '.1f') for r in runs)} s |")
        assert all(r["healthy_notified"] == res["subscribers"] and r["rerun_would_send"] == 0 for r in runs), runs
    (RESULTS / "notify.md").write_text("\n".join(lines) + "\n")
    print((RESULTS / "notify.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
