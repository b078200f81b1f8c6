"""API keys and roles: who may change what.

Roles: ``admin`` (everything), ``officer`` of one city (that city's sources, runs, quarantine and NGSI-LD tenant
writes) and the anonymous reader (every public read, no key). A key is a random 256-bit token shown once; only
its sha256 is stored. No slow KDF (bcrypt, argon2) is needed: those exist to make guessing low-entropy passwords
expensive, while a 256-bit random token cannot be guessed whatever the hash costs, and a fast hash lets every
request look the key up by an indexed equality without a per-request cache — so a revocation or an expiry takes
effect on the very next request. Only this module issues SQL on ``auth_keys``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hub.auth_tables import auth_keys
from hub.errors import BadRequest, NotFound

TOKEN_PREFIX = "nh_"
TOKEN_BYTES = 32  # 256 bits


class Role(StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"


@dataclass(frozen=True, slots=True)
class Principal:
    """The holder of a valid key."""

    key_id: int
    role: Role
    city: str | None
    label: str

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_manage(self, city: str) -> bool:
        """Whether this key may change ``city``'s sources, runs and tenant and read its quarantine."""
        return self.is_admin or self.city == city


def new_token() -> str:
    """A fresh bearer token: a recognisable prefix and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The stored form of a token (sha256, hex)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_key(
    conn: Connection,
    *,
    role: Role,
    city: str | None,
    label: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> tuple[int, str]:
    """Store a new key; returns its id and the token, which is never stored and cannot be shown again."""
    if role is Role.OFFICER and not city:
        raise BadRequest("an officer key needs a city")
    if role is Role.ADMIN and city:
        raise BadRequest("an admin key is not bound to a city; leave city out")
    if not label.strip():
        raise BadRequest("a key needs a label (who or what holds it)")
    if expires_at is not None and expires_at <= now:
        raise BadRequest(f"expires_at {expires_at.isoformat()} is not in the future")
    token = new_token()
    row = {
        "key_hash": token_hash(token),
        "role": role.value,
        "city": city,
        "label": label.strip(),
        "created_at": now,
        "expires_at": expires_at,
    }
    key_id = conn.execute(insert(auth_keys).values(**row).returning(auth_keys.c.id)).scalar_one()
    return int(key_id), token


def authenticate(conn: Connection, token: str, *, now: datetime) -> Principal | None:
    """The principal of a token, or None when it is unknown, revoked or expired."""
    digest = token_hash(token)
    row = conn.execute(select(auth_keys).where(auth_keys.c.key_hash == digest)).mappings().first()
    # The lookup is by a hash the caller cannot steer; the constant-time comparison closes the last timing channel.
    if row is None or not hmac.compare_digest(row["key_hash"], digest):
        return None
    if row["revoked_at"] is not None or (row["expires_at"] is not None and row["expires_at"] <= now):
        return None
    return Principal(key_id=int(row["id"]), role=Role(row["role"]), city=row["city"], label=row["label"])


def _public(row: Any, now: datetime) -> dict[str, Any]:
    expires = row["expires_at"]
    return {
        "id": int(row["id"]),
        "role": row["role"],
        "city": row["city"],
        "label": row["label"],
        "created_at": row["created_at"].isoformat(),
        "expires_at": expires.isoformat() if expires else None,
        "revoked_at": row["revoked_at"].isoformat() if row["revoked_at"] else None,
        "active": row["revoked_at"] is None and (expires is None or expires > now),
    }


def get_key(conn: Connection, key_id: int, *, now: datetime) -> dict[str, Any] | None:
    """One key as shown to admins (never its hash)."""
    row = conn.execute(select(auth_keys).where(auth_keys.c.id == key_id)).mappings().first()
    return None if row is None else _public(row, now)


def list_keys(conn: Connection, *, now: datetime) -> list[dict[str, Any]]:
    """Every key, newest first, without hashes."""
    rows = conn.execute(select(auth_keys).order_by(auth_keys.c.id.desc())).mappings()
    return [_public(row, now) for row in rows]


def revoke_key(conn: Connection, key_id: int, *, now: datetime) -> dict[str, Any]:
    """Revoke a key (idempotent); returns it as it was before. NotFound if there is no such key."""
    before = get_key(conn, key_id, now=now)
    if before is None:
        raise NotFound(f"no key {key_id}")
    conn.execute(
        update(auth_keys).where(auth_keys.c.id == key_id, auth_keys.c.revoked_at.is_(None)).values(revoked_at=now)
    )
    return before
