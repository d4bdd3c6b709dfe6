"""Airflow glue for the results publisher: hooks, operators and sensors wrapping :mod:`enr.pipeline`.

Only this package and ``dags/`` import Airflow.
"""
