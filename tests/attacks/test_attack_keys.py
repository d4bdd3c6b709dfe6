"""Attacks on the keys: a sender out of its countries, forged and re-signed versions, the signing key.

Each test is one attempt, refused with a named reason; nothing public (nor the accepted results)
changed.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from attack_support import ELECTION, area, public_state, publish, stage
from bad_deliveries.fixtures import gpg_keys, intake_env, store_url  # noqa: F401 (fixtures)
from publish.manifest import APPROVAL, APPROVAL_SIG, MANIFEST, canonical_json, read_manifest, sign_version
from publish.signing import Signer, SigningError, import_public_key
from publish.verify import verify_version
from tests.support.publish_fixtures import ROOT, demo_key, scratch_dir

pytestmark = pytest.mark.attack


# -- deliveries ----------------------------------------------------------------------------------------

def test_a_delivery_signed_by_a_sender_not_allowed_for_that_country(intake_env):  # noqa: F811
    """The French contractor's key (senders.json: countries ["FR"]) signs a German delivery."""
    from enr.replay import delivery_name, make_delivery

    env = intake_env
    data = make_delivery(ELECTION, "DE", "final:100", 1, test=False)
    before = (env.store.results_digest(ELECTION), env.files("snapshots"), env.files("public"))
    refused = env.deliver(delivery_name(ELECTION, "DE", 1), data, home=env.keys.fr_only)
    assert refused.outcome == "quarantined" and refused.rule == "signer_not_trusted"
    assert "may not deliver for DE" in json.dumps(refused.reason)
    assert (env.store.results_digest(ELECTION), env.files("snapshots"), env.files("public")) == before
    assert not env.store.latest_results(ELECTION)
    # the same key for its own country is accepted: the refusal is about the country, not the key
    fr = make_delivery(ELECTION, "FR", "final:100", 1, test=False)
    assert env.deliver(delivery_name(ELECTION, "FR", 1), fr, home=env.keys.fr_only).outcome == "accepted"


# -- a published version, forged ---------------------------------------------------------------------------

@pytest.fixture
def published(tmp_path) -> Path:
    """A published, signed version (local folder) and the genuine publisher's fingerprint."""
    bucket = area(tmp_path, "election")
    digest = stage(bucket, "v0001")["v0001"]
    publish(bucket, "v0001", digest)
    return bucket.local_path(f"public/{ELECTION}/v0001")


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_forged_manifest_at_verify(published):
    """A number changed on a page, and the manifest's digest for it changed to match (the old signature kept)."""
    base, fingerprint = demo_key()
    page = published / "en" / "index.html"
    page.write_bytes(page.read_bytes().replace(b"</body>", b"<p>AT: 99 %</p></body>"))
    manifest = read_manifest((published / MANIFEST).read_bytes())
    import hashlib

    for entry in manifest["files"]:
        if entry["path"] == "en/index.html":
            entry["sha256"] = hashlib.sha256(page.read_bytes()).hexdigest()
            entry["size"] = page.stat().st_size
    (published / MANIFEST).write_bytes(canonical_json(manifest))
    before = _tree(published)
    report = verify_version(published, base / "verify", [fingerprint])
    assert not report.ok and not report.signature_valid
    assert "manifest signature not valid" in report.summary()
    assert _tree(published) == before  # verifying changes nothing


