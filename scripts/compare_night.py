#!/usr/bin/env python3
"""Compare two published demo-night sites file by file (issue 17: "the same published bytes, apart from times").

Usage (a Python with Pillow and numpy, e.g. a worktree's .venv/bin/python; without them every
differing PNG counts as a real difference):
    python scripts/compare_night.py OLD_HOME NEW_HOME [--election ep2019] [--version vNNNN] [--show N]

OLD_HOME / NEW_HOME are the ENR_HOME of each run (the local export bucket is HOME/bucket). The
final published version is the newest ``public/<election>/<version>/`` folder of each bucket (or
``--version``). Every file is compared byte for byte; a text file whose bytes differ is compared
again after normalising what legitimately changes between two runs:

* times: ISO timestamps, RFC 822 dates (feeds), ``YYYY-MM-DD`` dates, ``HH:MM[:SS]`` clock times,
  epoch seconds in ``*_at``/``time`` keys;
* keys: OpenPGP fingerprints (40 hex) and key ids (16 hex), armoured signature blocks;
* digests (64 hex) - only *after* checking that each digest names a file of its own tree that
  itself differs only in times/keys (else it is reported as a real difference).

Binary files (card PNGs, signatures aside) and page HTML are also reported byte-wise: an HTML page
that differs only after normalisation is listed under "times/keys only" with its normalised diff
empty, and its raw diff excerpt is shown so a reader can judge.
"""
from __future__ import annotations

import argparse
import difflib
import hashlib
import re
import sys
from pathlib import Path

# How the two homes were made (2026-12-07, old 225064f vs main 4b23592), in each worktree after `make setup`:
#   env -u AIRFLOW_HOME ENR_HOME=/tmp/eo ENR_CARD_CACHE=/tmp/eo-cards .venv/bin/enr demo   (old)
#   env -u AIRFLOW_HOME ENR_HOME=/tmp/en ENR_CARD_CACHE=/tmp/en-cards .venv/bin/enr demo   (new)
# (a fresh, separate card cache for each: a shared cache would hand the new run the old run's PNGs)
from_version = re.compile(r"\d+")

PATTERNS = [
    # armoured PGP blocks (detached signatures, public keys)
    (re.compile(r"-----BEGIN PGP [A-Z ]+-----.*?-----END PGP [A-Z ]+-----", re.S), "<PGP-BLOCK>"),
    # ISO 8601 timestamps (with optional fraction and zone)
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"), "<TIME>"),
    # RFC 822 dates (RSS)
    (re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} ([+-]\d{4}|GMT|UTC)"),
     "<TIME>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<DATE>"),
    # clock times, also localised ("4:03:42", "04.03.42", "4.03.42"); two-part only with a colon
    (re.compile(r"\b\d{1,2}[:.]\d{2}[:.]\d{2}\b"), "<CLOCK>"),
    (re.compile(r"\b\d{1,2}:\d{2}\b"), "<CLOCK>"),
    (re.compile(r"(?i)\b[0-9a-f]{40}\b"), "<FPR>"),
    (re.compile(r"(?i)\b[0-9a-f]{16}\b"), "<KEYID>"),
    # epoch seconds as JSON values of time-like keys
    (re.compile(r'("(?:\w*_at|\w*time\w*|generated|ts)"\s*:\s*)\d{9,}(\.\d+)?'), r"\1<EPOCH>"),
]
DIGEST = re.compile(r"(?i)\b[0-9a-f]{64}\b")
TEXT_SUFFIXES = {".html", ".json", ".xml", ".txt", ".csv", ".js", ".css", ".svg", ".asc", ".md", ".rss",
                 ".atom", ".webmanifest", ".sig", ".sha256", ".tsv", ".geojson", ""}


def normalise(text: str, digests: bool) -> str:
    for pattern, repl in PATTERNS:
        text = pattern.sub(repl, text)
    if digests:
        text = DIGEST.sub("<SHA256>", text)
    return text


MD5 = re.compile(r"(?i)\b[0-9a-f]{32}\b")


def digest_table(files: dict[str, Path]) -> dict[str, str]:
    """sha256 and md5 (hex) of every file of a tree -> its path in the tree."""
    table = {}
    for name, path in files.items():
        data = path.read_bytes()
        table[hashlib.sha256(data).hexdigest()] = name
        table[hashlib.md5(data).hexdigest()] = name
    return table


def by_name(text: str, table: dict[str, str], refs: set[str]) -> str:
    """Each sha256/md5 of a file of this tree replaced by ``<H:path>`` (the path added to ``refs``);
    a digest of anything else (a delivery, say) is left as it is and must then be equal."""
    def named(match):
        name = table.get(match.group(0).lower())
        if name is None:
            return match.group(0)
        refs.add(name)
        return f"<H:{name}>"
    return MD5.sub(named, DIGEST.sub(named, text))


