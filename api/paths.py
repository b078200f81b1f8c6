"""One trailing slash on an NGSI-LD path means the same resource as the path without it.

Clients (the ETSI conformance suite among them) call ``/ngsi-ld/v1/entities/``, ``/temporal/entities/`` and
``/types/``. Without this, ``/entities/`` matched ``/entities/{entity_id:path}`` with an empty id: a POST there
answered 405 and a GET 400, so no entity could be created that way. Only a literal ``/`` at the end of the raw path
is dropped; an encoded ``%2F`` at the end belongs to an entity id and is left alone.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

NGSI_LD_PREFIX = "/ngsi-ld/v1/"


def without_trailing_slash(path: str, raw_path: bytes) -> tuple[str, bytes] | None:
    """The path and raw path without their final ``/``, or None when nothing is to be dropped."""
    if not path.startswith(NGSI_LD_PREFIX) or len(path) <= len(NGSI_LD_PREFIX):
        return None
    if not (path.endswith("/") and raw_path.endswith(b"/")):
        return None
    return path[:-1], raw_path[:-1]


class TrailingSlashMiddleware:
    """Routes ``/ngsi-ld/v1/<anything>/`` as ``/ngsi-ld/v1/<anything>`` (no redirect: POST bodies must survive)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            stripped = without_trailing_slash(scope["path"], scope.get("raw_path") or scope["path"].encode())
            if stripped is not None:
                scope = {**scope, "path": stripped[0], "raw_path": stripped[1]}
        await self.app(scope, receive, send)
