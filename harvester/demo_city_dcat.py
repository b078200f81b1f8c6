"""DCAT-AP catalogues of the simulated member cities: seven Norwegian municipalities and a Swedish national dump.

The Norwegian catalogues follow DCAT-AP-NO 2.0 (dct:identifier, dct:publisher and an EU data theme on every
dataset), 15 to 30 datasets each with Norwegian titles and some English ones, NLOD 2.0, and formats given both as
literals and as EU file-type URIs, as real catalogues mix them. They are served in Turtle, paged with Hydra
``PartialCollectionView`` ten datasets a page. The Swedish dump (RDF/XML, one page) holds Stockholm's datasets
beside Gothenburg's and Malmö's, as dataportal.se's does, so the harvest must keep Stockholm's by publisher.

Everything is a pure function of the city and the clock: only datasets updated daily change, once a UTC day.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

PAGE_SIZE = 10
SCHEDULE = "17 3 * * *"
NLOD = "http://data.norge.no/nlod/no/2.0"
CC_BY = "http://creativecommons.org/licenses/by/4.0/"
EU = "http://publications.europa.eu/resource/authority/"
HVD_LEGISLATION = "http://data.europa.eu/eli/reg_impl/2023/138/oj"
HVD = {"mobility": "c_b79e35eb", "geo": "c_ac64a52d", "env": "c_dd313021", "meteo": "c_164e0bf5", "stat": "c_e1da4e07"}
FORMATS = {  # file-type code → (media type, the literal some publishers write instead)
    "CSV": ("text/csv", "CSV"),
    "JSON": ("application/json", "JSON"),
    "GEOJSON": ("application/geo+json", "GeoJSON"),
    "XLSX": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "XML": ("application/xml", "text/xml"),
    "PDF": ("application/pdf", "PDF"),
}
_NS = uuid.UUID("6f1c0f52-2b0e-4c55-9d6b-0c7a8f1e9a11")

Clock = Callable[[], float]

# slug | title nb | title en | EU data theme | keywords | HVD category | accrual periodicity | EU file types
TOPICS = (
    "bysykkel|Bysykkelstasjoner|City bike stations|TRAN|bysykkel,mobilitet|mobility|CONT|JSON",
    "parkering|Parkeringsplasser|Parking places|TRAN|parkering,bil|mobility|DAILY|CSV,GEOJSON",
    "ladestasjoner|Ladestasjoner for elbil|EV charging stations|ENER|elbil,lading|mobility|WEEKLY|JSON,CSV",
    "luftkvalitet|Luftkvalitet - målestasjoner|Air quality stations|ENVI|luft,svevestøv|env|DAILY|CSV,JSON",
    "trafikktelling|Trafikktellinger|Traffic counts|TRAN|trafikk,telling|mobility|MONTHLY|CSV,XLSX",
    "sykkelveier|Sykkelveinett|Cycle network|TRAN|sykkel,vei|geo|ANNUAL|GEOJSON",
    "holdeplasser|Holdeplasser for buss og trikk|Public transport stops|TRAN|buss,trikk|mobility|MONTHLY|CSV,GEOJSON",
    "befolkning|Befolkning etter bydel|Population by district|SOCI|befolkning,statistikk|stat|ANNUAL|CSV,XLSX",
    "barnehager|Barnehager|Kindergartens|EDUC|barnehage||ANNUAL|CSV,GEOJSON",
    "skoler|Grunnskoler|Primary schools|EDUC|skole,utdanning||ANNUAL|CSV",
    "badevann|Badeplasser og badevannskvalitet|Bathing water quality|HEAL|bading,vannkvalitet|env|WEEKLY|CSV,JSON",
    "friluft|Friluftsområder|Outdoor recreation areas|ENVI|friluftsliv,park||ANNUAL|GEOJSON",
    "turstier|Turstier og løyper|Hiking trails|ENVI|tur,løype||ANNUAL|GEOJSON,XML",
    "toaletter|Offentlige toaletter|Public toilets|SOCI|toalett||ANNUAL|CSV",
    "gjenvinning|Gjenvinningsstasjoner|Recycling stations|ENVI|avfall,gjenvinning||ANNUAL|CSV,JSON",
    "tommekalender|Tømmekalender for husholdningsavfall|Waste collection calendar|ENVI|avfall||WEEKLY|JSON",
    "byggesaker|Byggesaker|Building applications|GOVE|byggesak,plan||DAILY|CSV",
    "eiendommer|Kommunale eiendommer|Municipal properties|GOVE|eiendom||ANNUAL|XLSX",
    "regnskap|Budsjett og regnskap|Budget and accounts|ECON|økonomi,budsjett||ANNUAL|XLSX,PDF",
    "postjournal|Postjournal|Public records journal|GOVE|innsyn,journal||DAILY|XML,CSV",
    "politikk|Politiske møter og vedtak|Political meetings and decisions|GOVE|politikk||WEEKLY|JSON,PDF",
    "adresser|Adresser|Addresses|REGI|adresse,kart|geo|MONTHLY|CSV,GEOJSON",
    "reguleringsplaner|Reguleringsplaner|Zoning plans|REGI|plan,arealbruk|geo|MONTHLY|GEOJSON",
    "bydeler|Bydelsgrenser|District boundaries|REGI|bydel,grenser|geo|ANNUAL|GEOJSON",
    "bytraer|Trær i byen|City trees|ENVI|trær,grønnstruktur||ANNUAL|CSV,GEOJSON",
    "stoy|Støykart for vei og bane|Noise map|ENVI|støy|env|ANNUAL|GEOJSON,PDF",
    "vaer|Nedbør og temperatur|Precipitation and temperature|ENVI|vær,klima|meteo|DAILY|CSV,JSON",
    "brøyting|Brøytestatus|Snow clearing status|TRAN|brøyting,vinter||DAILY|JSON",
    "veiarbeid|Veiarbeid og stengte gater|Roadworks|TRAN|veiarbeid|mobility|DAILY|JSON,GEOJSON",
    "arrangementer|Kulturarrangementer|Cultural events|EDUC|kultur||DAILY|JSON",
    "bibliotek|Bibliotekfilialer|Library branches|EDUC|bibliotek||ANNUAL|CSV",
    "idrettsanlegg|Idrettsanlegg|Sports facilities|HEAL|idrett||ANNUAL|CSV,GEOJSON",
    "helsestasjoner|Helsestasjoner og legevakt|Health centres|HEAL|helse||ANNUAL|CSV",
    "vannforbruk|Vannforbruk|Water consumption|ENVI|vann||MONTHLY|CSV,XLSX",
    "energibruk|Energibruk i kommunale bygg|Energy use in municipal buildings|ENER|energi||MONTHLY|CSV",
)
SWEDISH_TOPICS = (
    "cykelpumpar|Cykelpumpar|Bicycle pumps|TRAN|cykel||ANNUAL|CSV,GEOJSON",
    "parkering|Parkeringsplatser|Parking places|TRAN|parkering,bil|mobility|DAILY|JSON",
    "laddplatser|Laddplatser för elbil|EV charging points|ENER|elbil,laddning|mobility|WEEKLY|JSON",
    "luftkvalitet|Luftkvalitet|Air quality|ENVI|luft,partiklar|env|DAILY|CSV,JSON",
    "befolkning|Befolkning per stadsdel|Population by district|SOCI|befolkning,statistik|stat|ANNUAL|XLSX,CSV",
    "forskolor|Förskolor|Preschools|EDUC|förskola||ANNUAL|CSV",
    "badplatser|Badplatser och badvattenkvalitet|Bathing water quality|HEAL|bad,vattenkvalitet|env|WEEKLY|JSON",
    "adresser|Adresser|Addresses|REGI|adress,karta|geo|MONTHLY|CSV,GEOJSON",
    "detaljplaner|Detaljplaner|Detailed development plans|REGI|plan,bygglov|geo|MONTHLY|GEOJSON",
    "stadstrad|Träd i staden|City trees|ENVI|träd,grönska||ANNUAL|GEOJSON",
    "bullerkartor|Bullerkartor|Noise maps|ENVI|buller|env|ANNUAL|GEOJSON,PDF",
    "vagarbeten|Vägarbeten|Roadworks|TRAN|trafik|mobility|DAILY|JSON",
    "offentliga-toaletter|Offentliga toaletter|Public toilets|SOCI|toalett||ANNUAL|CSV",
    "budget|Budget och bokslut|Budget and accounts|ECON|ekonomi,budget||ANNUAL|XLSX,PDF",
)


@dataclass(frozen=True, slots=True)
class DemoPublisher:
    """One publishing body (municipality) of a demo catalogue."""

    city_id: str
    name: str
    uri: str
    domain: str
    municipality_code: str
    language: str  # nb | sv


@dataclass(frozen=True, slots=True)
class DemoDistribution:
    title: str
    access_url: str
    file_type: str
    format_as_uri: bool
    byte_size: int


@dataclass(frozen=True, slots=True)
class DemoDataset:
    publisher: DemoPublisher
    slug: str
    title: dict[str, str]
    keywords: tuple[str, ...]
    theme: str
    hvd: str | None
    periodicity: str
    issued: date
    modified: datetime  # datasets updated daily are modified at the start of the clock's UTC day instead
    temporal_start: date | None
    distributions: tuple[DemoDistribution, ...]

    @property
    def uri(self) -> str:
        return f"https://{self.publisher.domain}/datasets/{self.slug}"

    @property
    def identifier(self) -> str:
        return str(uuid.uuid5(_NS, self.uri))


@dataclass(frozen=True, slots=True)
class DemoCatalogue:
    key: str  # the URL segment
    city_id: str  # the member city whose source harvests it
    title: dict[str, str]
    publisher: DemoPublisher
    datasets: tuple[DemoDataset, ...]
    syntax: str  # turtle | xml
    publisher_filter: str | None = None

    @property
    def uri(self) -> str:
        return f"https://{self.publisher.domain}/catalog"


def _fdk(orgnr: str) -> str:
    return f"https://organization-catalog.fellesdatakatalog.digdir.no/organizations/{orgnr}"


def _se(orgnr: str) -> str:
    return f"https://dataportal.se/organisation/SE{orgnr}"


NORWEGIAN = (
    DemoPublisher("oslo", "Oslo kommune", _fdk("958935420"), "oslo.kommune.no", "0301", "nb"),
    DemoPublisher("bergen", "Bergen kommune", _fdk("964338531"), "bergen.kommune.no", "4601", "nb"),
    DemoPublisher("trondheim", "Trondheim kommune", _fdk("942110464"), "trondheim.kommune.no", "5001", "nb"),
    DemoPublisher("stavanger", "Stavanger kommune", _fdk("964965226"), "stavanger.kommune.no", "1103", "nb"),
    DemoPublisher("baerum", "Bærum kommune", _fdk("935478715"), "baerum.kommune.no", "3201", "nb"),
    DemoPublisher("tromso", "Tromsø kommune", _fdk("940101808"), "tromso.kommune.no", "5501", "nb"),
    DemoPublisher("kristiansand", "Kristiansand kommune", _fdk("963296746"), "kristiansand.kommune.no", "4204", "nb"),
)
SWEDISH = (
    DemoPublisher("stockholm", "Stockholms stad", _se("2120000142"), "stockholm.se", "0180", "sv"),
    DemoPublisher("goteborg", "Göteborgs Stad", _se("2120001355"), "goteborg.se", "1480", "sv"),
    DemoPublisher("malmo", "Malmö stad", _se("2120001124"), "malmo.se", "1280", "sv"),
)


def _dataset(publisher: DemoPublisher, topic: str, rng: random.Random) -> DemoDataset:
    slug, title_nb, title_en, theme, keywords, hvd, periodicity, formats = topic.split("|")
    title = {publisher.language: title_nb}
    if rng.random() < 0.5:
        title["en"] = title_en
    issued = date(2016, 1, 1) + timedelta(days=rng.randrange(2500))
    modified = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(600 * 86400))
    distributions = tuple(
        DemoDistribution(
            title=f"{title_nb} ({code})",
            access_url=f"https://{publisher.domain}/data/{slug}.{code.lower()}",
            file_type=code,
            format_as_uri=rng.random() < 0.5,
            byte_size=rng.randrange(2_000, 40_000_000),
        )
        for code in formats.split(",")
    )
    start = issued - timedelta(days=rng.randrange(3650)) if rng.random() < 0.4 else None
    words = tuple(keywords.split(","))
    return DemoDataset(
        publisher, slug, title, words, theme, hvd or None, periodicity, issued, modified, start, distributions
    )


def _datasets(publisher: DemoPublisher, low: int, high: int) -> tuple[DemoDataset, ...]:
    rng = random.Random(f"dcat:{publisher.city_id}")
    topics = rng.sample(SWEDISH_TOPICS if publisher.language == "sv" else TOPICS, rng.randint(low, high))
    return tuple(sorted((_dataset(publisher, t, rng) for t in topics), key=lambda d: d.slug))


def demo_catalogues() -> tuple[DemoCatalogue, ...]:
    """Every demo catalogue: one per Norwegian municipality (Turtle) and the Swedish dump (RDF/XML)."""
    catalogues = [
        DemoCatalogue(p.city_id, p.city_id, {"nb": f"Datakatalog for {p.name}", "en": f"Data catalogue of {p.name}"},
                      p, _datasets(p, 15, 30), "turtle")
        for p in NORWEGIAN
    ]  # fmt: skip
    swedish = tuple(d for p in SWEDISH for d in _datasets(p, 6, 10))
    title = {"sv": "Sveriges dataportal", "en": "Sweden's data portal"}
    dataportal = DemoPublisher(
        "se", "Myndigheten för digital förvaltning", _se("2021006883"), "dataportal.se", "", "sv"
    )
    catalogues.append(DemoCatalogue("dataportal-se", "stockholm", title, dataportal, swedish, "xml", "Stockholms stad"))
    return tuple(catalogues)


def modified_at(dataset: DemoDataset, now: int) -> str:
    """dct:modified as published: daily datasets at the start of the clock's UTC day."""
    if dataset.periodicity == "DAILY":
        return datetime.fromtimestamp(now - now % 86400, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return dataset.modified.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------------ serialisations

NAMESPACES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/", "dcatap": "http://data.europa.eu/r5r/", "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#", "hydra": "http://www.w3.org/ns/hydra/core#",
}  # fmt: skip
XSD = "http://www.w3.org/2001/XMLSchema#"