def test_a_version_re_signed_by_another_key_is_refused_when_the_publisher_is_pinned(published, tmp_path):
    """The attacker rewrites a page and re-seals the whole folder with their own key (publisher-key.asc too).

    Verified with the folder's own key it looks fine; pinned to the publisher's fingerprint
    (obtained out of band) it is refused, with a line naming both keys."""
    from enr import operator

    _, genuine = demo_key()
    page = published / "en" / "index.html"
    page.write_bytes(page.read_bytes().replace(b"</body>", b"<p>AT: 99 %</p></body>"))
    old = read_manifest((published / MANIFEST).read_bytes())
    extra = {k: v for k, v in old.items() if k not in ("schema", "files", "total_bytes", "signing_key")}
    for seal in ("SHA256SUMS", "SHA256SUMS.asc", MANIFEST, "manifest.json.asc", APPROVAL, APPROVAL_SIG):
        (published / seal).unlink()
    attacker_home = scratch_dir("enrat-")
    from publish.signing import ensure_demo_signing_key

    attacker = ensure_demo_signing_key(attacker_home / "sign")
    with Signer(attacker_home / "sign") as signer:
        _, digest = sign_version(published, signer, extra)
        approval = canonical_json({"schema": "enr-approval/1", "election": ELECTION, "version": "v0001",
                                   "manifest_sha256": digest, "approval": {"approved_by": "reviewer"}})
        (published / APPROVAL).write_bytes(approval)
        signer.sign_file(published / APPROVAL)
    assert attacker != genuine
    scratch = tmp_path / "k"
    import_public_key(scratch, (published / "publisher-key.asc").read_text())
    assert verify_version(published, scratch).ok  # what an unpinned check would conclude

    before = _tree(published)
    report = operator.verify_path(published, fingerprints=[genuine])
    assert not report["ok"]
    assert f"not by the pinned publisher key {genuine}" in report["text"] and attacker in report["text"]
    cli = subprocess.run([sys.executable, "-m", "enr.cli", "verify", str(published), "--fingerprint", genuine],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 1 and "not by the pinned publisher key" in cli.stdout, cli.stdout + cli.stderr
    assert _tree(published) == before


def test_the_genuine_version_verifies_with_the_pin(published):
    """The control of the two attacks above: pinned to the right key, the untouched version is OK."""
    from enr import operator

    _, genuine = demo_key()
    report = operator.verify_path(published, fingerprints=[genuine])
    assert report["ok"], report["text"]


# -- the signing key ---------------------------------------------------------------------------------------

def test_the_signing_key_without_its_passphrase(tmp_path):
    """A production signing key has a passphrase; without ENR_SIGNING_PASSPHRASE_FILE nothing is signed."""
    home = scratch_dir("enrpp-") / "sign"
    from publish.signing import GpgHome

    with GpgHome(home) as gpg_home:
        key = gpg_home.gpg.gen_key(gpg_home.gpg.gen_key_input(
            name_real="publisher", name_email="p@example.invalid", key_type="EDDSA", key_curve="ed25519",
            key_usage="sign", passphrase="correct horse battery staple"))
        assert key.fingerprint, key.stderr
    bucket = area(tmp_path, "election")
    before = public_state(bucket)
    with Signer(home) as signer, pytest.raises(SigningError, match="signing with .* failed"):
        signer.sign_bytes(b"manifest")
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    with Signer(home, passphrase_file=wrong) as signer, pytest.raises(SigningError):
        signer.sign_bytes(b"manifest")
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse battery staple\n")
    with Signer(home, passphrase_file=secret) as signer:
        assert b"BEGIN PGP SIGNATURE" in signer.sign_bytes(b"manifest")
    assert public_state(bucket) == before
    shutil.rmtree(home, ignore_errors=True)


READ_ONLY_WORKER = r"""
import json, sys
from pathlib import Path
from enr.signatures import export_public_key, generate_key, sign_bytes, trust_sender, verify_delivery
from publish.signing import Signer
trusted, sender, signing, attacker = map(Path, sys.argv[1:5])
out = {}
data = b"#ENR {}\nunit_id,list_id,votes\n"
out["verified"] = verify_delivery(data, sign_bytes(data, sender), trusted, country="DE").fingerprint
try:
    trust_sender(trusted, export_public_key(attacker, generate_key(attacker, name="x", email="x@example.invalid")),
                 name="attacker", countries=("*",))
    out["added"] = "yes"
except OSError as exc:
    out["added"] = f"refused: {exc.strerror}"
with Signer(signing) as signer:
    out["signed"] = b"BEGIN PGP SIGNATURE" in signer.sign_bytes(b"manifest")
print("RESULT " + json.dumps(out))
"""


def test_a_worker_adding_a_sender_to_the_read_only_keyring(gpg_keys, tmp_path):  # noqa: F811
    """The workers mount the senders' keyring (and the signing key) read-only: verifying and signing
    work through private copies, adding a key of one's own to the trusted senders is refused."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("no mount namespaces here (unshare -m): cannot mount a keyring read-only")
    base, _ = demo_key()
    trusted, signing = gpg_keys.trusted, base / "sign"
    before = {p.name: p.read_bytes() for p in trusted.iterdir() if p.is_file()}
    attacker = scratch_dir("enrax-") / "k"
    script = tmp_path / "worker.py"
    script.write_text(READ_ONLY_WORKER)
    mounts = " && ".join(f"mount --bind {d} {d} && mount -o remount,bind,ro {d}" for d in (trusted, signing))
    run = subprocess.run(["unshare", "-m", "sh", "-c", f'{mounts} && exec "$0" "$@"', sys.executable, str(script),
                          str(trusted), str(gpg_keys.sender), str(signing), str(attacker)],
                         cwd=ROOT, capture_output=True, text=True, timeout=180,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    result = json.loads(run.stdout.split("RESULT ", 1)[1])
    assert result["verified"] == gpg_keys.sender_fpr.upper() and result["signed"] is True
    assert result["added"] == "refused: Read-only file system"
    assert {p.name: p.read_bytes() for p in trusted.iterdir() if p.is_file()} == before
