"""The hub's own NGSI-LD data, described in the catalogue so that it can be found ("bike-share in Bergen").

For each city (NGSI-LD tenant) and entity type with live entities: a dcat:Dataset (title, description, the city as
spatial coverage, the observed time range, theme, keywords, the licence of the source it was harvested from,
conformsTo its Smart Data Model) with a distribution, and a dcat:DataService whose endpoint URL is the NGSI-LD
query for that type. NGSI-LD names the tenant in the ``NGSILD-Tenant`` header, not in the URL: the service's
identifier and description say which tenant to send (:func:`endpoint_url` is the one place to change if the API
ever takes the tenant in the query). The URIs are the hub's own, under ``{base}/datasets/ngsi-ld/{city}/{type}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from sqlalchemy import Connection

from catalog.dcat_out import NGSI_LD, CatalogRecord, ChangeType, DataService, SourceVisit
from catalog.model import Agent, Dataset, Distribution
from hub.cities import City, Registry, Source, SourceKind
from ngsi.catalog_view import ObservedRange, TypeSummary, observed_range, type_summaries
from schemas.store import ArtefactKind, load_manifest

OWN_PREFIX = "/datasets/ngsi-ld/"
SOURCE_STANDARDS: Mapping[SourceKind, str] = {  # the standard each kind of source speaks (see dcat_out.STANDARDS)
    SourceKind.DCAT: "https://www.w3.org/TR/vocab-dcat-3/",
    SourceKind.CKAN: "https://docs.ckan.org/en/latest/api/",
    SourceKind.DATASTORE: "https://docs.ckan.org/en/latest/maintaining/datastore.html",
    SourceKind.GBFS: "https://gbfs.org/specification/",
    SourceKind.NGSILD: NGSI_LD,
}
DATA_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
LOCAL_AUTHORITY = "http://purl.org/adms/publishertype/LocalAuthority"
COUNTRY_LANGUAGES: Mapping[str, tuple[str, ...]] = {
    "DK": ("da",),
    "NO": ("nb", "nn"),
    "SE": ("sv",),
    "FI": ("fi", "sv"),
    "IS": ("is",),
}
GEONORGE_KOMMUNE = "https://data.geonorge.no/administrativeEnheter/kommune/id/"


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """How the catalogue words one entity type: a plural noun phrase, an EU data theme, English keywords."""

    title: str
    theme: str
    keywords: tuple[str, ...]


TYPES: Mapping[str, TypeInfo] = {
    "BikeHireDockingStation": TypeInfo(
        "Bike-share docking stations", "TRAN", ("bike-share", "bike sharing", "city bikes", "mobility")
    ),
    "OffStreetParking": TypeInfo("Car park occupancy", "TRAN", ("parking", "car parks", "mobility")),
    "OnStreetParking": TypeInfo("On-street parking occupancy", "TRAN", ("parking", "mobility")),
    "ParkingSpot": TypeInfo("Parking spot occupancy", "TRAN", ("parking", "mobility")),
    "TrafficFlowObserved": TypeInfo("Traffic flow observations", "TRAN", ("traffic", "traffic counts", "mobility")),
    "EVChargingStation": TypeInfo("EV charging stations", "ENER", ("electric vehicles", "charging", "mobility")),
    "AirQualityObserved": TypeInfo("Air quality observations", "ENVI", ("air quality", "pollution")),
    "NoiseLevelObserved": TypeInfo("Noise level observations", "ENVI", ("noise",)),
    "WeatherObserved": TypeInfo("Weather observations", "ENVI", ("weather",)),
}


@dataclass(frozen=True, slots=True)
class OwnItem:
    """One (city, entity type) as the catalogue publishes it: the dataset, its service and its record."""

    city_id: str
    entity_type: str
    dataset: Dataset
    service: DataService
    record: CatalogRecord


def own_uri(base_url: str, city_id: str, entity_type: str) -> str:
    return f"{base_url.rstrip('/')}{OWN_PREFIX}{city_id}/{quote(entity_type, safe='')}"


def endpoint_url(base_url: str, entity_type: str) -> str:
    """The NGSI-LD query for every entity of a type (the tenant goes in the NGSILD-Tenant header)."""
    return f"{base_url.rstrip('/')}/ngsi-ld/v1/entities?type={quote(entity_type, safe='')}"


def city_agent(base_url: str, city: City) -> Agent:
    """The city as publisher: a local authority with a hub IRI, named in English and its own language."""
    local = COUNTRY_LANGUAGES.get(city.country, ("en",))[0]
    return Agent(
        name={"en": city.name_en, local: city.name},
        uri=f"{base_url.rstrip('/')}/catalog/{city.id}#publisher",
        type=LOCAL_AUTHORITY,
    )


def city_spatial(base_url: str, city: City) -> list[str]:
    """The city's location IRIs: the hub's (described with bbox and centroid), and Geonorge's for Norway."""
    spatial = [f"{base_url.rstrip('/')}/catalog/{city.id}#location"]
    if city.country == "NO" and len(city.municipality_code) == 4:
        spatial.append(GEONORGE_KOMMUNE + city.municipality_code)
    return spatial


def sdm_schemas() -> dict[str, str]:
    """Entity type → the Smart Data Model schema URL, from the schema manifest."""
    return {a.model: a.url for a in load_manifest() if a.kind is ArtefactKind.SDM_MODEL and a.model}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


PUBLIC_ACCESS = "http://publications.europa.eu/resource/authority/access-right/PUBLIC"


