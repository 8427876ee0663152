#!/bin/sh
# PostgreSQL's first start (docker-entrypoint-initdb.d: an empty data volume only): the read-only login Grafana
# uses. Migration 0006 (`radar db upgrade`, later) grants radar_analyst SELECT on the analyst tables and views.
# psql reads the password from the environment (\getenv) and quotes it (:'...'): never in argv, never spliced.
: "${RADAR_PG_ANALYST_PASSWORD:?set RADAR_PG_ANALYST_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\getenv analyst_password RADAR_PG_ANALYST_PASSWORD
CREATE ROLE radar_analyst LOGIN PASSWORD :'analyst_password';
-- dashboards only read: a write fails even where some grant would allow it
ALTER ROLE radar_analyst SET default_transaction_read_only = on;
SQL