@dataclass(frozen=True, slots=True)
class _Lit:
    text: str
    lang: str | None = None
    datatype: str | None = None


@dataclass(frozen=True, slots=True)
class _Node:
    """A described node: an IRI, or a blank node when ``iri`` is None; both serialisations write these."""

    iri: str | None
    types: tuple[str, ...]  # CURIEs
    rows: tuple[tuple[str, tuple[str | _Lit | _Node, ...]], ...]  # (predicate CURIE, objects: IRI, literal, node)


def _description(dataset: DemoDataset) -> str:
    title, p = dataset.title[dataset.publisher.language], dataset.publisher
    return f"{title}, {'publicerat' if p.language == 'sv' else 'publisert'} av {p.name}."


def _dataset_node(dataset: DemoDataset, now: int) -> _Node:
    p, lang = dataset.publisher, dataset.publisher.language
    email = ("vcard:hasEmail", (f"mailto:postmottak@{p.domain}",))
    contact = _Node(None, ("vcard:Organization",), (("vcard:fn", (_Lit(p.name),)), email))
    rows: list[tuple[str, tuple[str | _Lit | _Node, ...]]] = [
        ("dct:identifier", (_Lit(dataset.identifier),)),
        ("dct:title", tuple(_Lit(text, language) for language, text in dataset.title.items())),
        ("dct:description", (_Lit(_description(dataset), lang),)),
        ("dcat:keyword", tuple(_Lit(keyword, lang) for keyword in dataset.keywords)),
        ("dcat:theme", (f"{EU}data-theme/{dataset.theme}",)),
        ("dct:publisher", (p.uri,)),
        ("dcat:contactPoint", (contact,)),
        ("dct:issued", (_Lit(dataset.issued.isoformat(), datatype=XSD + "date"),)),
        ("dct:modified", (_Lit(modified_at(dataset, now), datatype=XSD + "dateTime"),)),
        ("dct:accrualPeriodicity", (f"{EU}frequency/{dataset.periodicity}",)),
        ("dct:accessRights", (f"{EU}access-right/PUBLIC",)),
        ("dct:language", (f"{EU}language/{'SWE' if lang == 'sv' else 'NOB'}",)),
        ("dcat:landingPage", (f"https://{p.domain}/data/{dataset.slug}",)),
        ("dcat:distribution", tuple(_distribution_iri(dataset, d) for d in dataset.distributions)),
    ]
    if lang == "nb":
        rows.append(
            ("dct:spatial", (f"https://data.geonorge.no/administrativeEnheter/kommune/id/{p.municipality_code}",))
        )
    if dataset.temporal_start:
        start = _Lit(dataset.temporal_start.isoformat(), datatype=XSD + "date")
        rows.append(("dct:temporal", (_Node(None, ("dct:PeriodOfTime",), (("dcat:startDate", (start,)),)),)))
    if dataset.hvd:
        rows.append(("dcatap:applicableLegislation", (HVD_LEGISLATION,)))
        rows.append(("dcatap:hvdCategory", (f"http://data.europa.eu/bna/{HVD[dataset.hvd]}",)))
    return _Node(dataset.uri, ("dcat:Dataset",), tuple(rows))


