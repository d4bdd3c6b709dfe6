"""Incremental staging: a delivery for one country re-renders only what that country touches.

After a one-country delivery the new version verifies, the pages it does not touch are
byte-identical to the previous version's, and a full re-render of the same bundle gives exactly
the bytes of the incremental one (so the incremental path is correct, not just fast).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

COUNTRIES = ["AT", "DK", "SI"]
CHANGED = "DK"


@pytest.fixture
def home(enr_home):
    return enr_home


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_one_country_delivery_rerenders_only_what_it_touches(home):
    from enr import demo, operator, pipeline, replay
    from publish.build import build_version
    from publish.verify import verify_version

    keys = demo.ensure_demo_keys()
    pipeline.open_store().migrate()
    operator.load_history(run_id="test")  # the history pages, shown beside the night's
    night = replay.write_night(home / "outbox", waves=("provisional:50", "final:100"), countries=COUNTRIES,
                               sender_home=keys["sender_home"])
    demo.drop_into_inbox(night.waves[0].files)
    for country in COUNTRIES:
        assert not pipeline.ingest_country("ep2019", country)["quarantined"]
    first = pipeline.stage("ep2019", pipeline.tally("ep2019"), incremental=False)

    demo.drop_into_inbox([p for p in night.waves[1].files if f"-{CHANGED}-" in p.name])
    assert pipeline.ingest_country("ep2019", CHANGED)["accepted"]
    second = pipeline.stage("ep2019", pipeline.tally("ep2019"))

    bucket = home / "bucket"
    old_dir, new_dir = bucket / first["staging_path"], bucket / second["staging_path"]
    report = verify_version(new_dir, pipeline.get_settings().signing_home)
    assert report.ok, report.summary()
    old, new = _files(old_dir), _files(new_dir)
    bundle = json.loads(new["data/bundle.json"])
    languages = bundle["election"]["languages"]
    assert len(languages) == 24

    # Untouched: every other country's page in every language, and the assets.
    untouched = [f"{lang}/country/{c['code'].lower()}.html" for lang in languages for c in bundle["countries"]
                 if c["code"] != CHANGED] + ["assets/style.css", "assets/majority.js"]
    assert len(untouched) > 24 * 26
    differing = [rel for rel in untouched if old[rel] != new[rel]]
    assert not differing, differing[:5]
    # the unchanged history pages are the previous version's files (hard links, no new file each)
    history = [rel for rel in new if "/history/" in rel]
    assert len(history) > 24 * 20
    assert all(os.path.samefile(old_dir / rel, new_dir / rel) for rel in history)
    # Touched: the country's own pages and the EU page, in every language.
    for lang in languages:
        assert old[f"{lang}/country/{CHANGED.lower()}.html"] != new[f"{lang}/country/{CHANGED.lower()}.html"]
        assert old[f"{lang}/index.html"] != new[f"{lang}/index.html"]
    page = new[f"en/country/{CHANGED.lower()}.html"].decode()
    assert f'content="{second["version"]}"' in page
    other = new["en/country/at.html"].decode()
    assert f'content="{first["version"]}"' in other  # the version its data comes from

    # A full re-render of the same bundle writes exactly the incremental bytes.
    with tempfile.TemporaryDirectory(prefix="enr-full-") as tmp, pipeline.signer() as publisher:
        full_dir = Path(tmp) / second["version"]
        _, digest = build_version(bundle, full_dir, publisher, history=pipeline._history("ep2019"))
        full = _files(full_dir)
    signatures = {"SHA256SUMS.asc", "manifest.json.asc"}
    assert set(full) == set(new)
    mismatched = [rel for rel in full if rel not in signatures and full[rel] != new[rel]]
    assert not mismatched, mismatched[:5]
    assert digest == second["manifest_sha256"]
