"""What ``/openapi.json`` says about the NGSI-LD API beyond its parameters: request bodies, answers and headers.

The NGSI-LD routes read their bodies themselves (``api.ngsild_http.json_body``, ``api.temporal_write``), so FastAPI
is not asked to validate them: the schemas here only describe, through ``openapi_extra``. They are loose on purpose
(every valid NGSI-LD entity matches; an attribute may be normalized, an array of instances or a concise value), as
the checks that matter are the routes' own. The problem answers are declared per kind of operation: those a route
can give, no others (tests/api/test_fuzz.py holds every answer to the declarations).
"""

from __future__ import annotations

from typing import Any

from api.ngsild_http import BODY_TYPES, JSON, LD_JSON
from api.problems import PROBLEM_SCHEMA, problem_responses
from ngsi.context import JSONLD_CONTEXT_REL
from ngsi.geojson import GEO_JSON

Responses = dict[int | str, dict[str, Any]]
TEMPORAL_BODY_TYPES = (JSON, LD_JSON)  # api.temporal_write.json_object: no merge-patch

# -- bodies -------------------------------------------------------------------------------------------------------
_URI = {"type": "string", "format": "uri"}
_NAMES = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
ATTRIBUTE_TYPES = (
    "Property",
    "GeoProperty",
    "Relationship",
    "LanguageProperty",
    "JsonProperty",
    "VocabProperty",
    "ListProperty",
    "ListRelationship",
)
ATTRIBUTE_INSTANCE: dict[str, Any] = {
    "type": "object",
    "title": "Attribute",
    "description": "A normalized attribute instance; any other member is a sub-attribute",
    "properties": {
        "type": {"type": "string", "enum": list(ATTRIBUTE_TYPES)},
        "value": {"description": "Property, GeoProperty (a GeoJSON geometry)"},
        "object": {"description": "Relationship: a URI (or an array of them)"},
        "languageMap": {"type": "object", "description": "LanguageProperty: language → string"},
        "json": {"description": "JsonProperty"},
        "vocab": {"description": "VocabProperty"},
        "valueList": {"type": "array", "description": "ListProperty"},
        "objectList": {"type": "array", "description": "ListRelationship"},
        "observedAt": {"type": "string", "format": "date-time"},
        "datasetId": _URI,
        "unitCode": {"type": "string"},
    },
    "additionalProperties": True,
}
ATTRIBUTE: dict[str, Any] = {
    "description": "An attribute: one normalized instance, an array of instances (several datasetIds), or a concise "
    "value (a bare value, or an object without type)",
    "anyOf": [ATTRIBUTE_INSTANCE, {"type": "array", "items": ATTRIBUTE_INSTANCE}, {}],
}
_MEMBERS: dict[str, Any] = {
    "id": {**_URI, "description": "The entity id, an absolute URI"},
    "type": {**_NAMES, "description": "One type name or several"},
    "scope": {**_NAMES, "description": "Scopes, e.g. /Nordic/NO/oslo"},
    "@context": {"description": "JSON-LD @context (application/ld+json bodies only; else in a Link header)"},
}
ENTITY_FRAGMENT: dict[str, Any] = {
    "type": "object",
    "title": "EntityFragment",
    "description": "Entity members and attributes, by name",
    "properties": _MEMBERS,
    "additionalProperties": ATTRIBUTE,
}
ENTITY: dict[str, Any] = {**ENTITY_FRAGMENT, "title": "Entity", "required": ["id", "type"]}


def batch_array(max_items: int) -> dict[str, Any]:
    """The body of ``POST /entityOperations/{operation}``: 1..``max_items`` entities, or ids to delete."""
    return {
        "type": "array",
        "minItems": 1,
        "maxItems": max_items,
        "description": "create, upsert: entities; update, merge: entities (id and the attributes to change); "
        "delete: entity ids",
        "items": {"anyOf": [{**ENTITY_FRAGMENT, "required": ["id"]}, {**_URI, "description": "An entity id"}]},
    }


_INSTANCES = {"anyOf": [ATTRIBUTE_INSTANCE, {"type": "array", "items": ATTRIBUTE_INSTANCE}]}
TEMPORAL_FRAGMENT: dict[str, Any] = {
    "type": "object",
    "title": "TemporalEntityFragment",
    "description": "Attributes, each one instance or an array of instances (with observedAt, datasetId)",
    "properties": _MEMBERS,
    "additionalProperties": _INSTANCES,
}
TEMPORAL_ENTITY: dict[str, Any] = {
    **TEMPORAL_FRAGMENT,
    "title": "TemporalEntity",
    "required": ["id", "type"],
    "properties": {**_MEMBERS, "type": {"type": "string", "description": "The entity type"}},
}
INSTANCE_FRAGMENT: dict[str, Any] = {
    **ATTRIBUTE_INSTANCE,
    "title": "AttributeInstanceFragment",
    "description": "The instance's new value member and observedAt (its datasetId, if given, must be its own), "
    "or {attrId: that instance}",
}
CONTEXT_DOCUMENT: dict[str, Any] = {
    "type": "object",
    "title": "ContextDocument",
    "required": ["@context"],
    "properties": {"@context": {"description": "A JSON-LD context: an object, a URL, or an array of them"}},
}