def _distribution_iri(dataset: DemoDataset, d: DemoDistribution) -> str:
    return f"{dataset.uri}/distribution/{d.file_type.lower()}"


def _distribution_node(dataset: DemoDataset, d: DemoDistribution) -> _Node:
    media_type, literal_format = FORMATS[d.file_type]
    file_format: str | _Lit = f"{EU}file-type/{d.file_type}" if d.format_as_uri else _Lit(literal_format)
    return _Node(_distribution_iri(dataset, d), ("dcat:Distribution",), (
        ("dct:title", (_Lit(d.title, dataset.publisher.language),)),
        ("dcat:accessURL", (d.access_url,)),
        ("dcat:downloadURL", (d.access_url,)),
        ("dct:format", (file_format,)),
        ("dcat:mediaType", (f"https://www.iana.org/assignments/media-types/{media_type}",)),
        ("dct:license", (CC_BY if dataset.publisher.language == "sv" else NLOD,)),
        ("dcat:byteSize", (_Lit(str(d.byte_size), datatype=XSD + "nonNegativeInteger"),)),
    ))  # fmt: skip


def catalogue_nodes(catalogue: DemoCatalogue, datasets: Sequence[DemoDataset], now: int) -> list[_Node]:
    """The catalogue node (listing ``datasets``), their publishers, the datasets and their distributions."""
    cat_rows = (
        ("dct:identifier", (_Lit(catalogue.uri),)),
        ("dct:title", tuple(_Lit(text, language) for language, text in catalogue.title.items())),
        ("dct:publisher", (catalogue.publisher.uri,)),
        ("dcat:dataset", tuple(d.uri for d in datasets)),
    )
    agents = {p.uri: p for p in (catalogue.publisher, *(d.publisher for d in datasets))}
    nodes = [_Node(catalogue.uri, ("dcat:Catalog",), cat_rows)]
    nodes += [_Node(uri, ("foaf:Agent",), (("foaf:name", (_Lit(p.name, p.language),)),)) for uri, p in agents.items()]
    for dataset in datasets:
        nodes.append(_dataset_node(dataset, now))
        nodes += [_distribution_node(dataset, d) for d in dataset.distributions]
    return nodes


