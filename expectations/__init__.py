"""Great Expectations suites of the delivery intake (``suites/*.json``) and their runner.

Import :func:`expectations.runner.validate_delivery`; Great Expectations itself is imported only
when a validation runs.

Layer: the parts, beside ``historical_loader`` and ``publish``, independent of both
(docs/ARCHITECTURE.md): may import enr core (the delivery format, the units of a country, the
definition) and ``transforms``; never Airflow, never an operation of enr.
"""
