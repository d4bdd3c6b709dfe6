"""One command line: every operator command is an ``enr`` subcommand, parsed in enr/cli.py only.

The side parsers (``python -m publish.release``, ``python -m publish.verify``, ``python -m
historical_loader``, ``python -m enr.units``, ``python -m enr.synthetic``, the ``seats_cli`` shim)
are gone; what they did is ``enr replicate|current|rollback --bucket``, ``enr verify``, ``enr history``,
``enr write-units`` and ``enr write-synthetic``. The commands that touch a published bucket are
tested in test_publish_release.py, ``enr verify`` in test_publish_signing.py, ``enr write-units``
in test_contract_units.py.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from enr.cli import build_parser, main
from test_history_store import _changed_copy

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("enr", "publish", "transforms", "expectations", "historical_loader", "plugins", "dags")


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _is_main_guard(node: ast.AST) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in node.test.comparators))


def test_only_the_enr_command_line_parses_arguments():
    parsers, entries = [], []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        name = str(path.relative_to(ROOT))
        if path.name == "__main__.py" or any(_is_main_guard(n) for n in tree.body):
            entries.append(name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) \
                    in ("ArgumentParser", "add_subparsers", "add_parser"):
                parsers.append(f"{name}:{node.lineno}")
    assert entries == ["enr/cli.py"]
    assert {p.split(":")[0] for p in parsers} == {"enr/cli.py"}, parsers
    assert not (ROOT / "transforms" / "seats_cli.py").exists()


def test_the_old_module_entry_points_are_gone():
    done = subprocess.run([sys.executable, "-m", "historical_loader", "load", "--all"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "historical_loader.__main__" in done.stderr
    for module in ("publish.release", "publish.verify", "enr.units", "enr.synthetic", "enr.seats_command"):
        assert not hasattr(__import__(module, fromlist=["_"]), "main"), module


def test_every_command_is_listed_in_the_module_docstring():
    import enr.cli

    commands = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse keeps them there
    missing = [c for c in commands if f"enr {c}" not in enr.cli.__doc__]
    assert not missing, missing


def test_history_load_verify_and_its_exit_codes(tmp_path, capsys):
    store = f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["history", "load", "--day", "1984-06-17", "--store", store, "--run-id", "cli-test"]) == 0
    loaded = json.loads(capsys.readouterr().out)
    assert loaded["election_day"] == "1984-06-17" and loaded["inserted"] == 12, loaded
    assert main(["history", "verify", "--day", "1984-06-17", "--store", store]) == 0
    verified = json.loads(capsys.readouterr().out)
    assert verified[0]["results"] == 90, verified

    changed, _ = _changed_copy(tmp_path)  # one more thousand votes for the CDA in the Netherlands, 1984
    assert main(["history", "load", "--day", "1984-06-17", "--store", store, "--data", str(changed)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("enr history load: conflict: ") and "EP 1984 NL" in err and "replace" in err
    assert main(["history", "load", "--day", "1984-06-17", "--store", store, "--data", str(changed),
                 "--replace"]) == 0
    assert json.loads(capsys.readouterr().out)["replaced"] == 1

    assert main(["history", "validate", "--store", store]) == 2
    assert "give --day DAY or --all" in capsys.readouterr().err


def test_write_synthetic_refuses_a_definition_of_real_results(capsys):
    assert main(["write-synthetic", "--election", "ep2019"]) == 1
    assert "refusing to overwrite real results" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["history"], ["replicate", "--bucket", "file:///tmp/x"], ["write-units"]])
def test_bad_arguments_are_one_line_and_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"enr {argv[0]}: ") and "\n" not in err
