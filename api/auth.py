"""FastAPI dependencies that say who is calling and what they may do.

``principal`` needs a valid key (401 otherwise); ``require_admin`` and ``require_city`` add the right (403
otherwise). Keys arrive as ``Authorization: Bearer <key>``. The officer page's login cookie (HttpOnly,
SameSite=Strict) is accepted by the pages and by the read-only GET routes they link to (run reports, the
quarantine, the audit log) — never by a route that changes anything, so no cross-site form can write with it.
Every request looks its key up in the database (one indexed equality on the hash): there is no cache that could
outlive a revocation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Request

from api.state import HubState, hub_state
from hub import auth
from hub.auth import Principal
from hub.cities import Registry
from hub.errors import Forbidden, Unauthorized

SESSION_COOKIE = "nordhub_key"
State = Annotated[HubState, Depends(hub_state)]
_NEEDS_KEY = "this request needs an API key: send 'Authorization: Bearer <key>'"


def _token(request: Request, *, cookie: bool) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <key>'")
        return token.strip()
    if cookie:
        return request.cookies.get(SESSION_COOKIE) or None
    return None


def page_token(request: Request) -> str | None:
    """The key a page request carries: a bearer key or the login cookie."""
    return _token(request, cookie=True)


def resolve(state: HubState, token: str) -> Principal:
    """The principal of a token; Unauthorized when it is unknown, revoked or expired (one message for all)."""
    with state.db.connect() as conn:
        found = auth.authenticate(conn, token, now=datetime.now(UTC))
    if found is None:
        raise Unauthorized("the API key is unknown, revoked or expired")
    return found


def principal(request: Request, state: State) -> Principal:
    """A caller with a valid key (401 otherwise)."""
    token = _token(request, cookie=False)
    if token is None:
        raise Unauthorized(_NEEDS_KEY)
    return resolve(state, token)


def reader(request: Request, state: State) -> Principal:
    """A caller with a valid key, sent as a bearer key or the page's login cookie: for GET routes only."""
    token = _token(request, cookie=True)
    if token is None:
        raise Unauthorized(_NEEDS_KEY)
    return resolve(state, token)


def optional_reader(request: Request, state: State) -> Principal | None:
    """The caller's principal (bearer key or login cookie), or None for an anonymous reader: GET routes only."""
    token = _token(request, cookie=True)
    return None if token is None else resolve(state, token)


Caller = Annotated[Principal, Depends(principal)]
Reader = Annotated[Principal, Depends(reader)]


def require_admin(caller: Caller) -> Principal:
    """An admin key (403 for any other valid key)."""
    if not caller.is_admin:
        raise Forbidden("this needs an admin key")
    return caller


def check_city(caller: Principal, city: str) -> None:
    """403 unless the key may manage ``city``; the message is the same whether the city's object exists or not."""
    if not caller.may_manage(city):
        raise Forbidden(f"this key is for city {caller.city!r} and may not act on city {city!r}")


def require_city(city: str, caller: Caller) -> Principal:
    """A key of the ``{city}`` in the path, or an admin key."""
    check_city(caller, city)
    return caller


def ngsi_writer(
    request: Request, state: State, tenant: Annotated[str | None, Header(alias="NGSILD-Tenant")] = None
) -> Principal | None:
    """Who writes NGSI-LD data: None for an anonymous write (only with NORDHUB_ANONYMOUS_WRITES), else a key
    allowed on the tenant. Writes without a tenant (the federated default) are admin only; an officer writes into
    its own city's tenant."""
    token = _token(request, cookie=False)
    if token is None:
        if state.settings.anonymous_writes:
            return None
        raise Unauthorized(_NEEDS_KEY)
    caller = resolve(state, token)
    if caller.is_admin:
        return caller
    if not tenant:
        raise Forbidden(
            f"an officer key writes only into its city's tenant: send 'NGSILD-Tenant: {caller.city}' "
            "(writes to the federated default tenant need an admin key)"
        )
    check_city(caller, tenant)
    return caller


def context_writer(request: Request, state: State) -> Principal | None:
    """Who may add or delete a JSON-LD @context: contexts serve every tenant, so an admin key — or nobody, where
    NORDHUB_ANONYMOUS_WRITES stands for a broker behind an access proxy."""
    token = _token(request, cookie=False)
    if token is None:
        if state.settings.anonymous_writes:
            return None
        raise Unauthorized(_NEEDS_KEY)
    caller = resolve(state, token)
    if not caller.is_admin:
        raise Forbidden("@contexts serve every tenant: adding or deleting one needs an admin key")
    return caller


def foreign_id_space(caller: Principal | None, entity_id: str, registry: Registry) -> str | None:
    """The other member city whose id space (``urn:ngsi-ld:<Type>:<city>:…``) an officer's entity id names, if any.

    Officers may mint ids outside the member cities' id spaces (their own schemes), but never one that claims to
    be another city's: the hub's ids are stable and city-scoped, and a look-alike would pass as that city's data.
    """
    if caller is None or caller.is_admin:
        return None
    parts = entity_id.split(":")
    if len(parts) < 5 or parts[0].lower() != "urn" or parts[1].lower() != "ngsi-ld":
        return None
    city = parts[3]
    if city == caller.city:
        return None
    return city if any(c.id == city for c in registry.cities) else None


def check_id_space(caller: Principal | None, entity_id: str, registry: Registry) -> None:
    """403 when an officer writes an entity id of another member city's id space."""
    other = foreign_id_space(caller, entity_id, registry)
    if other is not None:
        raise Forbidden(f"entity id {entity_id!r} is in city {other!r}'s id space; this key may write only its own")
