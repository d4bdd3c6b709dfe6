"""enr: the election-night results publisher (intake, results store, pipeline steps and the `enr` CLI).

Two layers live here (pyproject.toml ``[tool.importlinter]``, docs/ARCHITECTURE.md):

* the **operations** (the DAG steps of :mod:`enr.pipeline`, the intake, the replay and its
  simulation, the rehearsal, the commands of :mod:`enr.cli`, the media, ...) may import the parts
  (``expectations``, ``historical_loader``, ``publish``), the core and ``transforms``;
* the **core** (:mod:`enr.definition`, :mod:`enr.settings`, :mod:`enr.store`, :mod:`enr.delivery`,
  :mod:`enr.units`, :mod:`enr.signatures`, :mod:`enr.versions`, :mod:`enr.errors`) is what the parts
  share: it imports only the core and ``transforms``.

Nothing in enr imports Airflow: it talks to Airflow through its REST API (:mod:`enr.airflow_api`).
"""
