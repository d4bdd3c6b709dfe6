"""History: European Parliament results 1979-2019, loaded into the results store and shown beside a night.

:mod:`historical_loader.backfill` loads a source (:mod:`historical_loader.source`) into the history
tables (:mod:`historical_loader.store`, :mod:`historical_loader.tables`) after checking it
(:mod:`historical_loader.validation`); :mod:`historical_loader.previous` and
:mod:`historical_loader.context` give a night its comparison; :mod:`historical_loader.site`
renders the history pages. See README.md in this folder.

Layer: the parts, beside ``expectations`` and ``publish``, independent of both
(docs/ARCHITECTURE.md): may import enr core (definition, settings) and ``transforms``; never
Airflow (the ``historical_backfill`` DAG calls it), never an operation of enr.
"""
