"""Airflow glue for the results publisher: hooks, operators and sensors wrapping :mod:`enr.pipeline`.

Only this package and ``dags/`` import Airflow (a contract in pyproject.toml, docs/ARCHITECTURE.md):
it may import ``enr`` and every part below it; only ``dags/`` imports it.
"""