def checked_manifest(text: str, files: dict[str, Path], refs: set[str]) -> str:
    """A manifest's ``files`` entries (path, sha256, md5, size) checked against the tree they sit in:
    an entry that matches its file becomes ``{"path": ..., "matches": true}`` (the path added to ``refs``),
    so two manifests compare by which files they list and the rest of what they say."""
    import json

    try:
        doc = json.loads(text)
    except ValueError:
        return text
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), list):
        return text
    entries = []
    for entry in doc["files"]:
        path = files.get(entry.get("path", "")) if isinstance(entry, dict) else None
        if path is None:
            entries.append(entry)
            continue
        data = path.read_bytes()
        ok = (entry.get("sha256", hashlib.sha256(data).hexdigest()) == hashlib.sha256(data).hexdigest()
              and entry.get("md5", hashlib.md5(data).hexdigest()) == hashlib.md5(data).hexdigest()
              and entry.get("size", len(data)) == len(data))
        if ok:
            refs.add(entry["path"])
            entries.append({"path": entry["path"], "matches": True, "keys": sorted(entry)})
        else:
            entries.append(entry)
    doc["files"] = entries
    listed = [files[e["path"]].stat().st_size for e in doc["files"] if isinstance(e, dict) and e.get("matches")]
    if "total_bytes" in doc and len(listed) == len(entries) and doc["total_bytes"] == sum(listed):
        doc["total_bytes"] = "<the sum of the listed files' sizes>"
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False)


def newest_version(bucket: Path, election: str) -> str:
    public = bucket / "public" / election
    versions = [p.name for p in public.iterdir() if p.is_dir() and re.fullmatch(r"v\d+", p.name)]
    return max(versions, key=lambda v: int(from_version.findall(v)[0]))


