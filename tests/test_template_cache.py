"""Compiled templates kept between processes (publish/template_cache.py): taken instead of compiling,
compiled again when the template changed, never read from a folder or file others may write to, and
never through a path someone swapped after the folder was checked."""
from __future__ import annotations

import logging
import os

import pytest
from jinja2 import DictLoader, Environment, FileSystemLoader

from publish import template_cache

OPTIONS = {"autoescape": True, "keep_trailing_newline": True}


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "jinja"
    monkeypatch.setenv(template_cache.ENV, str(folder))
    template_cache._open_folder.cache_clear()
    yield folder
    template_cache._open_folder.cache_clear()


@pytest.fixture
def templates(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "page.j2").write_text("{% for x in xs %}<{{ x }}>{% endfor %}", encoding="utf-8")
    return folder


def _env(templates, kind="site", options=OPTIONS) -> Environment:
    return Environment(loader=FileSystemLoader(str(templates)), bytecode_cache=template_cache.bytecode_cache(kind, options),
                       **options)


def _no_compile(monkeypatch):
    def no_compile(*_a, **_kw):
        raise AssertionError("compiled again")
    monkeypatch.setattr(Environment, "compile", no_compile)


def test_a_new_environment_takes_the_compiled_template_instead_of_compiling(templates, cache_dir, monkeypatch):
    assert _env(templates).get_template("page.j2").render(xs=[1, 2]) == "<1><2>"
    files = list(cache_dir.glob("*.jinja"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    assert cache_dir.stat().st_mode & 0o077 == 0
    _no_compile(monkeypatch)
    assert _env(templates).get_template("page.j2").render(xs=[3]) == "<3>"


def test_an_edited_template_is_compiled_again(templates, cache_dir):
    assert _env(templates).get_template("page.j2").render(xs=[1]) == "<1>"
    (templates / "page.j2").write_text("new {{ xs }}", encoding="utf-8")
    assert _env(templates).get_template("page.j2").render(xs=1) == "new 1"


def test_another_environment_or_other_options_do_not_share_the_compiled_code(templates, cache_dir):
    _env(templates).get_template("page.j2")
    _env(templates, kind="cards").get_template("page.j2")
    _env(templates, options={**OPTIONS, "trim_blocks": True}).get_template("page.j2")
    assert len(list(cache_dir.glob("*.jinja"))) == 3


def test_the_sites_templates_render_from_the_cache_without_compiling(cache_dir, monkeypatch):
    from publish import site

    first = site._environment.__wrapped__()
    names = [n for n in first.list_templates() if n.endswith(".j2") and "/" not in n and "card" not in n]
    compiled = {n: first.get_template(n) for n in names}
    assert len(list(cache_dir.glob("site-*.jinja"))) == len(names) > 5
    _no_compile(monkeypatch)
    again = site._environment.__wrapped__()
    for name in names:
        assert again.get_template(name).blocks.keys() == compiled[name].blocks.keys()


def test_a_folder_others_may_write_to_is_not_used(tmp_path, monkeypatch, caplog):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    monkeypatch.setenv(template_cache.ENV, str(folder))
    template_cache._open_folder.cache_clear()
    with caplog.at_level(logging.WARNING, logger="publish.template_cache"):
        assert template_cache.bytecode_cache("site", OPTIONS) is None
    assert "no one else may write to" in caplog.text
    env = Environment(loader=DictLoader({"t": "{{ 1 + 1 }}"}), bytecode_cache=template_cache.bytecode_cache("site", {}))
    assert env.get_template("t").render() == "2" and not list(folder.iterdir())
    template_cache._open_folder.cache_clear()


def test_a_symlinked_folder_is_not_used(tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    monkeypatch.setenv(template_cache.ENV, str(tmp_path / "link"))
    template_cache._open_folder.cache_clear()
    assert template_cache.bytecode_cache("site", OPTIONS) is None
    template_cache._open_folder.cache_clear()


def test_a_folder_swapped_after_the_check_is_never_read(templates, cache_dir, tmp_path, monkeypatch):
    """Someone who may write a parent folder renames ours away and puts theirs, with planted files, in
    its place: the process keeps using the folder it checked (held open), never the new one."""
    cache = template_cache.bytecode_cache("site", OPTIONS)
    assert _env(templates).get_template("page.j2").render(xs=[1]) == "<1>"
    (name,) = [p.name for p in cache_dir.glob("*.jinja")]
    cache_dir.rename(tmp_path / "moved-away")
    planted = tmp_path / "jinja"
    planted.mkdir()
    (planted / name).write_bytes(b"planted, not Jinja bytecode")
    env = Environment(loader=FileSystemLoader(str(templates)), bytecode_cache=cache, **OPTIONS)
    _no_compile(monkeypatch)  # it takes the compiled code from the folder it checked, now moved away
    assert env.get_template("page.j2").render(xs=[2]) == "<2>"
    assert (planted / name).read_bytes() == b"planted, not Jinja bytecode"


@pytest.mark.parametrize("mode,link", [(0o666, False), (0o600, True)])
def test_a_file_others_may_write_or_a_symlink_is_not_loaded(templates, cache_dir, tmp_path, monkeypatch, mode, link):
    cache = template_cache.bytecode_cache("site", OPTIONS)
    _env(templates).get_template("page.j2")
    (path,) = cache_dir.glob("*.jinja")
    if link:
        elsewhere = tmp_path / "elsewhere.bin"
        elsewhere.write_bytes(path.read_bytes())
        path.unlink()
        path.symlink_to(elsewhere)
    else:
        path.chmod(mode)
    compiled = []
    real_compile = Environment.compile

    def compile_(self, *a, **kw):
        compiled.append(a[1] if len(a) > 1 else kw.get("name"))
        return real_compile(self, *a, **kw)
    monkeypatch.setattr(Environment, "compile", compile_)
    env = Environment(loader=FileSystemLoader(str(templates)), bytecode_cache=cache, **OPTIONS)
    assert env.get_template("page.j2").render(xs=[5]) == "<5>"
    assert compiled == ["page.j2"]  # compiled again, the file not taken


def test_an_empty_setting_means_no_cache_and_a_relative_xdg_home_is_ignored(monkeypatch):
    monkeypatch.setenv(template_cache.ENV, "")
    assert template_cache.bytecode_cache("site", OPTIONS) is None
    monkeypatch.delenv(template_cache.ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert template_cache.folder() == template_cache.Path.home() / ".cache" / "enr" / "jinja"
    monkeypatch.setenv("XDG_CACHE_HOME", "/srv/cache")
    assert template_cache.folder() == template_cache.Path("/srv/cache/enr/jinja")
    assert os.path.isabs(template_cache.folder())
