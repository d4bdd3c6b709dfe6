"""Publish benchmark: full-site render time (24 languages), sealing and verification, page weights.

Run: ``.venv/bin/python bench/bench_publish.py`` (writes bench/results/publish.md). Uses the test
fixture bundle (real EP 2019 data, 28 countries, 751 seats), a throwaway signing key and a local
bucket under /tmp; no network.
"""
from __future__ import annotations

import gzip
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from tests.support.publish_fixtures import build_bundle  # noqa: E402

from publish import release  # noqa: E402
from publish.bucket import Bucket  # noqa: E402
from publish.manifest import manifest_extra, sign_version  # noqa: E402
from publish.signing import Signer, ensure_demo_signing_key, import_public_key  # noqa: E402
from publish.site import render_site  # noqa: E402
from publish.verify import verify_version  # noqa: E402

RUNS = 3


def weight(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=9))


def kb(n: int) -> str:
    return f"{n / 1024:.1f} KB"


def main() -> Path:
    work = Path(tempfile.mkdtemp(prefix="enrpub-bench-", dir="/tmp"))
    try:
        bundle = build_bundle()
        times = []
        for run in range(RUNS):
            out = work / f"site{run}"
            started = time.perf_counter()
            files = render_site(bundle, out)
            times.append(time.perf_counter() - started)
        site = work / "site0"
        total_bytes = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        html = list(site.rglob("*.html"))

        keys = work / "keys"
        ensure_demo_signing_key(keys / "sign")
        with Signer(keys / "sign") as signer:
            import_public_key(keys / "verify", signer.public_key())
            started = time.perf_counter()
            _, digest = sign_version(site, signer, manifest_extra(bundle))
            seal_time = time.perf_counter() - started
            bucket = Bucket(work / "bucket")
            release.mark_area(bucket, "election")
            started = time.perf_counter()
            release.stage(bucket, "ep2019", bundle["version"], site)
            stage_time = time.perf_counter() - started
            started = time.perf_counter()
            release.publish_version(bucket, "ep2019", bundle["version"], digest,
                                    embargo=datetime(2019, 5, 26, 21, tzinfo=timezone.utc),
                                    now=datetime(2019, 5, 26, 21, 30, tzinfo=timezone.utc),
                                    approval={"approved_by": "bench"}, signer=signer)
            publish_time = time.perf_counter() - started
        started = time.perf_counter()
        report = verify_version(bucket.sub(f"public/ep2019/{bundle['version']}"), keys / "verify")
        verify_time = time.perf_counter() - started
        assert report.ok, report.summary()

        pages = [("EU page (en/index.html)", site / "en" / "index.html"),
                 ("EU page (el/index.html)", site / "el" / "index.html"),
                 ("country page (en/country/fr.html, 34 lists)", site / "en" / "country" / "fr.html"),
                 ("country page (de/country/de.html, 41 lists)", site / "de" / "country" / "de.html"),
                 ("country page (en/country/mt.html, 9 lists)", site / "en" / "country" / "mt.html"),
                 ("methodology (en/methodology.html)", site / "en" / "methodology.html"),
                 ("style.css", site / "assets" / "style.css"),
                 ("majority.js", site / "assets" / "majority.js"),
                 ("widget.js", site / "widget" / "widget.js"),
                 ("widget embed.html", site / "widget" / "embed.html"),
                 ("widget labels (i18n/de.json)", site / "widget" / "i18n" / "de.json"),
                 ("data/eu.json", site / "data" / "eu.json"),
                 ("data/countries/fr.json", site / "data" / "countries" / "fr.json"),
                 ("data/nist-v2.json", site / "data" / "nist-v2.json")]
        widget_gz = len(gzip.compress((site / "widget" / "widget.js").read_bytes()
                                      + (site / "widget" / "embed.html").read_bytes(), compresslevel=9))
        eu_first_view = sum(weight(p)[1] for p in (site / "en" / "index.html", site / "assets" / "style.css",
                                                   site / "assets" / "majority.js"))
        lines = [
            "# Publish benchmark",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end "
            f"(other jobs were running; timings vary with it), Python {platform.python_version()}, {platform.system()}; "
            f"fixture bundle = EP 2019 (28 countries, 751 seats, 436 lists). Generated by `bench/bench_publish.py`.",
            "",
            "## Time",
            "",
            "| step | seconds |",
            "|---|---|",
            f"| render full site, 24 languages (median of {RUNS}: {', '.join(f'{t:.2f}' for t in times)}) "
            f"| {statistics.median(times):.2f} |",
            f"| seal: SHA256SUMS + manifest + 2 signatures ({len(files) + 1} files) | {seal_time:.2f} |",
            f"| stage to a local bucket (copy + check every digest) | {stage_time:.2f} |",
            f"| publish (copy, check, signed approval, flip) | {publish_time:.2f} |",
            f"| verify the published version (signatures + every digest) | {verify_time:.2f} |",
            "",
            "## Size",
            "",
            f"Files per version: {len(files) + 5} ({len(html)} HTML pages), {total_bytes / 1024 / 1024:.1f} MB before "
            f"the seals. First view of the EU page (HTML + CSS + JS, gzipped): {kb(eu_first_view)}. "
            f"Widget (widget.js + embed.html, gzip -9): {kb(widget_gz)} (budget 15 KB).",
            "",
            "| file | raw | gzip -9 |",
            "|---|---|---|",
        ]
        for label, path in pages:
            raw, gz = weight(path)
            lines.append(f"| {label} | {kb(raw)} | {kb(gz)} |")
        lines.append("")
        out_path = ROOT / "bench" / "results" / "publish.md"
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text("\n".join(lines), encoding="utf-8")
        print("\n".join(lines))
        return out_path
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
