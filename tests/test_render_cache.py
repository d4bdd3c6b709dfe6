"""The history pages' render cache (publish/render_cache.py): filled when the history is loaded,
taken by a render of the same history, languages and code, and never trusted beyond its index."""
from __future__ import annotations

import copy
import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from publish import history as history_module
from publish import parallel, render_cache, site, sources
from tests.test_history_pages import history  # noqa: F401  (the module's fixture: EP 1979-2019 as loaded)

LANGS = ["en", "de", "el"]


@pytest.fixture(scope="module")
def fresh(history, tmp_path_factory) -> dict[str, bytes]:
    """The pages of a render without any cache."""
    out = tmp_path_factory.mktemp("fresh")
    history_module.render_history(history, out, LANGS)
    return _files(out)


@pytest.fixture(autouse=True)
def _default_cache_folder(monkeypatch):
    monkeypatch.delenv(render_cache.ENV, raising=False)  # <ENR_HOME>/render-cache unless a test sets it


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "render-cache"
    monkeypatch.setenv(render_cache.ENV, str(folder))
    return folder


@pytest.fixture
def renders(monkeypatch) -> list[tuple]:
    """Every call of render_history (the pages drawn, not taken from the cache)."""
    calls: list[tuple] = []
    real = history_module.render_history

    def counted(history, out_dir, languages):
        calls.append((out_dir, tuple(languages)))
        return real(history, out_dir, languages)
    monkeypatch.setattr(history_module, "render_history", counted)
    return calls


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _entry(cache: Path, history: dict, languages=LANGS) -> Path:
    return cache / "history" / render_cache.history_key(history, languages)


def test_pages_taken_from_the_cache_are_the_bytes_of_a_fresh_render(history, fresh, cache, renders, tmp_path, caplog):
    first = render_cache.history_pages(history, tmp_path / "a", LANGS)
    assert len(renders) == 1 and len(first) == len(fresh) == 3 * 29
    entry = _entry(cache, history)
    assert json.loads((entry / "index.json").read_text()).keys() == fresh.keys()
    with caplog.at_level(logging.INFO, logger="publish.render_cache"):
        second = render_cache.history_pages(history, tmp_path / "b", LANGS)
    assert len(renders) == 1, "the second render drew the pages again"
    assert "history pages from the render cache" in caplog.text
    assert sorted(p.relative_to(tmp_path / "b").as_posix() for p in second) == sorted(fresh)
    assert _files(tmp_path / "a") == _files(tmp_path / "b") == fresh


def test_one_more_result_misses_the_cache(history, cache, renders, tmp_path):
    render_cache.history_pages(history, tmp_path / "a", LANGS)
    changed = copy.deepcopy(history)
    election = changed["countries"]["MT"][-1]
    election["parties"].append({**election["parties"][-1], "party_abbrev": "NEW", "party_name": "A new list",
                                "votes": 1234, "vote_share": "0.5", "seats": 0})
    render_cache.history_pages(changed, tmp_path / "b", LANGS)
    assert len(renders) == 2
    assert "A new list" in (tmp_path / "b" / "en" / "history" / "mt.html").read_text(encoding="utf-8")
    assert "A new list" not in (tmp_path / "a" / "en" / "history" / "mt.html").read_text(encoding="utf-8")
    render_cache.history_pages(history, tmp_path / "c", LANGS)  # the first entry is still there
    assert len(renders) == 2


def test_another_language_list_misses_the_cache(history, cache, renders, tmp_path):
    render_cache.history_pages(history, tmp_path / "a", LANGS)
    written = render_cache.history_pages(history, tmp_path / "b", ["en", "de"])
    assert len(renders) == 2
    assert {p.relative_to(tmp_path / "b").parts[0] for p in written} == {"en", "de"}
    # the switcher of a two-language page names two languages, not the cached three
    assert "../../el/history/" not in (tmp_path / "b" / "en" / "history" / "index.html").read_text(encoding="utf-8")


def test_a_changed_template_misses_the_cache(history, cache, renders, tmp_path, monkeypatch):
    render_cache.history_pages(history, tmp_path / "a", LANGS)
    code = tmp_path / "publish"  # a copy of the package's templates, catalogs and code, one template edited
    shutil.copytree(site.HERE, code, ignore=shutil.ignore_patterns("__pycache__"))
    template = code / "templates" / "history" / "country.html.j2"
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace("{% block main %}", "{% block main %}<p>edited</p>", 1), encoding="utf-8")
    for module in (site, sources):  # site renders with the copy; sources digests it
        monkeypatch.setattr(module, "HERE", code)
        monkeypatch.setattr(module, "TEMPLATES", code / "templates")
    monkeypatch.setattr(history_module, "TEMPLATES", code / "templates")
    sources.sources_digest.cache_clear()
    try:
        render_cache.history_pages(history, tmp_path / "b", LANGS)
    finally:
        sources.sources_digest.cache_clear()
    assert len(renders) == 2
    assert "<p>edited</p>" in (tmp_path / "b" / "en" / "history" / "mt.html").read_text(encoding="utf-8")


