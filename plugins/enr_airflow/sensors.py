"""Sensors: wait for signed deliveries to land in the inbox of the export bucket."""
from __future__ import annotations

from airflow.sdk import BaseSensorOperator, PokeReturnValue


class InboxSensor(BaseSensorOperator):
    """Succeeds when at least one complete delivery (CSV + detached signature) is in the inbox.

    Returns the countries that have work, through XCom, so the next task maps over them: the
    country with the most bytes waiting first (:func:`enr.intake.pending_countries`).
    """

    template_fields = ("election",)

    def __init__(self, *, election: str, **kwargs) -> None:
        import os

        # ENR_INBOX_SENSOR_MODE / ENR_INBOX_POKE_SECONDS (read when the DAG is parsed): production sets
        # poke / 1 s for latency (enr.airflow_env.PRODUCTION_LATENCY); by default rescheduled every 5 s
        kwargs.setdefault("mode", os.environ.get("ENR_INBOX_SENSOR_MODE") or "reschedule")
        kwargs.setdefault("poke_interval", float(os.environ.get("ENR_INBOX_POKE_SECONDS") or 5))
        super().__init__(**kwargs)
        self.election = election

    def poke(self, context) -> PokeReturnValue:
        from enr import pipeline

        countries = pipeline.pending_countries(self.election, largest_first=True)
        return PokeReturnValue(is_done=bool(countries), xcom_value=countries)
