"""Airflow plugins of the project: :mod:`plugins.enr_airflow` (docs/ARCHITECTURE.md).

Second layer: may import Airflow, ``enr`` and the parts below it; only ``dags/`` imports it.
"""
