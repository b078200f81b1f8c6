"""NGSI-LD consumption endpoints (``/ngsi-ld/v1``): query (GET and POST) and retrieve entities.

Both query forms build one ``ngsi.query.EntityQuery`` and one ``ngsi.shaping.Shape`` and share their evaluation.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from api import ngsild_checks as checks
from api.ld import LdContext, LdRequest, request_context
from api.ngsild_http import JSON, LD_JSON, defined_parameters, json_body, negotiate
from api.ngsild_linked import body_projection, join_request, joined, linked_q
from api.ngsild_openapi import ENTITIES, ENTITY_ANSWER, LINK, PREFER, QUERY, READ, operation
from api.ngsild_params import ENTITY_QUERY, openapi_parameters, read
from api.ngsild_query_body import QUERY_BODY, body_dataset_ids, geo_as_stored, ordering_as_stored, query_from_body
from api.routers.ngsild_geo import GeometryProperty
from api.state import HubState, hub_state
from hub.errors import BadRequestData, InvalidRequest, NonexistentTenant, ResourceNotFound
from ngsi import linked, projection, store, versions
from ngsi.context import context_link
from ngsi.geo import GeoQuery, parse_geo_query
from ngsi.geojson import GEO_JSON, render_collection, render_feature
from ngsi.ordering import parse_ordering
from ngsi.q import parse_q
from ngsi.query import MAX_LIMIT, EntityQuery, Page, Result, Selector, evaluate, projected
from ngsi.representation import ENTITY_MEMBERS, Format, render_entity
from ngsi.shaping import Shape, expires, parse_lang, parse_members, render_one, render_page, shape_entity
from ngsi.store import StoredEntity
from schemas.ngsild import is_absolute_uri

router = APIRouter(prefix="/ngsi-ld/v1", tags=["NGSI-LD"])
NOT_YET = checks.PARAMETERS_NOT_YET
_QUERY_NAMES = frozenset([p.name for p in ENTITY_QUERY if p.location == "query"] + list(NOT_YET))
Tenant = Annotated[str | None, Header(alias="NGSILD-Tenant", description="Tenant (a city id); none: every city")]
Accept = Annotated[
    str | None, Header(description="application/json (default), application/ld+json or application/geo+json")
]
FormatParam = Annotated[str | None, Query(description="normalized (default), concise, keyValues (alias simplified)")]
Options = Annotated[str | None, Query(description="Comma list of keyValues, concise, normalized, sysAttrs")]
Pick = Annotated[str | None, Query(description="Entity members (id, type, scope, createdAt…) and attributes to keep")]
Omit = Annotated[str | None, Query(description="Entity members and attributes to leave out (not with pick)")]
Lang = Annotated[str | None, Query(description="LanguageProperty → Property in this language (fr,en;q=0.8); * all")]
ScopeQ = Annotated[str | None, Query(description="Scope query: /Nordic/NO/# (it and below), /Nordic/+/oslo; ; and ,")]
Local = Annotated[bool, Query(description="Only this hub's own entities (always so: no context sources yet)")]
DatasetId = Annotated[str | None, Query(description="Keep only attribute instances with these datasetIds (@none)")]


def _format(fmt: str | None, options: str | None) -> tuple[Format, bool]:
    """The representation asked by ``format`` (wins) or ``options``, and whether ``sysAttrs`` is asked.

    An unknown value is a malformed request, 400 InvalidRequest (6.3.7; ETSI 018_16), as in the temporal API."""
    wanted = _split(options)
    unknown = [o for o in wanted if o not in ("keyValues", "concise", "normalized", "sysAttrs", "simplified")]
    if unknown:
        raise InvalidRequest(f"options {unknown[0]!r}: use keyValues, concise, normalized or sysAttrs")
    chosen = fmt or next((o for o in wanted if o != "sysAttrs"), "normalized")
    try:
        return Format("keyValues" if chosen == "simplified" else chosen), "sysAttrs" in wanted
    except ValueError:
        raise InvalidRequest(f"format {chosen!r}: use normalized, concise or keyValues") from None


def _tenant(state: HubState, tenant: str | None) -> str | None:
    if tenant is None or tenant == "":
        return None  # no header: the federated view across every city
    if any(city.id == tenant for city in state.registry.cities):
        return tenant  # a member city: known without asking the database on every request
    with state.db.connect() as conn:
        if not store.tenant_exists(conn, tenant):
            raise NonexistentTenant(f"tenant {tenant!r} does not exist")
    return tenant


def _headers(media: str, tenant: str | None, link: str | None = None) -> dict[str, str]:
    headers = {"Link": link or context_link()} if media in (JSON, GEO_JSON) else {}
    if tenant:
        headers["NGSILD-Tenant"] = tenant
    return headers


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _attrs(value: str | None) -> tuple[str, ...]:
    """The attribute names of ``attrs``; an entity member (id, type…) is no attribute name (ETSI 019_03_03), and
    ``attrs=`` given empty names none (a list of attribute names has at least one)."""
    names = _split(value)
    if value is not None and not names:
        raise BadRequestData("attrs is empty: name at least one attribute, or leave attrs out")
    members = [name for name in names if name in ENTITY_MEMBERS]
    if members:
        raise BadRequestData(f"attrs names attributes; {members[0]!r} is an entity member (use pick)")
    return names


def _as_returned(ld: LdRequest, names: tuple[str, ...]) -> tuple[str, ...]:
    """Attribute names as the answer spells them: a full IRI the request's context compacts (the core @vocab's
    ``…/default-context/isParked``) is kept as ``isParked``, the name the entity comes back with."""
    return tuple(ld.translation.to_client(ld.translation.to_stored(name)) for name in names)


def _shape(
    fmt: str | None,
    options: str | None,
    *,
    attrs: tuple[str, ...] = (),
    pick: str | None = None,
    omit: str | None = None,
    lang: str | None = None,
    dataset_id: str | None = None,
) -> Shape:
    chosen, sys_attrs = _format(fmt, options)
    picked, omitted = parse_members(pick, "pick"), parse_members(omit, "omit")
    if picked and omitted:
        raise BadRequestData("pick and omit cannot be used together")
    if attrs and (picked or omitted):
        raise BadRequestData("attrs cannot be used with pick or omit (pick replaces attrs)")
    names = (picked.names if picked else (), omitted.names if omitted else ())
    either = picked or omitted
    linked_projections = either.linked if either else ()
    return Shape(chosen, sys_attrs, attrs, *names, parse_lang(lang), _split(dataset_id), linked_projections)


def _has_type(stored: str, wanted: str) -> bool:
    kind = orjson.loads(stored).get("type")
    return wanted in (kind if isinstance(kind, list) else [kind])


def _out(ld: LdRequest, stored: StoredEntity) -> StoredEntity:
    """A stored entity with its names in the request's terms (``LdRequest.entity_out``)."""
    return ld.entity_out(stored)


