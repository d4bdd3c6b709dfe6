"""Compiled templates kept between processes (publish/template_cache.py): taken instead of compiling,
compiled again when the template changed, and never read from a folder others may write to."""
from __future__ import annotations

import logging

import pytest
from jinja2 import DictLoader, Environment, FileSystemLoader

from publish import template_cache


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "jinja"
    monkeypatch.setenv(template_cache.ENV, str(folder))
    template_cache._cache_at.cache_clear()
    yield folder
    template_cache._cache_at.cache_clear()


def _env(templates) -> Environment:
    return Environment(loader=FileSystemLoader(str(templates)), bytecode_cache=template_cache.bytecode_cache())


def test_a_new_environment_takes_the_compiled_template_instead_of_compiling(tmp_path, cache_dir, monkeypatch):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "page.j2").write_text("{% for x in xs %}<{{ x }}>{% endfor %}", encoding="utf-8")
    assert _env(templates).get_template("page.j2").render(xs=[1, 2]) == "<1><2>"
    assert len(list(cache_dir.glob("*.jinja"))) == 1
    assert cache_dir.stat().st_mode & 0o077 == 0

    def no_compile(*_a, **_kw):
        raise AssertionError("compiled again")
    monkeypatch.setattr(Environment, "compile", no_compile)
    assert _env(templates).get_template("page.j2").render(xs=[3]) == "<3>"


def test_an_edited_template_is_compiled_again(tmp_path, cache_dir):
    templates = tmp_path / "templates"
    templates.mkdir()
    page = templates / "page.j2"
    page.write_text("old {{ x }}", encoding="utf-8")
    assert _env(templates).get_template("page.j2").render(x=1) == "old 1"
    page.write_text("new {{ x }}", encoding="utf-8")
    assert _env(templates).get_template("page.j2").render(x=1) == "new 1"


def test_the_sites_templates_render_the_same_from_the_cache(cache_dir):
    from publish import site

    first = site._environment.__wrapped__()
    assert first.bytecode_cache is not None
    names = [n for n in first.list_templates() if n.endswith(".j2")]
    sources = {n: first.get_template(n) for n in names}
    assert len(list(cache_dir.glob("*.jinja"))) == len(names) > 5
    again = site._environment.__wrapped__()
    for name in names:
        assert again.get_template(name).render.__code__ is not None
        assert again.get_template(name).blocks.keys() == sources[name].blocks.keys()


def test_a_folder_others_may_write_to_is_not_used(tmp_path, monkeypatch, caplog):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    monkeypatch.setenv(template_cache.ENV, str(folder))
    template_cache._cache_at.cache_clear()
    with caplog.at_level(logging.WARNING, logger="publish.template_cache"):
        assert template_cache.bytecode_cache() is None
    assert "no one else may write to" in caplog.text
    env = Environment(loader=DictLoader({"t": "{{ 1 + 1 }}"}), bytecode_cache=template_cache.bytecode_cache())
    assert env.get_template("t").render() == "2" and not list(folder.iterdir())
    template_cache._cache_at.cache_clear()


def test_an_empty_setting_means_no_cache(monkeypatch):
    monkeypatch.setenv(template_cache.ENV, "")
    assert template_cache.bytecode_cache() is None