def request_body(schema: dict[str, Any], types: tuple[str, ...] = BODY_TYPES) -> dict[str, Any]:
    """The ``openapi_extra`` of a route that reads a body of ``schema`` in any of the media ``types``."""
    return {"requestBody": {"required": True, "content": {media: {"schema": schema} for media in types}}}


# -- headers ------------------------------------------------------------------------------------------------------
LINK = {
    "name": "Link",
    "in": "header",
    "required": False,
    "description": f'The request\'s @context: <URL>; rel="{JSONLD_CONTEXT_REL}" (application/json bodies and '
    "every GET and DELETE; none: the core context). An unknown URL is 504 LdContextNotAvailable",
    "schema": {"type": "string"},
}
PREFER = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "description": "ngsi-ld=<major.minor>: amend entities for that version (203 if one changed)",
    "schema": {"type": "string"},
}


def operation(body: dict[str, Any] | None = None, *, headers: tuple[dict[str, Any], ...] = (LINK,)) -> dict[str, Any]:
    """The ``openapi_extra`` of an NGSI-LD operation: its request body (``request_body``) and the headers it
    reads that are not declared as parameters (the Link of its @context, by default)."""
    extra = dict(body or {})
    if headers:
        extra["parameters"] = list(headers)
    return extra


# -- answers ------------------------------------------------------------------------------------------------------
# Problems per kind of operation. Everywhere: 400 (also a JSON body nested too deep), 413 (a body too large, on any
# method), 414, 429. Reads: no key is asked (no 401), nothing is created (no 409), no body is read (no 415).
# Writes: nothing is negotiated (no 406) and nothing is refused as unsupported (no 422); 411 without a length.
READ = problem_responses(400, 403, 404, 406, 413, 414, 422, 429, 504)
QUERY = problem_responses(400, 403, 404, 406, 411, 413, 414, 415, 422, 429, 504)  # POST …/entityOperations/query
WRITE = problem_responses(400, 401, 403, 404, 411, 413, 414, 415, 429, 504)
DELETE = problem_responses(400, 401, 403, 404, 413, 414, 429, 504)  # no body is read: no 411, 415
# Creations look no entity up (no 404); POST /entities refuses an existing one (409), POST /temporal/entities
# extends its history instead.
CREATE = problem_responses(400, 401, 403, 409, 411, 413, 414, 415, 429, 504)
CREATE_HISTORY = problem_responses(400, 401, 403, 411, 413, 414, 415, 429, 504)

_ENTITY_MEDIA: dict[str, Any] = {JSON: {}, LD_JSON: {}, GEO_JSON: {}}
ENTITIES: Responses = {
    200: {"content": _ENTITY_MEDIA, "description": "Entities (application/json: @context in a Link header)"},
    203: {"content": _ENTITY_MEDIA, "description": "Entities, one amended for the version in Prefer at least"},
}
ENTITY_ANSWER: Responses = {
    200: {"content": _ENTITY_MEDIA, "description": "The entity (application/geo+json: a Feature)"},
    203: {"content": _ENTITY_MEDIA, "description": "The entity amended for the version in Prefer"},
}
_CONTENT_RANGE = {"description": "date-time <start>-<end>/<lastN or *>", "schema": {"type": "string"}}
HISTORY: Responses = {
    200: {"content": {JSON: {}, LD_JSON: {}}, "description": "Temporal entities"},
    206: {
        "content": {JSON: {}, LD_JSON: {}},
        "description": "Some instances were left out (lastN or NORDHUB_TEMPORAL_MAX_INSTANCES); the time range sent "
        "is in Content-Range",
        "headers": {"Content-Range": _CONTENT_RANGE},
    },
}
DONE: Responses = {204: {"description": "Done"}}
CREATED: Responses = {
    201: {
        "description": "Created; Location names the entity",
        "headers": {"Location": {"schema": {"type": "string"}, "description": "The entity's path"}},
    }
}
UPDATE_RESULT: dict[str, Any] = {
    "type": "object",
    "title": "UpdateResult",
    "required": ["updated", "notUpdated"],
    "properties": {
        "updated": {"type": "array", "items": {"type": "string"}},
        "notUpdated": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["attributeName", "reason"],
                "properties": {"attributeName": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
ATTRS_DONE: Responses = {
    **DONE,
    207: {
        "description": "Some attributes were not changed: {updated, notUpdated}",
        "content": {JSON: {"schema": UPDATE_RESULT}},
    },
}
BATCH_RESULT: dict[str, Any] = {
    "type": "object",
    "title": "BatchOperationResult",
    "required": ["success", "errors"],
    "properties": {
        "success": {"type": "array", "items": {"type": "string"}, "description": "The ids done"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["entityId", "error"],
                "properties": {
                    "entityId": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "error": PROBLEM_SCHEMA,
                },
            },
        },
    },
}
BATCH_DONE: Responses = {
    201: {
        "description": "create, or an upsert that created entities: the ids created",
        "content": {JSON: {"schema": {"type": "array", "items": {"type": "string"}}}},
    },
    204: {"description": "Every entity done (update, merge, delete; an upsert that only updated)"},
    207: {"description": "Some entities failed: {success, errors}", "content": {JSON: {"schema": BATCH_RESULT}}},
}
BATCH_OPERATIONS = ("create", "upsert", "update", "merge", "delete")