def files_of(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


def as_text(path: Path) -> str | None:
    if path.suffix.lower() not in TEXT_SUFFIXES:
        return None
    try:
        return path.read_text("utf-8")
    except UnicodeDecodeError:
        return None


# A card's status line ("Provisional · <date, time> ...") sits in this band of the 1200x630 card;
# a card whose pixels differ only inside it, over at most a clock's width, differs in its time only.
STATUS_BAND = (540, 600)
CLOCK_WIDTH = 120


def png_difference(a: Path, b: Path) -> tuple[bool, str]:
    """Compare two PNGs by their pixels: (time only?, what differs). Needs Pillow and numpy."""
    try:
        import numpy as np
        from PIL import Image
    except ImportError:
        return False, "bytes differ (no Pillow/numpy here to compare pixels)"
    ia, ib = Image.open(a), Image.open(b)
    if ia.size != ib.size or ia.mode != ib.mode:
        return False, f"size/mode {ia.size} {ia.mode} vs {ib.size} {ib.mode}"
    pa, pb = np.asarray(ia.convert("RGB")).astype(int), np.asarray(ib.convert("RGB")).astype(int)
    mask = np.abs(pa - pb).sum(axis=2) > 0
    if not mask.any():
        return True, f"same pixels, different encoding ({a.stat().st_size} vs {b.stat().st_size} bytes)"
    ys, xs = np.nonzero(mask)
    box = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
    inside = STATUS_BAND[0] <= box[1] and box[3] <= STATUS_BAND[1] and box[2] - box[0] <= CLOCK_WIDTH
    return inside, (f"{int(mask.sum())} pixels differ, box x {box[0]}-{box[2]} y {box[1]}-{box[3]}"
                    + (" (inside the status line's clock)" if inside else ""))


def excerpt(a: str, b: str, name: str, lines: int) -> str:
    diff = difflib.unified_diff(a.splitlines(), b.splitlines(), f"old/{name}", f"new/{name}", n=0, lineterm="")
    out = []
    for line in diff:
        out.append(line if len(line) < 300 else line[:297] + "...")
        if len(out) >= lines:
            out.append("  [...]")
            break
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("old_home", type=Path)
    parser.add_argument("new_home", type=Path)
    parser.add_argument("--election", default="ep2019")
    parser.add_argument("--version")
    parser.add_argument("--show", type=int, default=12, help="diff lines shown per file")
    parser.add_argument("--examples", type=int, default=3, help="files shown per kind")
    args = parser.parse_args()

    roots = []
    for home in (args.old_home, args.new_home):
        bucket = home / "bucket"
        version = args.version or newest_version(bucket, args.election)
        roots.append(bucket / "public" / args.election / version)
        print(f"{home}: published version {version} -> {roots[-1]}")
    old, new = (files_of(r) for r in roots)
    only_old = sorted(set(old) - set(new))
    only_new = sorted(set(new) - set(old))
    both = sorted(set(old) & set(new))
    identical, times_only, digest_only, real = [], [], [], []
    tables = (digest_table(old), digest_table(new))
    texts: dict[str, tuple[str, str]] = {}
    png_notes: dict[str, str] = {}
    pending: dict[str, set[str]] = {}  # file -> the files its digests name (the same in both trees)
    for name in both:
        a, b = old[name].read_bytes(), new[name].read_bytes()
        if a == b:
            identical.append(name)
            continue
        ta, tb = as_text(old[name]), as_text(new[name])
        if ta is None or tb is None:
            if name.endswith(".png"):
                verdict, detail = png_difference(old[name], new[name])
                png_notes[name] = detail
                if verdict:
                    times_only.append(name)
                    continue
                real.append((name, f"PNG differs: {detail}"))
                continue
            real.append((name, f"binary differs: {len(a)} bytes (old) vs {len(b)} bytes (new)"))
            continue
        texts[name] = (ta, tb)
        if normalise(ta, False) == normalise(tb, False):
            times_only.append(name)
            continue
        refs_a, refs_b = set(), set()
        ra = normalise(by_name(checked_manifest(ta, old, refs_a), tables[0], refs_a), False)
        rb = normalise(by_name(checked_manifest(tb, new, refs_b), tables[1], refs_b), False)
        if ra == rb and refs_a == refs_b:
            pending[name] = refs_a
        else:
            real.append((name, excerpt(ra, rb, name, args.show)))
    # a digest difference is explained only when every file the digests name is itself explained
    explained = set(identical) | set(times_only)
    changed = True
    while changed:
        changed = False
        for name, refs in list(pending.items()):
            if refs <= explained:
                digest_only.append(name)
                explained.add(name)
                del pending[name]
                changed = True
    for name, refs in pending.items():
        real.append((name, "its digests name files that differ for other reasons: " + ", ".join(sorted(refs - explained)[:10])))

    print()
    print(f"files: old {len(old)}, new {len(new)}; in both {len(both)}; only old {len(only_old)}; "
          f"only new {len(only_new)}")
    print(f"identical bytes:                         {len(identical)}")
    print(f"differ only in times/keys/signatures:    {len(times_only)}")
    print(f"differ only in digests of such files:    {len(digest_only)}")
    print(f"differ otherwise:                        {len(real)}")
    for label, names in (("only in old", only_old), ("only in new", only_new)):
        if names:
            print(f"\n{label}:")
            for n in names[:50]:
                print("  ", n)
            if len(names) > 50:
                print(f"   ... {len(names) - 50} more")

    def kinds(names):
        by: dict[str, list[str]] = {}
        for n in names:
            by.setdefault(Path(n).suffix or n, []).append(n)
        return by

    for label, names in (("times/keys only", times_only), ("digests only", digest_only)):
        if not names:
            continue
        print(f"\n== {label}: by kind " + ", ".join(f"{k} {len(v)}" for k, v in kinds(names).items()))
        for kind, group in kinds(names).items():
            for n in group[: args.examples]:
                if n in png_notes:
                    print(f"-- {n}: {png_notes[n]}")
                    continue
                ta, tb = texts[n]
                print(f"-- {n} (raw diff excerpt)")
                print(excerpt(ta, tb, n, args.show))
    if real:
        print("\n== differ otherwise:")
        for n, detail in real:
            print(f"-- {n}")
            print(detail)
    # the election's own files beside the versions (current.json, publications.*, index.html): their
    # digests must name the same version files (manifests) on both sides
    top_real = []
    print("\n== the election folder's own files:")
    tops = []
    for root in roots:
        table = {}
        for version in root.parent.iterdir():
            if version.is_dir():
                for name, path in files_of(version).items():
                    if name.startswith(("manifest", "approval", "SHA256SUMS")):
                        table[hashlib.sha256(path.read_bytes()).hexdigest()] = f"{version.name}/{name}"
        tops.append((root.parent, table))
    for path in sorted(p for p in tops[0][0].iterdir() if p.is_file()):
        other = tops[1][0] / path.name
        if not other.exists():
            top_real.append(path.name)
            print(f"  {path.name}: only in old")
            continue
        a, b = path.read_text("utf-8"), other.read_text("utf-8")
        refs_a, refs_b = set(), set()
        if a == b:
            kind = "identical"
        elif normalise(a, False) == normalise(b, False):
            kind = "times/keys only"
        elif (normalise(by_name(a, tops[0][1], refs_a), False) == normalise(by_name(b, tops[1][1], refs_b), False)
              and refs_a == refs_b and all(r.split("/", 1)[0] != root.name or r.split("/", 1)[1] in explained
                                           for r in refs_a for root in roots[:1])):
            kind = "digests of the same version files only: " + ", ".join(sorted(refs_a))
        else:
            kind = "DIFFERS"
            top_real.append(path.name)
        print(f"  {path.name}: {kind}")
    real = real + [(n, "top-level file differs") for n in top_real]
    print("\nverdict:", "SAME apart from times/keys" if not (real or only_old or only_new) else "DIFFERENT")
    return 0 if not (real or only_old or only_new) else 1


if __name__ == "__main__":
    sys.exit(main())
