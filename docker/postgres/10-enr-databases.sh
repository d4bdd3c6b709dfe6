#!/bin/sh
# Runs once, when the postgres container initialises an empty data volume
# (/docker-entrypoint-initdb.d). Two databases with their own owners:
#   airflow  Airflow's metadata DB (also the Celery result backend)
#   results  the results store (deliveries, accepted counts, versions, approvals), owned by
#            results_owner (the migrations); the application role `results` is granted SELECT and
#            INSERT on its tables by the migrations (enr/store/roles.py), nothing else
set -eu
: "${AIRFLOW_DB_PASSWORD:?}" "${RESULTS_DB_PASSWORD:?}" "${RESULTS_OWNER_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v airflow_pw="$AIRFLOW_DB_PASSWORD" -v results_pw="$RESULTS_DB_PASSWORD" \
     -v owner_pw="$RESULTS_OWNER_DB_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_pw';
CREATE DATABASE airflow OWNER airflow ENCODING 'UTF8';
CREATE ROLE results_owner LOGIN PASSWORD :'owner_pw';
CREATE ROLE results LOGIN PASSWORD :'results_pw' NOCREATEDB NOCREATEROLE;
CREATE DATABASE results OWNER results_owner ENCODING 'UTF8';
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
REVOKE ALL ON DATABASE results FROM PUBLIC;
GRANT CONNECT ON DATABASE results TO results;
SQL
# PostgreSQL 15: only the database owner may create in its public schema
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname results <<'SQL'
ALTER SCHEMA public OWNER TO results_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SQL
