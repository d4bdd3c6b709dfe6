"""The production configuration carries the election-night latency settings, and they take effect.

``enr.airflow_env.PRODUCTION_LATENCY`` is what ``bench/bench_production_latency.py`` measures with;
``docker/compose.yaml`` must set the same values for every Airflow service, and the inbox sensor
must follow its two settings (poke interval and mode) when the DAG is parsed.
"""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_sets_every_latency_setting_for_every_airflow_service():
    from enr.airflow_env import PRODUCTION_LATENCY

    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    airflow = {name: service for name, service in compose["services"].items() if name.startswith("airflow-")}
    assert len(airflow) >= 5
    for name, service in airflow.items():
        env = {key: str(value) for key, value in (service.get("environment") or {}).items()}
        missing = {key: value for key, value in PRODUCTION_LATENCY.items() if env.get(key) != value}
        assert not missing, f"{name}: {missing}"


def test_the_inbox_sensor_follows_its_settings(monkeypatch):
    from plugins.enr_airflow.sensors import InboxSensor

    default = InboxSensor(task_id="a", election="ep2019")
    assert (default.mode, default.poke_interval) == ("reschedule", 5)
    monkeypatch.setenv("ENR_INBOX_POKE_SECONDS", "1")
    monkeypatch.setenv("ENR_INBOX_SENSOR_MODE", "poke")
    tuned = InboxSensor(task_id="b", election="ep2019")
    assert (tuned.mode, tuned.poke_interval) == ("poke", 1)