def _ttl(obj: str | _Lit | _Node) -> str:
    if isinstance(obj, str):
        return f"<{obj}>"
    if isinstance(obj, _Node):
        return "[ " + _ttl_body(obj, " ; ") + " ]"
    quoted = '"' + obj.text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return f"{quoted}@{obj.lang}" if obj.lang else f"{quoted}^^<{obj.datatype}>" if obj.datatype else quoted


def _ttl_body(node: _Node, separator: str) -> str:
    rows = [f"a {' , '.join(node.types)}", *(f"{p} {' , '.join(map(_ttl, objs))}" for p, objs in node.rows if objs)]
    return separator.join(rows)


def turtle_page(catalogue: DemoCatalogue, page: int, now: int, page_url: Callable[[int], str]) -> str:
    """One page of a catalogue in Turtle, with its hydra:PartialCollectionView."""
    last = max(1, -(-len(catalogue.datasets) // PAGE_SIZE))
    nodes = catalogue_nodes(catalogue, catalogue.datasets[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], now)
    links = [("hydra:first", 1), ("hydra:last", last), ("hydra:previous", page - 1), ("hydra:next", page + 1)]
    view_rows = tuple((p, (page_url(n),)) for p, n in links if 1 <= n <= last)
    collection = (("hydra:totalItems", (_Lit(str(len(catalogue.datasets)), datatype=XSD + "integer"),)),
                  ("hydra:view", (page_url(page),)))  # fmt: skip
    nodes[0] = _Node(catalogue.uri, ("dcat:Catalog", "hydra:Collection"), nodes[0].rows + collection)
    nodes.insert(1, _Node(page_url(page), ("hydra:PartialCollectionView",), view_rows))
    prefixes = "".join(f"@prefix {prefix}: <{iri}> .\n" for prefix, iri in NAMESPACES.items())
    return prefixes + "".join(f"\n<{n.iri}> {_ttl_body(n, ' ;' + chr(10) + '    ')} .\n" for n in nodes)


def _xml_node(node: _Node, indent: str) -> str:
    about = f" rdf:about={quoteattr(node.iri)}" if node.iri else ""
    inner = indent + "  "
    lines = [f"{inner}<rdf:type rdf:resource={quoteattr(_expand(t))}/>" for t in node.types[1:]]
    for p, objs in node.rows:
        for obj in objs:
            if isinstance(obj, str):
                lines.append(f"{inner}<{p} rdf:resource={quoteattr(obj)}/>")
            elif isinstance(obj, _Node):
                lines.append(f"{inner}<{p}>\n{_xml_node(obj, inner + '  ')}\n{inner}</{p}>")
            else:
                attr = f" xml:lang={quoteattr(obj.lang)}" if obj.lang else ""
                attr += f" rdf:datatype={quoteattr(obj.datatype)}" if obj.datatype else ""
                lines.append(f"{inner}<{p}{attr}>{escape(obj.text)}</{p}>")
    return f"{indent}<{node.types[0]}{about}>\n" + "\n".join(lines) + f"\n{indent}</{node.types[0]}>"


def _expand(curie: str) -> str:
    prefix, _, local = curie.partition(":")
    return NAMESPACES[prefix] + local


def rdfxml_document(catalogue: DemoCatalogue, now: int) -> str:
    """The whole catalogue in RDF/XML, in one document (as national dumps are)."""
    xmlns = "".join(f"\n    xmlns:{prefix}={quoteattr(iri)}" for prefix, iri in NAMESPACES.items())
    body = "\n".join(_xml_node(node, "  ") for node in catalogue_nodes(catalogue, catalogue.datasets, now))
    return f'<?xml version="1.0" encoding="utf-8"?>\n<rdf:RDF{xmlns}>\n{body}\n</rdf:RDF>\n'


# ------------------------------------------------------------------------------------------------ serving


class _DcatEndpoints:
    """Serves every demo catalogue; the catalogues are built once per app, the clock read per request."""

    def __init__(self, clock: Clock) -> None:
        self._catalogues = {catalogue.key: catalogue for catalogue in demo_catalogues()}
        self._clock = clock

    def _catalogue(self, request: Request) -> DemoCatalogue:
        key = str(request.path_params["catalogue"])
        if key not in self._catalogues:
            raise HTTPException(404, f"unknown DCAT catalogue {key!r}")
        return self._catalogues[key]

    async def turtle(self, request: Request) -> Response:
        catalogue = self._catalogue(request)
        page_text = request.query_params.get("page", "1")
        pages = max(1, -(-len(catalogue.datasets) // PAGE_SIZE))
        if not page_text.isdigit() or not 1 <= int(page_text) <= pages:
            raise HTTPException(404, f"catalogue {catalogue.key!r} has pages 1 to {pages}, not {page_text!r}")
        body = turtle_page(catalogue, int(page_text), int(self._clock()), lambda n: _page_url(request, n))
        return Response(body.encode(), media_type="text/turtle; charset=utf-8")

    async def rdfxml(self, request: Request) -> Response:
        body = rdfxml_document(self._catalogue(request), int(self._clock()))
        return Response(body.encode(), media_type="application/rdf+xml")


def _page_url(request: Request, page: int) -> str:
    return str(request.url.replace_query_params(page=page))


def routes(systems: Sequence[object], clock: Clock) -> Mount:
    """The ``/dcat`` mount: ``/dcat/{catalogue}/catalog.ttl?page=N`` and ``/dcat/{catalogue}/catalog.rdf``."""
    endpoints = _DcatEndpoints(clock)
    return Mount("/dcat", name="dcat", routes=[
        Route("/{catalogue}/catalog.ttl", endpoints.turtle, name="turtle"),
        Route("/{catalogue}/catalog.rdf", endpoints.rdfxml, name="rdfxml"),
    ])  # fmt: skip


def sources(systems: Sequence[object], base_url: str) -> list[tuple[str, dict[str, object]]]:
    """(city id, cities.toml source) for every demo catalogue, pointing at a server reachable at ``base_url``."""
    base = base_url.rstrip("/")
    result: list[tuple[str, dict[str, object]]] = []
    for catalogue in demo_catalogues():
        extension = "ttl" if catalogue.syntax == "turtle" else "rdf"
        source: dict[str, object] = {
            "id": f"{catalogue.city_id}-dcat-demo",
            "kind": "dcat",
            "url": f"{base}/dcat/{catalogue.key}/catalog.{extension}",
            "schedule": SCHEDULE,
            "title": f"{catalogue.title['en']} (demo)",
        }
        if catalogue.publisher_filter:
            source["options"] = {"publisher": catalogue.publisher_filter}
        result.append((catalogue.city_id, source))
    return result