def _answer(
    state: HubState,
    query: EntityQuery,
    page: Page,
    shape: Shape,
    accept: str | None,
    tenant: str | None,
    ld: LdRequest,
    geometry_property: str = "location",
    join: tuple[linked.Join, int] | None = None,
    parsed_q: str | None = None,
    version: str | None = None,
) -> tuple[Result, bytes, dict[str, str]]:
    """The page of entities ``query`` selects, rendered: (the result, the body, the headers).

    ``version``: the ``Prefer: ngsi-ld=<version>`` asked (4.3.6.8): each entity is amended for it, and the headers
    then say so (``Preference-Applied``, and ``X-Amended`` for the status 203 the caller answers when one changed).

    ``parsed_q``: a q text the caller has already parsed in this request (GET /entities: ``_check_query``). The q
    that will be evaluated is parsed here unless it is that very text, so a malformed or oversized q (including one
    the request's @context made longer) is always refused before any SQL runs, and parsed once when unchanged."""
    media = negotiate(accept)
    key = _tenant(state, tenant)
    if query.q and query.q != parsed_q:
        parse_q(query.q)  # a malformed or oversized q is refused before any SQL runs

    def work(conn: Connection) -> Result | None:
        # Every committed write reaches the indexes first; asked on the read's own connection, so a query whose
        # indexes are current (the usual case) pays one lookup of an empty table and no second connection.
        if query.uses_indexes and projection.pending(conn):
            return None
        return evaluate(conn, query, page, tenant=key, timestamps=shape.sys_attrs)

    result = state.db.reading(work)
    if result is None:
        projection.ensure_current(state.db)
        result = state.db.reading(lambda conn: evaluate(conn, query, page, tenant=key, timestamps=shape.sys_attrs))
    headers = _headers(media, key, ld.link())
    if result.total is not None:
        headers["NGSILD-Results-Count"] = str(result.total)
    headers["Content-Type"] = media
    rows = [_out(ld, row) for row in result.rows]
    if version is not None:
        rows = _amended(rows, version, headers)
    if join is not None and media != GEO_JSON:
        entities = [shape_entity(row, shape) for row in rows]
        return result, orjson.dumps(joined(state, entities, shape, ld, key, join, media == LD_JSON)), headers
    if media == GEO_JSON:
        shaped = [_shaped(row, shape) for row in rows]
        body = render_collection(shaped, shape.fmt, geometry_property=geometry_property, context=ld.body_context())
        return result, body, headers
    return result, render_page(rows, shape, with_context=media == LD_JSON, context=ld.body_context()), headers


def _amended(rows: list[StoredEntity], version: str, headers: dict[str, str]) -> list[StoredEntity]:
    """The rows as a client of ``version`` reads them (4.3.6.8); the headers record the preference applied."""
    headers["Preference-Applied"] = f"ngsi-ld={version}"
    out = []
    for row in rows:
        entity, changed = versions.amend(orjson.loads(row.data), version)
        if changed:
            headers[AMENDED] = "1"
            row = row._replace(data=orjson.dumps(entity).decode())
        out.append(row)
    return out


AMENDED = "X-Amended"  # internal between _answer and the route: an entity changed, answer 203 (never sent)


def _response(body: bytes, headers: dict[str, str]) -> Response:
    """200, or 203 when ``Prefer: ngsi-ld`` amended an entity of the answer (4.3.6.8)."""
    status = 203 if headers.pop(AMENDED, None) else 200
    return Response(body, status_code=status, headers=headers)


def _shaped(stored: StoredEntity, shape: Shape) -> str:
    """Stored JSON with pick/omit/lang… applied (GeoJSON renders from JSON text)."""
    return orjson.dumps(shape_entity(stored, shape)).decode() if shape.reshapes or expires(stored.data) else stored.data


@router.get(
    "/entities",
    summary="Query entities",
    responses={**ENTITIES, **READ},
    openapi_extra={"parameters": [*openapi_parameters(ENTITY_QUERY), LINK]},
)
async def query_entities(request: Request) -> Response:
    """Entities matching the query, in ``orderBy`` order (else by id), as a JSON array; ``Link`` rel=next/prev
    between pages."""
    # The parameters are read by api.ngsild_params (one table, also the OpenAPI description) rather than declared
    # one by one, and the state and @context are taken without Depends: FastAPI's solving of 23 declarations and
    # 3 dependencies was about a third of the request (see that module).
    defined_parameters(request, _QUERY_NAMES)
    state = await hub_state(request)
    ld = await request_context(request, state)
    p = read(request, ENTITY_QUERY)
    geo = parse_geo_query(p["georel"], p["geometry"], p["coordinates"], p["geoproperty"])
    selector = Selector(types=ld.type_expression(p["type"]), ids=_split(p["id"]), id_pattern=p["idPattern"])
    attrs = _attrs(p["attrs"])
    names = tuple(ld.names(list(attrs)))
    ordering = ordering_as_stored(parse_ordering(p["orderBy"], p["collation"], p["orderFrom"], p["orderGeometry"]), ld)
    query = EntityQuery(
        (selector,), names, ld.q(p["q"]), p["scopeQ"], geo_as_stored(geo, ld), local=p["local"], ordering=ordering
    )
    page = Page(limit=p["limit"], offset=p["offset"], count=p["count"])
    shaping = {"pick": p["pick"], "omit": p["omit"], "lang": p["lang"], "dataset_id": p["datasetId"]}
    shape = _shape(p["format"], p["options"], attrs=_as_returned(ld, attrs), **shaping)
    query = projected(query, shape.pick, shape.omit, sys_attrs=shape.sys_attrs, stored=ld.translation.to_stored)
    join = join_request(p["join"], p["joinLevel"], shape)
    _check_query(request, p, geo)
    linked_q(p["q"], join)
    version = versions.preferred_version(p["prefer"])
    tenant = p["NGSILD-Tenant"]
    geometry = "location" if p["geometryProperty"] is None else p["geometryProperty"]
    args = (state, query, page, shape, p["accept"], tenant, ld, geometry, join, p["q"], version)
    # A selector-only page is a short indexed read. On SQLite it runs here: a thread hop costs more than the query.
    # On PostgreSQL its round trip (0.4-0.6 ms on a loaded machine) would hold up the event loop, so it goes to the
    # loop's plain executor, whose hop is a fraction of anyio's (with anyio's pool the worker's CPU per request rose
    # from 1.4 to 1.7 ms; with this one it stays at 0.95 ms and the rate rose from ~600 to ~1,000 req/s, wrk).
    # Whatever may scan or sort (q, attrs, scopeQ, geo, idPattern, count, orderBy, a deep offset) goes to anyio's
    # pool.
    short = query.q is None and not (query.attrs or query.scope_q or query.geo or selector.id_pattern or page.count)
    short = short and join is None and ordering is None
    if short and page.offset + page.limit <= MAX_LIMIT:
        if state.db.dialect == "sqlite":
            result, body, headers = _answer(*args)
        else:
            result, body, headers = await asyncio.get_running_loop().run_in_executor(None, _answer, *args)
    else:
        result, body, headers = await run_in_threadpool(_answer, *args)
    links = _page_links(request, page, len(result.rows), result.total)
    if links:
        headers["Link"] = ", ".join(filter(None, [headers.get("Link"), *links]))
    return _response(body, headers)


def _check_query(request: Request, p: dict[str, Any], geo: GeoQuery | None) -> None:
    """The rules of 5.7.2.4 over several parameters (api.ngsild_checks), before anything is evaluated."""
    given = request.query_params
    checks.not_yet(request.query_params)
    checks.wildcard_type(p["type"], local_false="local" in given and not p["local"])
    checks.geometry_property("geometryProperty" in given, negotiate(p["accept"]))
    # A malformed or oversized q is refused here, before any SQL; _answer is told this text is parsed.
    q = parse_q(p["q"]) if p["q"] else None
    attrs = _split(p["attrs"])
    checks.narrow_enough(types=p["type"], attrs=attrs, q=q, scope_q=p["scopeQ"], geo=geo is not None, local=p["local"])
    join, level = p["join"] is not None, p["joinLevel"]
    for name in ("pick", "omit"):
        checks.projection_hops(p[name], name, join=join, join_level=level)


def _page_links(request: Request, page: Page, returned: int, total: int | None) -> list[str]:
    if page.limit == 0:
        return []
    params = dict(request.query_params)
    links = []
    offset, limit = page.offset, page.limit
    if returned == limit and (total is None or offset + limit < total):
        links.append(f'<{request.url.path}?{urlencode({**params, "offset": offset + limit})}>; rel="next"')
    if offset > 0:
        links.append(f'<{request.url.path}?{urlencode({**params, "offset": max(offset - limit, 0)})}>; rel="prev"')
    return links


@router.get(
    "/entities/{entity_id:path}",
    summary="Retrieve one entity",
    responses={**ENTITY_ANSWER, **READ},
    openapi_extra=operation(),
)
def retrieve_entity(
    request: Request,
    entity_id: str,
    state: Annotated[HubState, Depends(hub_state)],
    ld: LdContext,
    type: Annotated[str | None, Query(description="If given, the entity must carry this type")] = None,
    attrs: Annotated[str | None, Query(description="Deprecated: the attributes to keep")] = None,
    pick: Pick = None,
    omit: Omit = None,
    lang: Lang = None,
    datasetId: DatasetId = None,
    format: FormatParam = None,
    options: Options = None,
    geometry_property: GeometryProperty = None,
    join: Annotated[str | None, Query(description="Linked entities: flat (an array) or inline")] = None,
    joinLevel: Annotated[int, Query(ge=1, le=linked.MAX_JOIN_LEVEL, description="Relationship hops joined")] = 1,
    accept: Accept = None,
    prefer: Annotated[str | None, Header(description="ngsi-ld=<major.minor>: amend for that version")] = None,
    local: Local = False,
    ngsild_tenant: Tenant = None,
) -> Response:
    """One entity by id; 404 ResourceNotFound when it does not exist (in this tenant). With ``Prefer:
    ngsi-ld=1.5`` attribute types of later versions are reformatted (4.3.6.8): 203 when that changed anything."""
    defined_parameters(request, extra=NOT_YET)
    if not is_absolute_uri(entity_id):
        raise BadRequestData(f"entity id {entity_id!r} is not an absolute URI")
    checks.not_yet(request.query_params)
    kept = _as_returned(ld, _attrs(attrs))
    shape = _shape(format, options, attrs=kept, pick=pick, omit=omit, lang=lang, dataset_id=datasetId)
    media = negotiate(accept)
    checks.geometry_property("geometryProperty" in request.query_params, media)
    geometry = "location" if geometry_property is None else geometry_property
    version = versions.preferred_version(prefer)
    for name, text in (("pick", pick), ("omit", omit)):
        checks.projection_hops(text, name, join=join is not None, join_level=joinLevel)
    tenant = _tenant(state, ngsild_tenant)
    with state.db.connect() as conn:
        stored = store.get_stored(conn, tenant=tenant, entity_id=entity_id)
    if stored is None or (type and not _has_type(stored.data, ld.translation.to_stored(type))):
        raise ResourceNotFound(f"entity {entity_id!r} not found")
    stored, context = _out(ld, stored), ld.body_context()
    amended = False
    if version is not None:
        entity, amended = versions.amend(orjson.loads(stored.data), version)
        stored = stored._replace(data=orjson.dumps(entity).decode()) if amended else stored
    joining = join_request(join, joinLevel, shape)
    if joining is not None and media != GEO_JSON:
        entity = _left_of(entity_id, shape_entity(stored, shape), shape)
        answer = joined(state, [entity], shape, ld, tenant, joining, media == LD_JSON)
        # inline: the one entity; flat: an array when linked entities follow it, else the entity (ETSI 018_14_02)
        body = orjson.dumps(answer if len(answer) > 1 else answer[0])
    elif shape.reshapes or expires(stored.data):
        entity = _left_of(entity_id, shape_entity(stored, shape), shape)
        if media == GEO_JSON:
            text = orjson.dumps(entity).decode()
            body = render_feature(text, shape.fmt, geometry_property=geometry, context=context)
        else:
            body = render_entity(entity, shape.fmt, with_context=media == LD_JSON, context=context)
    elif media == GEO_JSON:
        body = render_feature(stored.data, shape.fmt, geometry_property=geometry, context=context)
    else:
        body = render_one(stored, shape, with_context=media == LD_JSON, context=context)
    headers = _headers(media, tenant, ld.link())
    if version is not None:
        headers["Preference-Applied"] = f"ngsi-ld={version}"
    return Response(body, status_code=203 if amended else 200, media_type=media, headers=headers)


def _left_of(entity_id: str, entity: dict[str, Any], shape: Shape) -> dict[str, Any]:
    """The shaped entity, or 404 when nothing is left of it: pick matching no member, omit of every member, or
    ``attrs`` naming no attribute it has (attrs = pick + existence; ETSI 018_03_02, 018_19)."""
    if not entity:
        raise ResourceNotFound(f"entity {entity_id!r}: nothing is left after pick/omit")
    if shape.attrs and all(name in ENTITY_MEMBERS for name in entity):
        raise ResourceNotFound(f"entity {entity_id!r} has none of the attributes {', '.join(shape.attrs)}")
    return entity


@router.post(
    "/entityOperations/query",
    summary="Query entities with a Query body",
    responses={**ENTITIES, **QUERY},
    status_code=200,
    openapi_extra=operation(QUERY_BODY, headers=(LINK, PREFER)),
)
async def post_query(
    request: Request,
    state: Annotated[HubState, Depends(hub_state)],
    ld: LdContext,
    limit: Annotated[
        int,
        Query(
            description=f"Page size, 0..{MAX_LIMIT} (0 only with count=true)",
            json_schema_extra={"minimum": 0, "maximum": MAX_LIMIT},  # checked by Page, with its message
        ),
    ] = 20,
    offset: Annotated[int, Query(description="Entities to skip (0 or more)", json_schema_extra={"minimum": 0})] = 0,
    count: Annotated[bool, Query(description="Return the total in NGSILD-Results-Count")] = False,
    format: FormatParam = None,
    options: Options = None,
    local: Local = False,
    accept: Accept = None,
    ngsild_tenant: Tenant = None,
) -> Response:
    """The Query body (``entities``, ``attrs``, ``pick``, ``omit``, ``q``, ``scopeQ``, ``geoQ``, ``lang``, ``join``,
    ``joinLevel``, ``ordering``, ``datasetId``, ``geometryProperty``) evaluated like GET /entities; ``temporalQ``
    belongs to the temporal API (400 here), and any other member is refused (api.ngsild_checks)."""
    defined_parameters(request, extra=NOT_YET)
    checks.not_yet(request.query_params)
    body = await json_body(request)
    query = query_from_body(body, ld, local=local)
    page = Page(limit=limit, offset=offset, count=count)
    projection = {name: body_projection(body, name) for name in ("pick", "omit")}
    attrs = _as_returned(ld, tuple(body.get("attrs") or ()))
    dataset_id = body_dataset_ids(body)
    shape = _shape(format, options, attrs=attrs, lang=body.get("lang"), dataset_id=dataset_id, **projection)
    query = projected(query, shape.pick, shape.omit, sys_attrs=shape.sys_attrs, stored=ld.translation.to_stored)
    join = join_request(body.get("join"), body.get("joinLevel"), shape)
    linked_q(body.get("q"), join)
    geometry = body.get("geometryProperty", "location")
    if not isinstance(geometry, str) or not geometry:
        raise BadRequestData("geometryProperty must be the name of a GeoProperty")
    checks.geometry_property("geometryProperty" in body, negotiate(accept))
    args = (state, query, page, shape, accept, ngsild_tenant, ld, geometry)
    version = versions.preferred_version(request.headers.get("prefer"))
    _result, content, headers = await run_in_threadpool(_answer, *args, join=join, version=version)
    return _response(content, headers)