def test_pages_taken_from_the_cache_are_links_to_its_checked_files_or_copies(history, fresh, cache, renders,
                                                                           tmp_path, monkeypatch):
    """A render takes a cached page as a hard link to the entry's file (no file to create, no bytes to
    write again); where linking fails (another file system) as a copy of the checked bytes. A name
    already in the render folder is replaced, never written through."""
    render_cache.history_pages(history, tmp_path / "a", LANGS)  # rendered and stored
    entry = _entry(cache, history)
    (tmp_path / "b" / "en" / "history").mkdir(parents=True)
    bystander = tmp_path / "bystander.html"
    bystander.write_bytes(b"not a history page")
    os.link(bystander, tmp_path / "b" / "en" / "history" / "mt.html")  # a name there already, shared
    written = render_cache.history_pages(history, tmp_path / "b", LANGS)
    assert len(renders) == 1 and _files(tmp_path / "b") == fresh
    assert written and all(os.path.samefile(path, entry / path.relative_to(tmp_path / "b")) for path in written)
    assert bystander.read_bytes() == b"not a history page"

    # the entry's file replaced between the check and the link (another writer): the checked bytes
    real_link = os.link
    swapped = entry / "en" / "history" / "mt.html"

    def link_after_a_swap(source, target):
        if Path(source) == swapped:
            other = swapped.with_name(".swap")
            other.write_bytes(b"<p>not what was checked</p>")
            os.replace(other, swapped)
        return real_link(source, target)
    monkeypatch.setattr(render_cache.os, "link", link_after_a_swap)
    raced = render_cache.history_pages(history, tmp_path / "r", LANGS)
    assert (tmp_path / "r" / "en" / "history" / "mt.html").read_bytes() == fresh["en/history/mt.html"]
    assert not os.path.samefile(tmp_path / "r" / "en" / "history" / "mt.html", swapped)
    assert len(raced) == len(written)

    def cross_device(source, target):
        raise OSError(18, "Invalid cross-device link")
    monkeypatch.setattr(render_cache.os, "link", cross_device)
    copied = render_cache.history_pages(history, tmp_path / "c", LANGS)
    assert _files(tmp_path / "c") == fresh
    assert not any(os.path.samefile(path, entry / path.relative_to(tmp_path / "c")) for path in copied)


def test_a_tampered_cached_page_is_not_used_and_the_entry_is_replaced(history, fresh, cache, renders, tmp_path,
                                                                      caplog):
    render_cache.history_pages(history, tmp_path / "a", LANGS)
    page = _entry(cache, history) / "en" / "history" / "mt.html"
    page.write_bytes(page.read_bytes().replace(b"</main>", b"<script>alert(1)</script></main>"))
    with caplog.at_level(logging.WARNING, logger="publish.render_cache"):
        render_cache.history_pages(history, tmp_path / "b", LANGS)
    assert len(renders) == 2
    assert "SHA-256 does not match" in caplog.text and "mt.html" in caplog.text
    assert _files(tmp_path / "b") == fresh
    assert page.read_bytes() == fresh["en/history/mt.html"]  # replaced by a good entry
    render_cache.history_pages(history, tmp_path / "c", LANGS)
    assert len(renders) == 2 and _files(tmp_path / "c") == fresh


def test_a_cache_folder_without_its_index_is_ignored(history, fresh, cache, renders, tmp_path, caplog):
    render_cache.history_pages(history, tmp_path / "a", LANGS)
    (_entry(cache, history) / "index.json").unlink()
    with caplog.at_level(logging.WARNING, logger="publish.render_cache"):
        render_cache.history_pages(history, tmp_path / "b", LANGS)
    assert len(renders) == 2 and "no readable index" in caplog.text
    assert _files(tmp_path / "b") == fresh
    assert (_entry(cache, history) / "index.json").is_file()


@pytest.mark.parametrize("rel", ["../../../evil.html", "/etc/passwd", "en/index.html", "en/history/../../x.html"])
def test_an_index_naming_a_page_outside_the_history_is_not_used(history, fresh, cache, renders, tmp_path, rel):
    render_cache.history_pages(history, tmp_path / "a", LANGS)
    index_path = _entry(cache, history) / "index.json"
    index = json.loads(index_path.read_text())
    index[rel] = index["en/history/mt.html"]
    index_path.write_text(json.dumps(index))
    render_cache.history_pages(history, tmp_path / "b", LANGS)
    assert len(renders) == 2
    assert _files(tmp_path / "b") == fresh


