#!/bin/sh
# Runs once, when the postgres container initialises an empty data volume: the role and the two
# databases Temporal persists to. docker-compose.yml's temporal-schema service then loads the
# schema into them. The app's own database and role come from POSTGRES_DB / POSTGRES_USER.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL
