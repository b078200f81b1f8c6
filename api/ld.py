"""The request's JSON-LD @context (NGSI-LD HTTP binding, GS CIM 009 clause 6.3.5) as a FastAPI dependency.

``Content-Type: application/ld+json`` carries the @context in the body (400 without one); ``application/json``
(and merge-patch) only in a ``Link`` header with ``rel="http://www.w3.org/ns/json-ld#context"``; both at once, a
body @context with plain JSON, or a Link without that rel is a 400. GET and DELETE take it from Link. No Link:
the core context only. The context is resolved through the context store (``ngsi.contexts``); an unknown one is
LdContextNotAvailable (504) unless ``NORDHUB_CONTEXT_FETCH`` lets the hub fetch it, through the harvester's
SSRF-guarded client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request

from api.state import HubState, hub_state
from hub.errors import BadRequestData, LdContextNotAvailable, NordhubError
from ngsi.context import CORE_CONTEXT, DEFAULT_VOCAB, JSONLD_CONTEXT_REL, context_link
from ngsi.contexts import ContextKind, ContextMissing, parse_document
from ngsi.q import parse_q, unparse
from ngsi.stamps import renamed
from ngsi.store import StoredEntity
from ngsi.terms import Translation

LD_JSON = "application/ld+json"
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
MAX_FETCHES = 8  # remote contexts one request may pull in when fetching is allowed
_TYPE_NAME = re.compile(r"[^,;|()\s]+")  # the names between a type expression's operators
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_PARAM = re.compile(r';\s*([A-Za-z-]+)\s*=\s*"?([^";]*)"?')


@dataclass(frozen=True, slots=True)
class LdRequest:
    """A request's @context and the name translation it implies (identity for no context or the core)."""

    context: Any
    translation: Translation
    items: dict[int, Translation] = field(default_factory=dict)  # batch items with an @context of their own

    @property
    def identity(self) -> bool:
        return self.translation.identity and not self.items

    def body_context(self) -> Any:
        """The ``@context`` member of an ``application/ld+json`` response: the request's, or the core context."""
        return CORE_CONTEXT if self.context is None else self.context

    def link(self) -> str:
        """The ``Link`` header of an ``application/json`` response."""
        return context_link(self.context if isinstance(self.context, str) else CORE_CONTEXT)

    def names(self, names: list[str]) -> list[str]:
        """Type or attribute names of a request (``type=``, ``attrs=``) as stored."""
        return self.translation.names(names)

    def type_expression(self, text: str | None) -> str | None:
        """A type expression (``A,B``, ``(A;B)``, ``A|B``) with each type name as stored; ``*`` stays."""
        if not text or (self.translation.identity and DEFAULT_VOCAB not in text):
            return text
        return _TYPE_NAME.sub(lambda m: m[0] if m[0] == "*" else self.translation.to_stored(m[0]), text)

    def q(self, text: str | None) -> str | None:
        """A q expression with its attribute paths as stored (unchanged, not even re-parsed, for identity unless it
        writes a name out in the core context's @vocab, which is the short name, as in ``attrs``)."""
        if not text or (self.translation.identity and DEFAULT_VOCAB not in text):
            return text
        return unparse(self.translation.q(parse_q(text)))

    def entity_in(self, body: Any) -> Any:
        """A request body with its names as stored (batch items by their own @context when they carry one)."""
        if isinstance(body, list) and self.items:
            return [self.items.get(i, self.translation).entity_in(item) for i, item in enumerate(body)]
        return self.translation.entity_in(body)

    def stored_out(self, stored: str) -> str:
        """A stored entity's JSON with its names in the request's terms (as is for identity: the hot path)."""
        if self.translation.identity:
            return stored
        return orjson.dumps(self.translation.entity_out(orjson.loads(stored))).decode()

    def entity_out(self, stored: StoredEntity) -> StoredEntity:
        """A stored entity with its names in the request's terms, its attributes' own timestamps (``attr_stamps``)
        keyed by those names too: shaping (pick, omit, attrs, sysAttrs) then uses the client's names as sent. The
        identity translation (no Link, or a core context) passes it through."""
        if self.translation.identity:
            return stored
        stamps = renamed(stored.attr_stamps, self.translation.to_client)
        return stored._replace(data=self.stored_out(stored.data), attr_stamps=stamps)


def link_context(header: str | None) -> str | None:
    """The @context URL of a request's Link header; 400 when it has no JSON-LD context link or several."""
    if header is None or not header.strip():
        return None
    found: list[str] = []
    for target, params in _LINK.findall(header):
        rels = [v for k, v in _PARAM.findall(params) if k.lower() == "rel"]
        if JSONLD_CONTEXT_REL in " ".join(rels).split():
            found.append(target.strip())
    if not found:
        raise BadRequestData(f'the Link header {header!r} has no link with rel="{JSONLD_CONTEXT_REL}"')
    if len(found) > 1:
        raise BadRequestData("the Link header names more than one JSON-LD @context")
    return found[0]


async def _body_contexts(request: Request, media: str) -> tuple[Any, dict[int, Any]]:
    """The body's @context (ld+json) and those of batch items; a body @context with plain JSON is a 400."""
    try:
        body = orjson.loads(await request.body() or b"null")
    except orjson.JSONDecodeError:
        return None, {}  # the route reports the broken body with its own message
    items = body if isinstance(body, list) else [body]
    contexts = {i: item["@context"] for i, item in enumerate(items) if isinstance(item, dict) and "@context" in item}
    if contexts and media != LD_JSON:
        raise BadRequestData(f"a body with an @context must be sent as {LD_JSON} (with {media} use a Link header)")
    if media == LD_JSON and any(isinstance(item, dict) and "@context" not in item for item in items):
        raise BadRequestData(f"an {LD_JSON} body carries its @context (every entity of a batch too)")
    if isinstance(body, dict):
        return contexts.get(0), {}
    return None, contexts


async def request_context(request: Request, state: Annotated[HubState, Depends(hub_state)]) -> LdRequest:
    """FastAPI dependency: the request's @context, resolved and translated (see the module docstring)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    linked = link_context(request.headers.get("link"))
    context: Any = linked
    items: dict[int, Any] = {}
    if request.method in WITH_BODY and request.headers.get("content-length") != "0":
        body_context, items = await _body_contexts(request, media)
        if media == LD_JSON and linked is not None:
            raise BadRequestData(f"a {LD_JSON} request carries its @context in the body, not in a Link header")
        if media == LD_JSON:
            context = body_context
    translation = await resolve(state, context)
    resolved = {i: await resolve(state, c) for i, c in items.items()}
    return LdRequest(context, translation, {i: t for i, t in resolved.items() if not t.identity})


async def resolve(state: HubState, context: Any) -> Translation:
    """The translation of a @context value, fetching unknown remote contexts only when the settings allow it."""
    for _ in range(MAX_FETCHES):
        try:
            return state.contexts.translation(context)
        except ContextMissing as missing:
            if not state.settings.context_fetch:
                raise
            state.contexts.add(missing.url, await _fetch(state, missing.url), ContextKind.CACHED)
    raise LdContextNotAvailable(f"@context {context!r} pulls in more than {MAX_FETCHES} remote contexts")


async def _fetch(state: HubState, url: str) -> dict[str, Any]:
    try:
        result = await state.harvester.client.get(url, headers={"Accept": f"{LD_JSON}, application/json"})
        return parse_document(url, result.content)
    except NordhubError as exc:  # the client's HarvestErrors and an unusable document alike
        raise LdContextNotAvailable(f"@context {url} could not be loaded: {exc.detail}") from None


LdContext = Annotated[LdRequest, Depends(request_context)]
