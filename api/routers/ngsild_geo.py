"""Geo-query parameters of the NGSI-LD query endpoints, read once as a FastAPI dependency.

The routes take a parsed :class:`ngsi.geo.GeoQuery` (or None); a bad parameter is a 400 naming it, raised here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from ngsi.geo import GEOMETRIES, GeoQuery, parse_geo_query


async def geo_query(
    georel: Annotated[
        str | None,
        Query(
            description="near;maxDistance==N, near;minDistance==N (metres), equals, disjoint, intersects, within, "
            "contains, overlaps"
        ),
    ] = None,
    geometry: Annotated[str | None, Query(description=f"The query geometry: {', '.join(GEOMETRIES)}")] = None,
    coordinates: Annotated[
        str | None, Query(description="The query geometry's coordinates as a JSON array, longitude first")
    ] = None,
    geoproperty: Annotated[str | None, Query(description="The GeoProperty the query applies to (location)")] = None,
) -> GeoQuery | None:
    """The geo-query of the request, None without one.

    ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in the thread pool, a hop per
    request that cost more than parsing four strings (bench/ngsi_http.py).
    """
    return parse_geo_query(georel, geometry, coordinates, geoproperty)


GeometryProperty = Annotated[
    str, Query(alias="geometryProperty", description="With application/geo+json: the GeoProperty that is the geometry")
]