def describe(
    summary: TypeSummary,
    *,
    registry: Registry,
    base_url: str,
    observed: ObservedRange | None,
    schemas: Mapping[str, str],
    contact: str | None = None,
) -> OwnItem | None:
    """The catalogue's description of one (tenant, type); None for a tenant that is no city of the registry."""
    try:
        city = registry.city(summary.tenant)
    except KeyError:
        return None
    info = TYPES.get(summary.type, TypeInfo(f"{summary.type} entities", "", (summary.type,)))
    uri, endpoint = own_uri(base_url, city.id, summary.type), endpoint_url(base_url, summary.type)
    sources = [registry.source(s)[1] for s in summary.source_ids if _registered(registry, s)]
    licence = next((s.licence for s in sources if s.licence), None) or city.licence
    origin = ", ".join(s.title or s.id for s in sources) or "its sources"
    dataset = Dataset(
        uri=uri,
        title={"en": f"{info.title} in {city.name_en}"},
        description={
            "en": f"{info.title} of {city.name_en}, live, as {summary.entities} NGSI-LD {summary.type} entities "
            f"(Smart Data Models), harvested by Nordhub from {origin}. Query them at the NGSI-LD endpoint with "
            f"the header NGSILD-Tenant: {city.id}."
        },
        identifier=f"{city.id}/{summary.type}",
        keywords={"en": [*info.keywords, summary.type, city.name_en]},
        themes=[DATA_THEME + info.theme] if info.theme else [],
        publisher=city_agent(base_url, city),
        contact_point={"fn": "Nordhub", "email": contact} if contact else {},
        licence=licence,
        modified=_iso(summary.last_modified),
        issued=_iso(summary.first_created),
        spatial=city_spatial(base_url, city),
        temporal=(_iso(observed.start), _iso(observed.end)) if observed else None,
        conforms_to=[schemas[summary.type]] if summary.type in schemas else [],
        access_rights=PUBLIC_ACCESS,
        distributions=[_distribution(uri, endpoint, info, city, licence, summary.type)],
    )
    service = _service(dataset, summary.type, endpoint, info, city, base_url)
    return OwnItem(city.id, summary.type, dataset, service, _record(uri, summary, sources))


def _service(
    dataset: Dataset, entity_type: str, endpoint: str, info: TypeInfo, city: City, base_url: str
) -> DataService:
    """The NGSI-LD query serving a hub-described dataset, described with the dataset's own terms."""
    return DataService(
        uri=f"{dataset.uri}#service",
        title={"en": f"NGSI-LD API: {info.title.lower()} in {city.name_en}"},
        endpoint_url=endpoint,
        description={"en": f"NGSI-LD query for {entity_type} entities; send the header NGSILD-Tenant: {city.id}."},
        endpoint_description=f"{base_url.rstrip('/')}/openapi.json",
        serves=(dataset.uri,),
        conforms_to=(NGSI_LD,),
        keywords=dataset.keywords,
        themes=tuple(dataset.themes),
        publisher=dataset.publisher,
        licence=dataset.licence,
        identifier=dataset.identifier,
        contact_point=dataset.contact_point,
    )


def _registered(registry: Registry, source_id: str) -> bool:
    try:
        registry.source(source_id)
    except KeyError:
        return False
    return True


def _distribution(uri: str, endpoint: str, info: TypeInfo, city: City, licence: str, entity_type: str) -> Distribution:
    # The download is the city's entities of the type in one response: ids carry the city, so idPattern scopes it.
    pattern = quote(f"urn:ngsi-ld:{entity_type}:{city.id}:.*", safe="")
    return Distribution(
        access_url=endpoint,
        download_url=f"{endpoint}&idPattern={pattern}&limit=1000",
        rights="Open data: reuse under the licence given; attribution as the licence asks.",
        uri=f"{uri}#ngsi-ld",
        title={"en": f"{info.title} in {city.name_en} (NGSI-LD)"},
        description={"en": f"NGSI-LD entities, JSON-LD; send the header NGSILD-Tenant: {city.id}."},
        format=FILE_TYPE + "JSON_LD",
        media_type="application/ld+json",
        licence=licence,
    )


def _record(uri: str, summary: TypeSummary, sources: Sequence[Source]) -> CatalogRecord:
    """The record of a hub-described dataset: its sources' times are those of the entities they brought."""
    visits = tuple(
        SourceVisit(
            uri=f"{uri}#source-{source.id}",
            source_id=source.id,
            first_seen=summary.first_created,
            last_seen=summary.last_modified,
            title=source.title,
            url=source.url,
            conforms_to=SOURCE_STANDARDS.get(source.kind),
        )
        for source in sources
    )
    created = summary.first_created == summary.last_modified
    return CatalogRecord(
        uri=f"{uri}#record",
        topic=uri,
        issued=summary.first_created,
        modified=summary.last_modified,
        change=ChangeType.CREATED if created else ChangeType.UPDATED,
        sources=visits,
    )


def listed(
    conn: Connection, *, registry: Registry, base_url: str, tenants: Sequence[str] | None = None
) -> list[TypeSummary]:
    """The (city, type) groups the catalogue lists, in the order of their dataset URIs (registry cities only)."""
    cities = {city.id for city in registry.cities}
    found = [s for s in type_summaries(conn, tenants=tenants) if s.tenant in cities]
    return sorted(found, key=lambda s: own_uri(base_url, s.tenant, s.type))


def own_item(
    conn: Connection,
    summary: TypeSummary,
    *,
    registry: Registry,
    base_url: str,
    schemas: Mapping[str, str],
    contact: str | None = None,
) -> OwnItem:
    """The full description of one listed group, its observed range read from the history."""
    observed = observed_range(conn, tenant=summary.tenant, entity_type=summary.type)
    item = describe(summary, registry=registry, base_url=base_url, observed=observed, schemas=schemas, contact=contact)
    assert item is not None, "listed() keeps registry cities only"
    return item
