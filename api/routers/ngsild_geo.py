"""``geometryProperty``, the GeoJSON parameter of ``GET /entities/{id}``.

``GET /entities`` reads its geo-query parameters (georel, geometry, coordinates, geoproperty) with the others in
``api.ngsild_params``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

GeometryProperty = Annotated[
    str | None,
    Query(
        alias="geometryProperty",
        description="With application/geo+json only: the GeoProperty that is the geometry (absent: location)",
    ),
]
