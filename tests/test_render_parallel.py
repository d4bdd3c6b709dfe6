"""The full render split by country over two processes (publish.parallel): the same bytes as one
process, every failure of a child fails the render with its error, and the split is only made when
it pays."""
from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest

from publish import cards, parallel
from publish.site import Reuse, render_site
from tests.support.publish_fixtures import build_bundle, build_history

LANGS = ["en", "de", "el", "ga"]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _render(monkeypatch, out: Path, processes: int, bundle: dict | None = None, **kw) -> tuple[list[Path], dict]:
    monkeypatch.setenv(parallel.ENV, str(processes))
    prints: dict = {}
    written = render_site(bundle or build_bundle(), out, languages=LANGS, history=build_history(),
                          fingerprints=prints, public_base_url="https://results.example.eu", **kw)
    return written, prints


@pytest.fixture
def cold_cards(monkeypatch):
    monkeypatch.setenv("ENR_CARD_CACHE", "")  # every card drawn, in whichever process owns it


@pytest.fixture
def forked(monkeypatch) -> list[int]:
    """The pids this process forked during the test (other children of the test process, such as
    the servers of a session fixture, are not the render's business)."""
    pids: list[int] = []
    fork = os.fork

    def recording_fork() -> int:
        pid = fork()
        if pid:
            pids.append(pid)
        return pid
    monkeypatch.setattr(parallel.os, "fork", recording_fork)
    return pids


def _no_child_left(forked: list[int]) -> None:
    """The render forked at least one child, and every one of them is reaped (not running, not a zombie)."""
    assert forked, "the render did not fork: the split was not exercised"
    for pid in forked:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_split_render_writes_the_same_bytes_as_one_process(tmp_path, monkeypatch, caplog, cold_cards, forked):
    one, one_prints = _render(monkeypatch, tmp_path / "one", 1)
    with caplog.at_level(logging.INFO, logger="publish.parallel"):
        two, two_prints = _render(monkeypatch, tmp_path / "two", 2)
    assert any("split render: processes=2" in r.getMessage() for r in caplog.records)
    a, b = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert sorted(a) == sorted(b)
    assert len(a) > 400 and sum(k.startswith("cards/") for k in a) == len(LANGS) * (len(build_bundle()["countries"]) + 1)
    assert [k for k in a if a[k] != b[k]] == []
    # the same list of files (each once), the same fingerprints, for the next incremental render
    rel = [sorted(p.relative_to(tmp_path / name).as_posix() for p in paths) for name, paths in (("one", one), ("two", two))]
    assert rel[0] == rel[1] and len(set(two)) == len(two)
    assert one_prints == two_prints
    _no_child_left(forked)


def test_incremental_render_after_a_split_render_is_identical(tmp_path, monkeypatch, cold_cards):
    """A split render's fingerprints serve the next version's reuse as a one-process render's do."""
    first = build_bundle("v0003")
    _, prints = _render(monkeypatch, tmp_path / "v0003", 2, first)
    second = build_bundle("v0004")
    _render(monkeypatch, tmp_path / "v0004", 2, second, reuse=Reuse(tmp_path / "v0003", prints))
    _render(monkeypatch, tmp_path / "full", 1, second)
    assert _files(tmp_path / "v0004") == _files(tmp_path / "full")


def _fail_in_child(monkeypatch, action) -> None:
    """Make the child (not the parent) fail while it draws a country card."""
    parent = os.getpid()
    original = cards.country_card

    def country_card(*args, **kw):
        if os.getpid() != parent:
            action()
        return original(*args, **kw)
    monkeypatch.setattr(cards, "country_card", country_card)


def test_a_failing_child_fails_the_render_with_its_error(tmp_path, monkeypatch, forked):
    def boom():
        raise cards.CardError("the panel of this country cannot be drawn")
    _fail_in_child(monkeypatch, boom)
    with pytest.raises(parallel.RenderProcessError,
                       match=r"render share 1 .*countries .*failed: CardError: the panel of this country cannot be drawn"):
        _render(monkeypatch, tmp_path / "site", 2)
    _no_child_left(forked)


def test_the_childs_log_lines_reach_the_log_through_the_parent(tmp_path, monkeypatch, forked):
    """Under Airflow a task's log is one stream to its supervisor: the child writes nothing to the
    handlers it inherited; its lines are logged by the parent once the child is done."""
    stream = tmp_path / "inherited.log"
    handler = logging.FileHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    parent = os.getpid()
    original = cards.country_card

    def country_card(*args, **kw):
        if os.getpid() != parent:
            logging.getLogger("publish.cards").warning("drawn in the child %d", os.getpid())
        return original(*args, **kw)

    monkeypatch.setattr(cards, "country_card", country_card)
    try:
        _render(monkeypatch, tmp_path / "site", 2)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    lines = stream.read_text().splitlines()
    from_child = [line for line in lines if "drawn in the child" in line]
    assert from_child, lines[-5:]
    # every one of them written by the parent, prefixed with the child's pid, never by the child itself
    assert all(line.startswith("[render child ") for line in from_child)
    pids = {int(line.split("[render child ")[1].split("]")[0]) for line in from_child}
    assert len(pids) == 1 and pids != {parent}
    child = pids.pop()
    assert all(f"drawn in the child {child}" in line for line in from_child)
    _no_child_left(forked)


