"""The delivery contract, implementable from its documents alone (issue 21).

A separate writer (``tests/support/contract_writer.py``: standard library only, run isolated in a
subprocess) reads only the contractor pack (``enr contractor-pack``) and the 2019 numbers of
``data/ep2019``, writes one final delivery per country for all 28 countries and signs them with gpg;
``enr check-delivery`` and the intake must accept every one, and the tallied seats must equal the
official 2019 seats wherever the golden test says the data settles them.
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bad_deliveries.fixtures import gpg_keys, make_intake_env  # noqa: F401 (fixture)
from enr.definition import load_election
from enr.delivery import META_SCHEMA

ROOT = Path(__file__).resolve().parent.parent
ELECTION = "ep2019"
WRITER = ROOT / "tests" / "support" / "contract_writer.py"
ENR = str(Path(sys.executable).with_name("enr"))


def _run(args: list[str], env: dict, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def contract(gpg_keys, tmp_path_factory):  # noqa: F811
    from publish.signing import ensure_demo_signing_key
    from enr.gpghome import kill_agent

    root = Path(tempfile.mkdtemp(prefix="enrc", dir="/tmp"))
    signing = root / "signing"
    signing.mkdir(mode=0o700)
    publisher = ensure_demo_signing_key(signing)
    home = root / "home"  # ENR_HOME of the commands: must stay empty (nothing is written)
    env = {**os.environ, "ENR_HOME": str(home), "ENR_SIGNING_HOME": str(signing),
           "ENR_TRUSTED_KEYS": str(gpg_keys.trusted), "GX_ANALYTICS_ENABLED": "false"}
    env.pop("ENR_UNITS_SCALE", None)
    pack = root / "pack"
    made = _run([ENR, "contractor-pack", "--election", ELECTION, "--out", str(pack)], env)
    assert made.returncode == 0, made.stderr
    outbox = root / "outbox"
    scratch = root / "scratch"
    scratch.mkdir()
    wrote = _run([sys.executable, "-I", str(WRITER), "--pack", str(pack), "--numbers", str(ROOT / "data" / ELECTION),
                  "--out", str(outbox), "--gnupghome", str(gpg_keys.sender)],
                 {"PATH": os.environ["PATH"], "HOME": str(scratch)}, cwd=scratch)
    assert wrote.returncode == 0, wrote.stderr
    yield {"root": root, "pack": pack, "outbox": outbox, "env": env, "home": home, "publisher": publisher,
           "keys": gpg_keys}
    kill_agent(signing)
    shutil.rmtree(root, ignore_errors=True)


def test_the_writer_uses_no_project_code():
    tree = ast.parse(WRITER.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert imported and imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)
    assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree))


def test_the_pack_holds_what_the_contractor_needs_and_nothing_else(contract):
    pack = contract["pack"]
    countries = sorted(load_election(ELECTION).countries)
    files = sorted(p.relative_to(pack).as_posix() for p in pack.rglob("*") if p.is_file())
    expected = {"README.md", "DELIVERY.md", "metadata.schema.json", "election.json", "publisher.json",
                "publisher-key.asc"}
    expected |= {f"countries/{c}/{n}" for c in countries for n in ("units.csv", "lists.csv", "constituencies.csv")}
    examples = [f for f in files if f.startswith("examples/")]
    assert set(files) - set(examples) == expected
    assert sorted(Path(f).parent.name for f in examples) == sorted(["plain", "constituencies", "stv",
                                                                     "votes_per_voter"])
    assert (pack / "DELIVERY.md").read_bytes() == (ROOT / "docs" / "DELIVERY.md").read_bytes()
    schema = json.loads((pack / "metadata.schema.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in schema.items() if k not in ("$id", "title")} == json.loads(json.dumps(META_SCHEMA))
    publisher = json.loads((pack / "publisher.json").read_text(encoding="utf-8"))
    assert publisher["publisher_fingerprint"] == contract["publisher"].upper()
    assert contract["publisher"].upper() in (pack / "README.md").read_text(encoding="utf-8")
    shown = _run(["gpg", "--show-keys", "--with-colons", str(pack / "publisher-key.asc")],
                 {**os.environ, "GNUPGHOME": str(contract["root"] / "signing")})
    assert f"fpr:::::::::{contract['publisher'].upper()}:" in shown.stdout
    facts = json.loads((pack / "election.json").read_text(encoding="utf-8"))["countries"]
    assert facts["IE"]["stv_seats"] == 11 and facts["IE"]["seats_in_abeyance"] == [
        {"constituency": "Dublin", "list_id": "ff", "seats": 1}, {"constituency": "South", "list_id": "fg", "seats": 1}]
    assert facts["AT"]["units_total"] == 26 and facts["ES"]["units_total"] == 149
    be_units = (pack / "countries" / "BE" / "units.csv").read_text(encoding="utf-8")
    assert "BE-00019,BE unit 00019,French-speaking electoral college," in be_units
    it = (pack / "countries" / "IT" / "constituencies.csv").read_text(encoding="utf-8").splitlines()
    assert "ESTERO (sezioni negli altri Stati UE),3,,no_seats" in it
    assert (pack / "countries" / "PL" / "constituencies.csv").read_text(encoding="utf-8").splitlines()[1] == \
        "1 Gdańsk,124,,list_pr"


def test_the_examples_are_accepted_as_they_are(contract):
    examples = sorted(str(p) for p in (contract["pack"] / "examples").rglob("*.csv"))
    checked = _run([ENR, "check-delivery", "--no-signature", *examples], contract["env"])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("\naccepted") + checked.stdout.startswith("accepted") == 4


def test_check_delivery_accepts_every_country_and_changes_nothing(contract):
    files = sorted(str(p) for p in contract["outbox"].glob("*.csv"))
    assert len(files) == 28
    checked = _run([ENR, "check-delivery", *files], contract["env"])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lines = [l for l in checked.stdout.splitlines() if not l.startswith(" ")]
    assert len(lines) == 28 and all(l.startswith("accepted ") and l.endswith("(final)") for l in lines), lines
    assert not contract["home"].exists()  # no store, bucket or key was created under ENR_HOME


def test_check_delivery_names_file_row_and_rule_of_a_refusal(contract, tmp_path):
    source = contract["outbox"] / "ep2019-MT-0001.csv"
    lines = source.read_bytes().split(b"\n")
    fields = lines[4].split(b",")
    fields[-1] = str(int(fields[-1]) + 1).encode()  # one vote too many in the unit of line 5
    lines[4] = b",".join(fields)
    bad = tmp_path / source.name
    bad.write_bytes(b"\n".join(lines))
    shutil.copyfile(str(source) + ".asc", str(bad) + ".asc")
    checked = _run([ENR, "check-delivery", str(bad)], contract["env"])
    assert checked.returncode == 1
    assert checked.stdout.startswith("refused  ep2019-MT-0001.csv: signature_bad:"), checked.stdout
    unsigned = _run([ENR, "check-delivery", "--no-signature", "--json", str(bad)], contract["env"])
    assert unsigned.returncode == 1
    reason = json.loads(unsigned.stdout)[0]["reason"]
    assert reason["file"] == "ep2019-MT-0001.csv" and reason["rule"] in ("totals_mismatch", "votes_sum_mismatch")
    assert reason["row"] in (1, 5)
    missing = _run([ENR, "check-delivery", str(tmp_path / "ep2019-MT-0009.csv")], contract["env"])
    assert missing.returncode != 0 and "no such delivery file" in (missing.stdout + missing.stderr)


def test_the_intake_accepts_every_country_and_the_seats_are_official(contract):
    from test_seats_golden import NOT_SETTLEABLE

    from enr.intake import process_inbox
    from enr.pipeline import _counts
    from enr.rehearsal import official_seats
    from enr.tally import build_bundle

    env = make_intake_env(contract["keys"])
    try:
        inbox = env.bucket.root / "inbox"
        inbox.mkdir(parents=True)
        for path in contract["outbox"].iterdir():
            shutil.copyfile(path, inbox / path.name)
        results = process_inbox(env.settings, ELECTION, store=env.store, bucket=env.bucket)
        refused = {r.file_name: r.reason_text for r in results if not r.accepted}
        assert refused == {} and len(results) == 28
        definition = load_election(ELECTION)
        bundle = build_bundle(definition, _counts(env.store, ELECTION), version="v0001",
                              generated_at=datetime(2019, 5, 27, 3, tzinfo=timezone.utc))
        official = official_seats(ELECTION)
        settled = sorted(set(definition.countries) - set(NOT_SETTLEABLE))
        assert len(settled) == 27
        published = {c["code"]: {l["list_id"]: int(l["seats"]) for l in c["lists"] if l.get("seats")}
                     for c in bundle["countries"]}
        differing = {cc: (published[cc], {k: v for k, v in official[cc].items() if v}) for cc in settled
                     if published[cc] != {k: v for k, v in official[cc].items() if v}}
        assert differing == {}
        assert sum(sum(published[cc].values()) for cc in settled) == sum(
            definition.countries[cc].seats for cc in settled)
    finally:
        env.store.close()
        shutil.rmtree(env.root, ignore_errors=True)
