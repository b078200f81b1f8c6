"""The GeoJSON representation of entities (GS CIM 009 clause 4.5.16), for ``Accept: application/geo+json``.

An entity is a Feature: its id, ``geometry`` the value of the chosen GeoProperty (``geometryProperty``, default
``location``; of several instances the default one, without datasetId; null when there is none or it is no
GeoProperty), and ``properties`` the entity's type and attributes in the requested
format. A query answers a FeatureCollection. The @context sits as a top-level member of the Feature or the
FeatureCollection (GeoJSON allows foreign members); the router sends it in the Link header too, for GeoJSON
clients that read no JSON-LD.
"""

from __future__ import annotations

from typing import Any

import orjson

from ngsi.representation import Format, render

GEO_JSON = "application/geo+json"


def _geometry(entity: dict[str, Any], geometry_property: str) -> Any:
    member = entity.get(geometry_property)
    if isinstance(member, list):  # several instances (datasetId): the default one, without datasetId (4.5.16.1)
        member = next((m for m in member if isinstance(m, dict) and "datasetId" not in m), None)
    if isinstance(member, dict) and member.get("type") == "GeoProperty" and isinstance(member.get("value"), dict):
        return member["value"]
    return None


def feature(stored: str, fmt: Format, *, geometry_property: str) -> dict[str, Any]:
    """One stored entity as a GeoJSON Feature (without @context)."""
    entity: dict[str, Any] = orjson.loads(stored)
    shaped: dict[str, Any] = orjson.loads(render(stored, fmt, with_context=False))
    shaped.pop("id", None)
    identity = {"id": entity["id"]} if "id" in entity else {}  # an omit of id leaves the Feature without one
    return {
        **identity,
        "type": "Feature",
        "geometry": _geometry(entity, geometry_property),
        "properties": shaped,
    }


def render_feature(stored: str, fmt: Format, *, geometry_property: str, context: str) -> bytes:
    """A Feature with its @context."""
    return orjson.dumps({**feature(stored, fmt, geometry_property=geometry_property), "@context": context})


def render_collection(rows: list[str], fmt: Format, *, geometry_property: str, context: str) -> bytes:
    """A FeatureCollection of stored entities, in their order, with the @context."""
    features = [feature(row, fmt, geometry_property=geometry_property) for row in rows]
    return orjson.dumps({"type": "FeatureCollection", "features": features, "@context": context})
