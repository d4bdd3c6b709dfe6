"""Client cost of the bucket's bulk S3 requests: s3fs/aiobotocore against the lean path (enr/s3bulk.py). Not a test.

    .venv/bin/python bench/bench_s3_ops.py [--runs 3] [--copies 2500] [--puts 650]

One SeaweedFS server (``weed mini``, as in the tests) on loopback; a :class:`enr.bucket.Bucket` on it
through an Airflow connection, as in production. Timed, for each path: ``write_many`` of ``--puts``
objects of 8 KB (HTML pages, a Cache-Control header) and ``copy_many`` of ``--copies`` objects
(server-side CopyObject inside the bucket, as a one-country update copies the unchanged pages),
and ``objects`` (the listing with sizes and ETags) of the ``--copies`` source objects.
Client CPU is this process's user + system time (resource.getrusage: every thread), server CPU
the ``weed`` process's (psutil, if installed). Median of ``--runs``; the load average is recorded,
since the machine may be shared. Writes bench/results/s3-ops.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
CONN_ID = "enr_bench_s3"
PAGE = 8 * 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(pid: int) -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def _timed(fn, count: int, server_pid: int) -> dict:
    server, cpu, wall = _server_cpu(server_pid), _cpu(), time.perf_counter()
    fn()
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    after = _server_cpu(server_pid)
    return {"requests": count, "wall_s": round(wall, 3), "client_cpu_s": round(cpu, 3),
            "client_cpu_ms_per_request": round(1000 * cpu / count, 3),
            "server_cpu_s": round(after - server, 3) if server is not None else None}


def one_run(bucket_url: str, path: str, run: int, copies: int, puts: int, server_pid: int) -> dict:
    from enr.bucket import Bucket

    bucket = Bucket(bucket_url, conn_id=CONN_ID)
    if path == "s3fs":
        bucket._lean = False  # the s3fs path, as before the lean client
    else:
        assert bucket._lean_client()[0] is not None, "the lean client did not open"
    body = os.urandom(PAGE)
    pages = {f"{path}{run}/put/{i:04d}.html": body for i in range(puts)}
    pairs = {f"{path}{run}/copy/{i:04d}.html": f"src/{i:04d}.html" for i in range(copies)}
    return {"write_many": _timed(lambda: bucket.write_many(pages, cache_control="public, max-age=60"), puts,
                                 server_pid),
            "copy_many": _timed(lambda: bucket.copy_many(pairs), copies, server_pid),
            "objects": _timed(lambda: bucket.objects("src"), -(-copies // 1000), server_pid)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--copies", type=int, default=2500)
    parser.add_argument("--puts", type=int, default=650)
    args = parser.parse_args()
    from tests.support.s3 import SeaweedS3

    base = Path(tempfile.mkdtemp(prefix="s3ops", dir="/tmp"))
    with SeaweedS3(base / "s3", buckets=("enr-export",), public_buckets=()) as server:
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = server.connection()
        url = "s3://enr-export/bench/"
        from enr.bucket import Bucket

        Bucket(url, conn_id=CONN_ID).write_many({f"src/{i:04d}.html": os.urandom(PAGE) for i in range(args.copies)})
        runs: dict[str, list[dict]] = {"s3fs": [], "lean": []}
        load = [os.getloadavg()]
        for run in range(args.runs):
            for path in runs:  # alternate, so that a busy spell of the machine hits both
                runs[path].append(one_run(url, path, run, args.copies, args.puts, server.proc.pid))
                print(path, run, json.dumps(runs[path][-1]), flush=True)
        load.append(os.getloadavg())
    summary = {path: {op: {field: statistics.median(r[op][field] for r in results)
                           for field in results[0][op] if results[0][op][field] is not None}
                      for op in ("write_many", "copy_many", "objects")}
               for path, results in runs.items()}
    out = {"what": f"{args.copies} CopyObject, {args.puts} PUTs of {PAGE} B and a listing of {args.copies} objects "
                   "on one SeaweedFS (weed mini) on loopback, through enr.bucket.Bucket; median of runs",
           "runs": args.runs, "cpu_count": os.cpu_count(), "load_average_before_after": load,
           "median": summary, "all_runs": runs}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "s3-ops.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
