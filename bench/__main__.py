"""``make bench``: every benchmark, on SQLite and (when reachable) on PostgreSQL.

PostgreSQL: ``NORDHUB_BENCH_DATABASE_URL`` (default: a ``nordhub_bench`` database on 127.0.0.1:5432, created if
missing); set it to ``none`` to skip.
"""

from __future__ import annotations

import os
import sys

import psycopg

from bench import (
    auth,
    catalog_export,
    contexts,
    dcat_large,
    dcat_parse,
    demo_harvest,
    fetch,
    harvest_pipeline,
    mqa,
    ngsi_discovery,
    ngsi_geo,
    ngsi_query,
    ngsi_temporal,
    search,
    shacl,
    validate,
)

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/nordhub_bench"


def postgres_url() -> str | None:
    url = os.environ.get("NORDHUB_BENCH_DATABASE_URL", DEFAULT_PG)
    if url == "none":
        return None
    admin = url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    name = url.rsplit("/", 1)[1].split("?")[0]
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        print(f"PostgreSQL not reachable ({str(exc).strip()}): its benchmarks are skipped", file=sys.stderr)
        return None
    return url


def main() -> None:
    pg = postgres_url()
    harvest_pipeline.main(pg)
    demo_harvest.main(pg)
    fetch.main()
    dcat_parse.main()
    dcat_large.main()
    validate.main()
    shacl.main()
    catalog_export.main()
    mqa.main()
    search.main(pg)
    auth.main(pg)
    contexts.main()
    ngsi_discovery.main(pg)
    ngsi_geo.main(pg)
    ngsi_query.main(pg)
    ngsi_temporal.main(pg)


if __name__ == "__main__":
    main()