def test_an_entry_missing_a_language_is_not_used(history, fresh, cache, renders, tmp_path):
    render_cache.history_pages(history, tmp_path / "a", LANGS)
    entry = _entry(cache, history)
    shutil.rmtree(entry / "el")
    index = {rel: digest for rel, digest in json.loads((entry / "index.json").read_text()).items()
             if not rel.startswith("el/")}
    (entry / "index.json").write_text(json.dumps(index))
    render_cache.history_pages(history, tmp_path / "b", LANGS)
    assert len(renders) == 2 and _files(tmp_path / "b") == fresh


def test_no_cache_when_the_setting_is_empty(history, renders, tmp_path, monkeypatch):
    monkeypatch.setenv(render_cache.ENV, "")
    render_cache.history_pages(history, tmp_path / "a", LANGS)
    render_cache.history_pages(history, tmp_path / "b", LANGS)
    assert len(renders) == 2
    assert render_cache.warm_history(history, LANGS)["pages"] == 0


def test_only_the_newest_entries_are_kept(history, cache, tmp_path, monkeypatch):
    monkeypatch.setattr(render_cache, "KEEP", 2)
    (cache / "history" / ".tmp-killed").mkdir(parents=True)
    os.utime(cache / "history" / ".tmp-killed", (0, 0))
    (cache / "history" / ".tmp-running").mkdir()
    for n in range(3):
        render_cache.store(f"{n:064x}", {"en/history/index.html": b"page %d" % n})
        os.utime(cache / "history" / f"{n:064x}", (n, 1000 + n))
    assert sorted(p.name for p in (cache / "history").iterdir()) == [".tmp-running", f"{1:064x}", f"{2:064x}"]


def test_loading_the_history_warms_the_cache_for_the_next_full_render(enr_home, renders, monkeypatch, caplog):
    from enr import operator, pipeline
    from enr.definition import load_election
    from tests.support.publish_fixtures import build_bundle

    operator.load_history(run_id="test-warm")
    assert len(renders) == 1
    languages = list(load_election("ep2019").languages)
    assert renders[0][1] == tuple(languages)
    entry = enr_home / "render-cache" / "history"
    assert len(list(entry.iterdir())) == 1
    assert operator.warm_history_pages()["rendered"] is False  # already there: not drawn again
    assert len(renders) == 1

    history = pipeline._history("ep2019")
    bundle = build_bundle(only={"MT", "LU"})
    monkeypatch.setenv("ENR_RENDER_PROCESSES", "1")
    written = site.render_site(bundle, enr_home / "v1", languages=languages, history=history)
    assert len(renders) == 1, "the full render drew the history pages"
    assert len([p for p in written if p.parent.name == "history"]) == 24 * 29

    def refuse(*args, **kwargs):
        raise AssertionError("history pages drawn in a split render")
    monkeypatch.setattr(history_module, "render_history", refuse)
    monkeypatch.setenv("ENR_RENDER_PROCESSES", "2")
    plans = []
    real_plan = parallel.plan

    def plan(*args, **kwargs):
        plans.append(kwargs)
        return real_plan(*args, **kwargs)
    monkeypatch.setattr(parallel, "plan", plan)
    site.render_site(bundle, enr_home / "v2", languages=languages, history=history)
    assert _files(enr_home / "v1") == _files(enr_home / "v2")
    assert [{k: v for k, v in kw.items() if k not in ("languages", "weights")} for kw in plans] == [
        {"history": True, "history_changed": False, "changed": None}]  # weighed as copied pages


def test_a_failure_to_warm_never_fails_the_load(enr_home, monkeypatch, caplog):
    from enr import operator

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(render_cache, "warm_history", broken)
    with caplog.at_level(logging.ERROR, logger="enr.operator"):
        loaded = operator.load_history(run_id="test-warm-fails")
    assert loaded  # the load's own report
    assert "history pages not rendered into the render cache" in caplog.text


def test_enr_history_load_warms_the_cache_of_the_store_the_stage_reads(enr_home, tmp_path):
    from enr.cli import main

    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert main(["history", "load", "--all", "--store", other, "--run-id", "cli-other"]) == 0
    assert not (enr_home / "render-cache").exists()  # another store: not what the stage renders
    assert main(["history", "load", "--all", "--run-id", "cli-test"]) == 0
    entries = list((enr_home / "render-cache" / "history").iterdir())
    assert len(entries) == 1 and len(json.loads((entries[0] / "index.json").read_text())) == 24 * 29
