"""A split render makes the fixed costs of a render process once, before it forks (issue 16): the
children inherit the parent's formatters (catalogs, Babel's locale data) and compiled templates."""
from __future__ import annotations

import logging
import os

import jinja2

from publish import cards, i18n, parallel, site
from publish.site import render_site
from tests.support.publish_fixtures import build_bundle

LANGS = ["en", "de", "el", "ga"]


def test_children_of_a_split_render_build_no_formatter_and_compile_no_template(tmp_path, monkeypatch, caplog):
    log = tmp_path / "made.log"
    real_init, real_compile = i18n.Formatter.__init__, jinja2.Environment.compile

    def record(what: str) -> None:
        with log.open("a") as handle:  # appended by whichever process does it
            handle.write(f"{os.getpid()} {what}\n")

    def init(self, lang):
        record(f"formatter {lang}")
        real_init(self, lang)

    def compile_(self, source, name=None, *args, **kw):
        record(f"template {name}")
        return real_compile(self, source, name, *args, **kw)
    monkeypatch.setattr(i18n.Formatter, "__init__", init)
    monkeypatch.setattr(jinja2.Environment, "compile", compile_)
    for cached in (site._formatter, i18n.formatter, site._environment, cards._environment):
        cached.cache_clear()  # as in a new process
    monkeypatch.setenv(parallel.ENV, "2")
    monkeypatch.setenv("ENR_CARD_CACHE", "")
    monkeypatch.setenv("ENR_TEMPLATE_CACHE", "")  # every template compiled, in whichever process does it
    try:
        with caplog.at_level(logging.INFO, logger="publish.parallel"):
            render_site(build_bundle(), tmp_path / "out", languages=LANGS)
    finally:
        for cached in (site._formatter, i18n.formatter, site._environment, cards._environment):
            cached.cache_clear()  # the recording objects stay in this test
    assert any("split render: processes=2" in r.getMessage() for r in caplog.records)
    lines = [line.split(" ", 1) for line in log.read_text().splitlines()]
    made = {what for _, what in lines}
    assert {f"formatter {lang}" for lang in LANGS} <= made and "template country.html.j2" in made
    assert {pid for pid, _ in lines} == {str(os.getpid())}, [line for line in lines if line[0] != str(os.getpid())]
    assert len(made) == len(lines), sorted(what for _, what in lines if [w for _, w in lines].count(what) > 1)