def test_a_child_killed_by_a_signal_fails_the_render(tmp_path, monkeypatch, forked):
    _fail_in_child(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGKILL))
    with pytest.raises(parallel.RenderProcessError, match="killed by signal 9"):
        _render(monkeypatch, tmp_path / "site", 2)
    _no_child_left(forked)


def test_a_failing_parent_ends_its_child(tmp_path, monkeypatch, forked):
    parent = os.getpid()
    original = cards.eu_card

    def eu_card(*args, **kw):
        if os.getpid() == parent:
            raise RuntimeError("parent broke")
        return original(*args, **kw)
    monkeypatch.setattr(cards, "eu_card", eu_card)
    with pytest.raises(RuntimeError, match="parent broke"):
        _render(monkeypatch, tmp_path / "site", 2)
    _no_child_left(forked)


def test_processes_from_the_environment_read_at_run_time(monkeypatch):
    monkeypatch.delenv(parallel.ENV, raising=False)
    assert parallel.processes() == min(2, len(os.sched_getaffinity(0)))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert parallel.processes() == 1
    monkeypatch.setenv(parallel.ENV, "3")
    assert parallel.processes() == 3
    for bad in ("0", "-1", "two", "1.5"):
        monkeypatch.setenv(parallel.ENV, bad)
        with pytest.raises(parallel.RenderSettingError, match=f"ENR_RENDER_PROCESSES={bad!r}"):
            parallel.processes()


def test_one_process_renders_everything(tmp_path, monkeypatch, caplog):
    with caplog.at_level(logging.INFO, logger="publish.parallel"):
        _render(monkeypatch, tmp_path / "site", 1)
    assert not any("split render" in r.getMessage() for r in caplog.records)


CODES = [c["code"] for c in build_bundle()["countries"]]


def test_plan_splits_by_country_each_block_once():
    shares = parallel.plan(CODES, 2, history=True)
    assert len(shares) == 2
    assert shares[0].countries.isdisjoint(shares[1].countries)
    assert shares[0].countries | shares[1].countries == set(CODES)
    assert sorted(shares[0].blocks) + sorted(shares[1].blocks) != []
    assert sorted(shares[0].blocks | shares[1].blocks) == sorted(parallel.BLOCKS)
    assert shares[0].blocks.isdisjoint(shares[1].blocks)
    # about the same work on each side
    loads = [sum({"site": parallel.SITE_WIDE, "history": parallel.HISTORY, "feeds": parallel.FEEDS,
                  "widget": parallel.WIDGET}[b] for b in s.blocks) + len(s.countries) for s in shares]
    assert abs(loads[0] - loads[1]) <= 1.0
    # a country's page and card belong to the share that has the country; the rest to the site block
    mt = next(s for s in shares if s.country("MT"))
    site = next(s for s in shares if s.has("site"))
    assert mt.owns("de/country/mt.html") and mt.owns("cards/de/mt.png")
    assert site.owns("de/index.html") and site.owns("cards/de/eu.png") and site.owns("de/group/epp.html")
    other = next(s for s in shares if s is not mt)
    assert not other.owns("de/country/mt.html") and not other.owns("cards/de/mt.png")


def test_plan_splits_the_eu_wide_pages_by_language():
    """An incremental render where one country changed is mostly the EU-wide pages of every language
    (they show the version): with the languages given, they are shared out too, each language's
    pages and card in exactly one share, the assets and the language chooser in one."""
    langs = ["de", "en", "fr", "it", "pl", "sv"]
    shares = parallel.plan(CODES, 2, history=True, history_changed=False, changed=["MT"], languages=langs)
    assert len(shares) == 2
    for lang in langs:
        for key in (f"{lang}/index.html", f"cards/{lang}/eu.png", f"{lang}/group/epp.html", f"{lang}/methodology.html"):
            assert [s.owns(key) for s in shares].count(True) == 1, key
    assert [s.owns("index.html") for s in shares].count(True) == 1
    assert [s.has("site") for s in shares].count(True) == 1
    assert all(any(b.startswith("site:") for b in s.blocks) for s in shares)  # both render EU-wide pages
    mt = next(s for s in shares if s.country("MT"))
    assert mt.owns("fr/country/mt.html") and not next(s for s in shares if s is not mt).owns("fr/country/mt.html")


