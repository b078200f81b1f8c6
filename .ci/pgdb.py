"""Create or drop the throw-away PostgreSQL database of one CI run: ``pgdb.py create|drop ADMIN_URL NAME``."""

from __future__ import annotations

import re
import sys

import psycopg


def main(action: str, admin_url: str, name: str) -> int:
    if not re.fullmatch(r"[a-z0-9_]+", name):
        print(f"pgdb: refusing database name {name!r}", file=sys.stderr)
        return 2
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            if action == "create":
                conn.execute(f"CREATE DATABASE {name}")
            else:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except psycopg.Error as exc:
        print(f"pgdb: {action} {name} on {admin_url}: {exc}".strip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
