"""publish/ never imports Airflow (the bucket does, lazily, for object stores only)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_publish_imports_without_airflow(tmp_path: Path) -> None:
    code = (
        "import sys, pkgutil, importlib, publish\n"
        "for m in pkgutil.iter_modules(publish.__path__):\n"
        "    importlib.import_module('publish.' + m.name)\n"
        "from publish.bucket import Bucket\n"
        f"b = Bucket({str(tmp_path)!r}); b.write('a/b.txt', b'x'); assert b.list('') == ['a/b.txt']\n"
        "bad = sorted(n for n in sys.modules if n == 'airflow' or n.startswith('airflow.'))\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    for path in (ROOT / "publish").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith(("import airflow", "from airflow")):
                raise AssertionError(f"{path}: top-level Airflow import: {line}")