def test_plan_weighs_each_country_by_its_lists():
    """A country with many lists (a larger page and card) weighs more: the heaviest countries go to
    different processes and the shares' loads stay close; without weights every country weighs 1."""
    bundle = build_bundle()
    weights = {c["code"]: parallel.country_weight(c) for c in bundle["countries"]}
    lists = {c["code"]: len(c.get("lists") or ()) for c in bundle["countries"]}
    few, many = min(lists, key=lists.get), max(lists, key=lists.get)
    assert lists[many] > lists[few] and weights[many] > weights[few]
    heavy = {code: 1.0 for code in CODES}
    heavy.update({CODES[0]: 6.0, CODES[1]: 6.0})
    shares = parallel.plan(CODES, 2, history=False, weights=heavy)
    assert len(shares) == 2
    assert [s.country(CODES[0]) for s in shares] != [s.country(CODES[1]) for s in shares]
    assert shares[0].countries | shares[1].countries == set(CODES)
    loads = [sum(heavy[c] for c in s.countries) + sum({"site": parallel.SITE_WIDE, "feeds": parallel.FEEDS,
                                                       "widget": parallel.WIDGET}[b] for b in s.blocks)
             for s in shares]
    assert abs(loads[0] - loads[1]) <= 6.0  # at most the largest item apart
    plain = parallel.plan(CODES, 2, history=False)
    assert plain == parallel.plan(CODES, 2, history=False, weights={code: 1.0 for code in CODES})


def test_plan_keeps_a_small_incremental_render_in_one_process():
    assert len(parallel.plan(CODES, 2, history=False, changed=[])) == 1
    assert len(parallel.plan(CODES, 2, history=True, history_changed=False, changed=[])) == 1
    assert len(parallel.plan(CODES, 1, history=True)) == 1
    assert len(parallel.plan(CODES, 2, history=True, changed=CODES)) == 2


def test_a_child_does_not_outlive_a_killed_parent(tmp_path):
    """The task process killed (by Airflow's timeout, by an operator): its render child ends too."""
    import subprocess
    import sys
    import time

    pidfile = tmp_path / "child.pid"
    code = f"""
import os, sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
from publish import parallel
def render(share):
    if share.index:
        open({str(pidfile)!r}, "w").write(str(os.getpid()))
        time.sleep(60)
    time.sleep(60)
parallel.run([parallel.Share(0, frozenset(), frozenset()), parallel.Share(1, frozenset(), frozenset())], render)
"""
    parent = subprocess.Popen([sys.executable, "-c", code])
    child = None
    try:
        deadline = time.monotonic() + 30
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < deadline and parent.poll() is None
            time.sleep(0.05)
        child = int(pidfile.read_text())
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child}").exists() and "Z" not in _state(child):
            assert time.monotonic() < deadline, "the render child outlived its parent"
            time.sleep(0.05)
    finally:
        parent.kill()
        if child is not None and Path(f"/proc/{child}").exists():
            os.kill(child, signal.SIGKILL)  # a failed check leaves nothing running


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def test_remote_reuse_records_the_copies_of_both_processes(tmp_path, monkeypatch):
    """On an object store unchanged pages are not written but recorded in ``Reuse.copied``: a child's
    records reach the parent (the manifest takes their entries, staging copies them in the store)."""
    import hashlib

    bundle = build_bundle()
    _, prints = _render(monkeypatch, tmp_path / "v0003", 2, bundle)
    entries = {rel: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
               for rel, data in _files(tmp_path / "v0003").items()}
    outcome = {}
    for processes in (1, 2):
        reuse = Reuse(None, prints, digests={rel: e["sha256"] for rel, e in entries.items()}, source="staging/v0003",
                      entries=entries)
        written, _ = _render(monkeypatch, tmp_path / f"again{processes}", processes, bundle, reuse=reuse)
        outcome[processes] = (dict(reuse.copied), _files(tmp_path / f"again{processes}"))
    assert outcome[1] == outcome[2]
    copied = outcome[2][0]
    assert "de/country/mt.html" in copied and "cards/ga/mt.png" in copied and "en/index.html" in copied
    assert not (tmp_path / "again2" / "de" / "country" / "mt.html").exists()


def test_local_reuse_records_the_checked_links_of_both_processes(tmp_path, monkeypatch, forked):
    """On a local folder unchanged pages are linked after their bytes were checked: each process's
    record of the links it checked (``Reuse.checked``, which staging need not read back) reaches the
    parent, the same as a one-process render's."""
    import hashlib

    bundle = build_bundle()
    _, prints = _render(monkeypatch, tmp_path / "v0003", 2, bundle)
    files = _files(tmp_path / "v0003")
    entries = {rel: {"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "md5": "0" * 32}
               for rel, data in files.items()}
    outcome = {}
    for processes in (1, 2):
        reuse = Reuse(tmp_path / "v0003", prints, digests={rel: e["sha256"] for rel, e in entries.items()},
                      entries=entries)
        _render(monkeypatch, tmp_path / f"again{processes}", processes, bundle, reuse=reuse)
        outcome[processes] = (dict(reuse.copied), dict(reuse.checked))
    assert outcome[1][0] == outcome[2][0] and set(outcome[1][1]) == set(outcome[2][1])
    copied, checked = outcome[2]
    assert set(checked) == set(copied) and "de/country/mt.html" in checked and "cards/ga/mt.png" in checked
    for rel, (identity, sha256) in checked.items():
        status = os.stat(tmp_path / "again2" / rel)
        assert identity == (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)
        assert os.path.samefile(tmp_path / "again2" / rel, tmp_path / "v0003" / rel) and sha256 == entries[rel]["sha256"]
    _no_child_left(forked)
