"""Test session set-up: a private ENR_HOME and AIRFLOW_HOME under /tmp, set before anything imports
Airflow (Airflow reads its configuration at import). Paths are short because gpg-agent's socket
lives inside GNUPGHOME."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="enrt", dir="/tmp"))
os.environ.setdefault("ENR_TEST_SESSION_DIR", str(_SESSION_DIR))
os.environ["AIRFLOW_HOME"] = str(_SESSION_DIR / "af")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(_SESSION_DIR / "af" / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("ENR_HOME", str(_SESSION_DIR / "home"))
