#!/bin/sh
# Runs once, when the postgres container initialises an empty data volume
# (/docker-entrypoint-initdb.d). Two databases with their own owners:
#   airflow  Airflow's metadata DB (also the Celery result backend)
#   results  the results store (deliveries, accepted counts, versions, approvals)
set -eu
: "${AIRFLOW_DB_PASSWORD:?}" "${RESULTS_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v airflow_pw="$AIRFLOW_DB_PASSWORD" -v results_pw="$RESULTS_DB_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_pw';
CREATE DATABASE airflow OWNER airflow ENCODING 'UTF8';
CREATE ROLE results LOGIN PASSWORD :'results_pw';
CREATE DATABASE results OWNER results ENCODING 'UTF8';
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
REVOKE ALL ON DATABASE results FROM PUBLIC;
SQL
