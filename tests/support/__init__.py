"""Test support, one module per service the tests stand in for or drive (imported as ``tests.support.<module>``).

- ``processes``: ports, bounded waits, environment blocks, process groups stopped by PID.
- ``s3``: SeaweedFS as the export and backup object stores (``SeaweedS3``, ``serving``).
- ``nginx``: the shipped docker/nginx configuration on loopback (``render_nginx``, ``Nginx``).
- ``airflow``: Airflow on the CeleryExecutor, every component a process (``CeleryAirflow``).
- ``databases``: throwaway PostgreSQL databases (``TempDatabases``).
- ``production_auth``: Airflow with the FAB auth manager, as production signs users in.
- ``media``: newsrooms receiving signed webhooks; ``publish_fixtures``: built bundles and sites;
  ``site_browser``: a served site and Chromium; ``contract_writer``: a contractor's own writer
  (standard library only, run as a script); ``fault_layout``: the fault suite's production layout.

May import anything of the project and the scripts; nothing outside tests/ and bench/ imports it.
"""
