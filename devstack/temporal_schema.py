"""The production Temporal server's persistence on PostgreSQL, set up as compose's `temporal-schema` does.

Role `temporal`, its two databases, and each schema brought to its latest version with the sql tool
(idempotent: a second run changes nothing).
"""

from __future__ import annotations

import subprocess

import psycopg2

from devstack.temporal_build import ServerBuild

DB_USER = "temporal"
DB_PASSWORD = "temporal"  # noqa: S105  (compose's default; PostgreSQL here trusts loopback)
DATABASES = {"temporal": "temporal", "temporal_visibility": "visibility"}
"""Database → its schema directory under schema/postgresql/v12/."""


def setup_databases(build: ServerBuild, pg_host: str, pg_port: int) -> None:
    """Role `temporal`, its two databases, and the schema at its latest version (idempotent)."""
    conn = psycopg2.connect(host=pg_host, port=pg_port, user="postgres", dbname="postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (DB_USER,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE ROLE {DB_USER} LOGIN PASSWORD %s", (DB_PASSWORD,))
            for database in DATABASES:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{database}" OWNER {DB_USER}')
    finally:
        conn.close()
    for database, schema in DATABASES.items():
        _sql_tool(build, pg_host, pg_port, database, "setup-schema", "-v", "0.0")
        _sql_tool(
            build, pg_host, pg_port, database, "update-schema", "-d", str(build.schema / schema / "versioned")
        )


def _sql_tool(build: ServerBuild, pg_host: str, pg_port: int, database: str, *command: str) -> None:
    connection = [
        "--plugin", "postgres12", "--ep", pg_host, "-p", str(pg_port),
        "-u", DB_USER, "--pw", DB_PASSWORD, "--db", database,
    ]  # fmt: skip
    result = subprocess.run(
        [str(build.sql_tool), *connection, *command], capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(f"temporal-sql-tool {' '.join(command)} on {database}: {result.stderr[-2000:]}")
