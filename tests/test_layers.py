"""The layers are a contract (issue 17, docs/ARCHITECTURE.md): ``lint-imports`` checks the
``[tool.importlinter]`` contracts of pyproject.toml, imports inside functions included.

* the project keeps its contracts: one-way layers, no Airflow below plugins/, a pure seat engine;
* every module of enr/ sits in exactly one of enr's two layers, so a new module cannot slip past
  the contract unplaced;
* no package but enr has an import cycle between its modules (enr's operations still have one,
  docs/ARCHITECTURE.md "Cycles left");
* the checker can fail: a copy of the tree with one bad import (inside a function, where a lazy
  import used to hide a cycle) breaks the contract it should, and the report names the import.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
CONTRACTS = {c["id"]: c for c in CONFIG["contracts"]}


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` run on ``project`` (its pyproject.toml, its packages first on the path)."""
    executable = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(executable), "--no-cache"], cwd=project, capture_output=True, text=True, timeout=300,
                          env={"PATH": str(executable.parent), "PYTHONPATH": str(project)})


def layer_members(layer: str, *, optional: bool = True) -> list[str]:
    """The modules of one layer string (``a | b`` independent, ``a : b`` not; ``(a)`` optional: a module
    another branch brings); ``optional=False`` leaves the optional ones out."""
    parts = [p.strip() for p in (layer.split("|") if "|" in layer else layer.split(":")) if p.strip()]
    return [p.strip("()") for p in parts if optional or not p.startswith("(")]


def test_the_project_keeps_its_import_contracts():
    done = lint_imports(ROOT)
    assert done.returncode == 0, f"import contracts broken (pyproject.toml [tool.importlinter]):\n{done.stdout}"
    for contract in CONTRACTS.values():
        assert f"{contract['name']} KEPT" in " ".join(done.stdout.split()), contract["id"]


def test_the_contracts_are_the_documented_layers():
    layers = [layer_members(layer) for layer in CONTRACTS["layers"]["layers"]]
    assert layers[:2] == [["dags"], ["plugins"]] and layers[-1] == ["transforms"]
    assert layers[3] == ["expectations", "historical_loader", "publish"]
    assert "|" in CONTRACTS["layers"]["layers"][3]  # the parts know nothing of each other
    assert CONTRACTS["no-airflow-below-plugins"]["forbidden_modules"] == ["airflow"]
    assert set(CONTRACTS["no-airflow-below-plugins"]["source_modules"]) == {
        "enr", "expectations", "historical_loader", "publish", "transforms"}
    assert CONTRACTS["pure-transforms"]["source_modules"] == ["transforms"]
    # no exception for a cycle: the only one allowed is the object store's Airflow path
    assert "ignore_imports" not in CONTRACTS["layers"] and "ignore_imports" not in CONTRACTS["pure-transforms"]
    assert "ignore_imports" not in CONTRACTS["no-cycles"]
    assert CONTRACTS["no-airflow-below-plugins"]["ignore_imports"] == ["*.bucket -> airflow"]
    assert set(CONTRACTS["no-cycles"]["ancestors"]) == set(CONFIG["root_packages"])


def test_every_module_of_enr_sits_in_exactly_one_layer():
    modules = sorted({f"enr.{p.stem}" for p in (ROOT / "enr").glob("*.py") if p.stem != "__init__"}
                     | {f"enr.{p.parent.name}" for p in (ROOT / "enr").glob("*/__init__.py")})
    placed: dict[str, list[int]] = {}
    for index, layer in enumerate(CONTRACTS["layers"]["layers"]):
        for member in layer_members(layer):
            placed.setdefault(member, []).append(index)
    unplaced = [m for m in modules if m not in placed]
    assert not unplaced, (f"{', '.join(unplaced)}: in no layer of pyproject.toml [tool.importlinter]; add each to "
                          "the 'enr operations' or the 'enr core' layer (docs/ARCHITECTURE.md says which is which)")
    twice = [m for m, where in placed.items() if len(where) > 1]
    assert not twice, f"{', '.join(twice)}: in more than one layer of pyproject.toml [tool.importlinter]"
    required = {m for layer in CONTRACTS["layers"]["layers"] for m in layer_members(layer, optional=False)}
    gone = [m for m in placed if m.startswith("enr.") and m in required and m not in modules]
    assert not gone, f"{', '.join(gone)}: listed in a layer of pyproject.toml but no such module under enr/"


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    """The project's packages and pyproject.toml, copied: a place to plant one bad import."""
    copy = tmp_path_factory.mktemp("tree")
    for package in CONFIG["root_packages"]:
        shutil.copytree(ROOT / package, copy / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "static", "locale"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    # the copy of transforms/seats_cli.py (removed by issue 17's one-CLI work) would break the
    # contract by itself: the copy keeps only what each case plants
    (copy / "transforms" / "seats_cli.py").unlink(missing_ok=True)
    clean = lint_imports(copy)
    assert clean.returncode == 0, clean.stdout  # the copy alone keeps its contracts
    return copy


BAD_IMPORTS = [  # (file, the import planted at its end, the contracts it breaks, what the report says; {line})
    # a part importing an operation: the intake imports the suites, the suites may not import it back
    ("expectations/runner.py", "def _planted():\n    from enr import intake  # hidden in a function\n",
     ("layers",), "expectations.runner -> enr.intake (l.{line})"),
    # the core importing an operation (the simulation imports the units: a cycle in enr too)
    ("enr/units.py", "def _planted():\n    from enr.simulation import apportion\n",
     ("layers", "no-cycles"), "enr.units -> enr.simulation (l.{line})"),
    # a part importing another part
    ("publish/feeds.py", "import historical_loader.site\n", ("layers",),
     "publish.feeds -> historical_loader.site (l.{line})"),
    # Airflow below plugins/
    ("enr/tally.py", "def _planted():\n    from airflow.sdk import Variable\n",
     ("no-airflow-below-plugins",), "enr.tally -> airflow (l.{line})"),
    # the seat engine reading the definition
    ("transforms/rules.py", "def _planted():\n    from enr.definition import load_election\n",
     ("layers", "pure-transforms"), "transforms.rules -> enr.definition (l.{line})"),
    # the cycle publish/errors.py removed: release imports timeline, timeline may not import release back
    ("publish/timeline.py", "def _planted():\n    from publish.release import PublishError\n",
     ("no-cycles",), "No cycles are allowed in publish. It could be made acyclic by removing 1 dependency: "
                  "- .timeline -> .release (1 import)"),
    # the cycle the subscribers command's move removed: the media may not ask the home back
    ("enr/media/subscribers.py", "def _planted():\n    from enr.home import require_initialised\n",
     ("no-cycles",), "No cycles are allowed in enr."),
]


@pytest.mark.parametrize("path,planted,contracts,named", BAD_IMPORTS, ids=[case[0] for case in BAD_IMPORTS])
def test_a_bad_import_breaks_the_contract_and_is_named(tree_copy, path, planted, contracts, named):
    target = tree_copy / path
    original = target.read_text(encoding="utf-8")
    try:
        target.write_text(original + "\n\n" + planted, encoding="utf-8")
        done = lint_imports(tree_copy)
    finally:
        target.write_text(original, encoding="utf-8")
    report = " ".join(done.stdout.split())
    assert done.returncode == 1, done.stdout
    line = len(original.splitlines()) + 3 + (1 if planted.startswith("def") else 0)
    assert named.format(line=line) in report, done.stdout
    broken = tuple(c["id"] for c in CONTRACTS.values() if f"{c['name']} BROKEN" in report)
    assert broken == contracts  # those, and no other
