"""GBFS 2.3 feeds of the simulated member cities: three docked bike-share systems shaped like Oslo Bysykkel.

Everything here is a pure function of the system's seed and the clock value, so the same instant always yields
byte-identical feeds. Station availability follows a smooth pseudo-random walk (value noise between keyframes
ten minutes apart) on top of a daily commuting profile: outer, residential stations empty in the morning and
central ones fill up, as in the real systems.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

GBFS_VERSION = "2.3"
LICENSE_URL = "https://data.norge.no/nlod/en/2.0"
STATUS_TTL = 15
STATIC_TTL = 60
BUCKET_SECONDS = 30
KEYFRAME_BUCKETS = 20  # a new random target every ten minutes; buckets in between interpolate
DISCOVERY_FEEDS = ("system_information", "vehicle_types", "station_information", "station_status")
DISCOVERY_LANGUAGES = ("nb", "en")
OUTAGE_SHARE = 0.03

Clock = Callable[[], float]
Feed = dict[str, object]


@dataclass(frozen=True, slots=True)
class DemoSystem:
    """One simulated docked bike-share system of a member city."""

    city_id: str
    system_id: str
    name: str
    operator: str
    timezone: str
    language: str
    centre: tuple[float, float]  # (lon, lat)
    spread_km: float
    station_count: int
    seed: int


DEMO_SYSTEMS: tuple[DemoSystem, ...] = (
    DemoSystem(
        "oslo", "oslobysykkel", "Oslo Bysykkel", "UIP Oslo Bysykkel AS", "Europe/Oslo", "nb",
        (10.7461, 59.9200), 3.5, 120, 2351,
    ),
    DemoSystem(
        "bergen", "bergenbysykkel", "Bergen Bysykkel", "Bergen Bysykkel AS", "Europe/Oslo", "nb",
        (5.3290, 60.3890), 2.2, 60, 5563,
    ),
    DemoSystem(
        "trondheim", "trondheimbysykkel", "Trondheim Bysykkel", "Trondheim Bysykkel AS", "Europe/Oslo", "nb",
        (10.3990, 63.4270), 2.4, 50, 7030,
    ),
)  # fmt: skip


_LANDMARKS: Mapping[str, tuple[str, ...]] = {
    "oslo": (
        "Aker Brygge", "Jernbanetorget", "Youngstorget", "Birkelunden", "Alexander Kiellands plass",
        "Olaf Ryes plass", "Carl Berners plass", "Majorstuen", "Frogner plass", "Tøyen skole", "Vulkan",
        "Operaen", "Sofienbergparken", "Schous plass", "Bislett Stadion", "Blindern T-Bane", "Sogn Studentby",
        "Nationaltheatret", "Rådhusplassen", "Torshov", "St. Hanshaugen", "Tjuvholmen", "Vippetangen",
        "Nydalen T-Bane", "Storo", "Bjølsen", "Kampen park", "Vålerenga", "Helsfyr T-Bane", "Ullevål sykehus",
        "Solli plass", "Oslo S", "Munchmuseet", "Botanisk hage", "Gamlebyen", "Sagene", "Maritimt Museum",
    ),
    "bergen": (
        "Bryggen", "Torgallmenningen", "Festplassen", "Nygårdsparken", "Møhlenpris", "Nordnes", "Sandviken",
        "Danmarks plass", "Bergen stasjon", "Haukeland sykehus", "Høyteknologisenteret", "Damsgård",
        "Fisketorget", "Sydneshaugen", "Florida", "Marineholmen", "Johanneskirken", "Grieghallen",
        "Bystasjonen", "Klosteret", "Verftet", "Solheimsviken", "Kronstad",
    ),
    "trondheim": (
        "Torvet", "Solsiden", "Nidarosdomen", "Gløshaugen", "Bakklandet", "Trondheim S", "Lademoen", "Ila",
        "Studentersamfundet", "Pirbadet", "Rosenborg", "Kalvskinnet", "Olavshallen", "Brattøra",
        "Nedre Elvehavn", "St. Olavs hospital", "Tempe", "Lerkendal", "Møllenberg", "Singsaker", "Skansen",
    ),
}  # fmt: skip
_STEMS = (
    "Kirke", "Skole", "Stor", "Torg", "Mølle", "Sjø", "Fjell", "Bjerke", "Linde", "Eike", "Bjørke", "Rosen",
    "Sol", "Løkke", "Strand", "Dal", "Bekke", "Hauge", "Furu", "Gran", "Lille", "Kongs", "Fabrikk", "Tollbod",
    "Kloster", "Bakke", "Nord", "Øster", "Vester", "Prestegårds", "Smed", "Verksted", "Park", "Hage", "Sogns",
)  # fmt: skip
_SUFFIXES = ("gata", "gata", "veien", "veien", "veien", "bakken", "stien", "plassen", "svingen", "tunet")
_FIRST_NAMES = (
    "Thorvald", "Henrik", "Olaf", "Camilla", "Kristian", "Fredrik", "Ivar", "Sophie", "Johan", "Nils", "Ingrid",
)  # fmt: skip
_LAST_NAMES = ("Meyer", "Ibsen", "Rye", "Collett", "Bull", "Krohg", "Welhaven", "Vinje", "Grieg", "Nansen", "Undset")


def _street(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}s gate"
    return rng.choice(_STEMS) + rng.choice(_SUFFIXES)


def station_names(city_id: str, count: int, rng: random.Random) -> list[tuple[str, str]]:
    """``count`` distinct (name, address) pairs: local landmarks, streets, and street corners with a number."""
    landmarks = list(_LANDMARKS.get(city_id, ()))
    rng.shuffle(landmarks)
    used: set[str] = set()
    result: list[tuple[str, str]] = []
    for _ in range(count):
        address = f"{_street(rng)} {rng.randint(1, 90)}"
        draw = rng.random()
        if landmarks and draw < 0.45:
            name = landmarks.pop()
        elif draw < 0.7:
            name = address  # named after the door it stands at, number included ("Sognsveien 12")
        else:
            name = _street(rng)
        base, suffix = name, 2
        while name in used:  # the real feeds number their duplicates too ("Huk 2")
            name, suffix = f"{base} {suffix}", suffix + 1
        used.add(name)
        result.append((name, address))
    return result


@dataclass(frozen=True, slots=True)
class DemoStation:
    """The static facts of one simulated station; availability is computed from these and the clock."""

    station_id: str
    name: str
    address: str
    lon: float
    lat: float
    capacity: int
    docks_disabled: int
    ebike_share: float
    role: float  # +1 residential (empties in the morning) … -1 central (fills up during the day)


@dataclass(frozen=True, slots=True)
class StationState:
    """The availability of one station at one instant."""

    is_installed: bool
    is_renting: bool
    bikes: int
    ebikes: int
    docks_available: int
    docks_disabled: int
    last_reported: int


def build_stations(system: DemoSystem) -> tuple[DemoStation, ...]:
    """The system's stations, in ascending station id order; a pure function of the seed."""
    rng = random.Random(f"{system.seed}:stations")
    ids = sorted(rng.sample(range(100, 6000), system.station_count))
    names = station_names(system.city_id, system.station_count, rng)
    return tuple(
        _station(system, str(station_id), name, address, random.Random(f"{system.seed}:station:{station_id}"))
        for station_id, (name, address) in zip(ids, names, strict=True)
    )


def _station(system: DemoSystem, station_id: str, name: str, address: str, rng: random.Random) -> DemoStation:
    # Denser towards the centre, like real networks: radius ~ u**0.8 rather than the uniform-disk sqrt(u).
    distance = system.spread_km * rng.random() ** 0.8
    bearing = rng.uniform(0.0, 2.0 * math.pi)
    lon0, lat0 = system.centre
    lat = lat0 + distance * math.cos(bearing) / 110.574
    lon = lon0 + distance * math.sin(bearing) / (111.320 * math.cos(math.radians(lat0)))
    disabled = rng.choices((0, 1, 2), weights=(85, 11, 4))[0]
    return DemoStation(
        station_id=station_id,
        name=name,
        address=address,
        lon=round(lon, 6),
        lat=round(lat, 6),
        capacity=rng.randint(10, 30),
        docks_disabled=disabled,
        ebike_share=rng.choice((0.0, 0.0, 0.1, 0.2, 0.3)),
        role=max(-1.0, min(1.0, 2.0 * distance / system.spread_km - 0.8)),
    )


def _noise(system: DemoSystem, station: DemoStation, keyframe: int) -> float:
    return random.Random(f"{system.seed}:{station.station_id}:{keyframe}").random()


def _fill(system: DemoSystem, station: DemoStation, bucket: int, local_hour: float) -> float:
    """The share of usable docks holding a bike: smooth in time, different per station."""
    keyframe, step = divmod(bucket, KEYFRAME_BUCKETS)
    t = step / KEYFRAME_BUCKETS
    t = t * t * (3.0 - 2.0 * t)  # smoothstep, so the walk has no kinks at keyframes
    noise = (1.0 - t) * _noise(system, station, keyframe) + t * _noise(system, station, keyframe + 1)
    # Residential docks are fullest at night (around 03:00) and emptiest mid-afternoon; central ones the reverse.
    commute = 0.3 * station.role * math.cos(2.0 * math.pi * (local_hour - 3.0) / 24.0)
    return max(0.0, min(1.0, 0.5 + commute + 0.7 * (noise - 0.5)))


def _outages(system: DemoSystem, stations: Sequence[DemoStation], day: int) -> dict[str, bool]:
    """Station id -> is_installed for the few stations out of service today (a new draw every UTC day)."""
    count = max(1, round(OUTAGE_SHARE * len(stations)))
    chosen = random.Random(f"{system.seed}:outages:{day}").sample(list(stations), count)
    return {station.station_id: index % 2 == 1 for index, station in enumerate(chosen)}


def station_states(system: DemoSystem, stations: Sequence[DemoStation], now: int) -> list[StationState]:
    """The availability of every station at POSIX time ``now``, in the order of ``stations``."""
    bucket = now // BUCKET_SECONDS
    local = datetime.fromtimestamp(now, ZoneInfo(system.timezone))
    local_hour = local.hour + local.minute / 60.0
    outages = _outages(system, stations, now // 86400)
    return [_state(system, station, bucket, local_hour, outages.get(station.station_id)) for station in stations]


def _state(
    system: DemoSystem, station: DemoStation, bucket: int, local_hour: float, outage: bool | None
) -> StationState:
    # Stations report a little before the bucket starts, each with its own lag; never after last_updated.
    lag = random.Random(f"{system.seed}:{station.station_id}:lag").randrange(1, BUCKET_SECONDS)
    reported = bucket * BUCKET_SECONDS - lag
    if outage is False:  # removed from the street: every dock counts as disabled
        return StationState(False, False, 0, 0, 0, station.capacity, reported)
    usable = station.capacity - station.docks_disabled
    bikes = round(_fill(system, station, bucket, local_hour) * usable)
    ebikes = min(bikes, round(bikes * station.ebike_share))
    return StationState(True, outage is None, bikes, ebikes, usable - bikes, station.docks_disabled, reported)


def _envelope(last_updated: int, ttl: int, data: Feed) -> Feed:
    return {"last_updated": last_updated, "ttl": ttl, "version": GBFS_VERSION, "data": data}


def _published(now: int) -> int:
    """Static files are republished once a day, so their last_updated only moves at midnight UTC."""
    return now - now % 86400


def discovery_feed(now: int, feed_url: Callable[[str], str]) -> Feed:
    """gbfs.json: the same feed list under every language, with absolute URLs."""
    feeds = [{"name": name, "url": feed_url(name)} for name in DISCOVERY_FEEDS]
    return _envelope(_published(now), STATIC_TTL, {language: {"feeds": feeds} for language in DISCOVERY_LANGUAGES})


def system_information_feed(system: DemoSystem, now: int) -> Feed:
    """system_information.json."""
    data: Feed = {
        "system_id": system.system_id,
        "language": system.language,
        "name": system.name,
        "operator": system.operator,
        "url": f"https://{system.system_id}.example.org/",
        "timezone": system.timezone,
        "license_url": LICENSE_URL,
        "feed_contact_email": f"post@{system.system_id}.example.org",
    }
    return _envelope(_published(now), STATIC_TTL, data)


def vehicle_types_feed(now: int) -> Feed:
    """vehicle_types.json: a plain city bike and an e-bike."""
    types: list[Feed] = [
        {"vehicle_type_id": "bike", "form_factor": "bicycle", "propulsion_type": "human", "name": "Bysykkel"},
        {
            "vehicle_type_id": "ebike",
            "form_factor": "bicycle",
            "propulsion_type": "electric_assist",
            "max_range_meters": 60000,
            "name": "Elsykkel",
        },
    ]
    return _envelope(_published(now), STATIC_TTL, {"vehicle_types": types})


def station_information_feed(system: DemoSystem, stations: Sequence[DemoStation], now: int) -> Feed:
    """station_information.json, in the shape of Oslo Bysykkel's."""
    return _envelope(_published(now), STATIC_TTL, {"stations": [_information(system, s) for s in stations]})


def _information(system: DemoSystem, station: DemoStation) -> Feed:
    uri = f"{system.system_id}://stations/{station.station_id}"
    return {
        "station_id": station.station_id,
        "name": station.name,
        "address": station.address,
        "rental_uris": {"android": uri, "ios": uri},
        "lat": station.lat,
        "lon": station.lon,
        "capacity": station.capacity,
    }


def station_status_feed(system: DemoSystem, stations: Sequence[DemoStation], now: int) -> Feed:
    """station_status.json at POSIX time ``now``."""
    states = station_states(system, stations, now)
    rows = [_status(station, state) for station, state in zip(stations, states, strict=True)]
    return _envelope(now, STATUS_TTL, {"stations": rows})


def _status(station: DemoStation, state: StationState) -> Feed:
    return {
        "station_id": station.station_id,
        "is_installed": state.is_installed,
        "is_renting": state.is_renting,
        "is_returning": state.is_installed,
        "last_reported": state.last_reported,
        "num_vehicles_available": state.bikes,
        "num_bikes_available": state.bikes,
        "num_docks_available": state.docks_available,
        "num_docks_disabled": state.docks_disabled,
        "vehicle_types_available": [
            {"vehicle_type_id": "bike", "count": state.bikes - state.ebikes},
            {"vehicle_type_id": "ebike", "count": state.ebikes},
        ],
    }


class _GbfsEndpoints:
    """Serves every feed of every system; the stations are built once per app, not per request."""

    def __init__(self, systems: Sequence[DemoSystem], clock: Clock) -> None:
        self._systems = {system.system_id: (system, build_stations(system)) for system in systems}
        self._clock = clock

    async def feed(self, request: Request) -> Response:
        system_id = str(request.path_params["system"])
        name = str(request.path_params["feed"])
        if system_id not in self._systems:
            raise HTTPException(404, f"unknown GBFS system {system_id!r}")
        system, stations = self._systems[system_id]
        now = int(self._clock())
        builders: Mapping[str, Callable[[], Feed]] = {
            "gbfs": lambda: discovery_feed(now, lambda feed: _feed_url(request, system_id, feed)),
            "system_information": lambda: system_information_feed(system, now),
            "vehicle_types": lambda: vehicle_types_feed(now),
            "station_information": lambda: station_information_feed(system, stations, now),
            "station_status": lambda: station_status_feed(system, stations, now),
        }
        if name not in builders:
            raise HTTPException(404, f"system {system_id!r} publishes no feed {name!r}")
        return Response(orjson.dumps(builders[name]()), media_type="application/json")


def _feed_url(request: Request, system_id: str, feed: str) -> str:
    return str(request.url_for("gbfs:feed", system=system_id, feed=feed))


def routes(systems: Sequence[DemoSystem], clock: Clock) -> Mount:
    """The ``/gbfs`` mount: ``/gbfs/{system}/{feed}.json``."""
    endpoints = _GbfsEndpoints(systems, clock)
    return Mount("/gbfs", routes=[Route("/{system}/{feed}.json", endpoints.feed, name="feed")], name="gbfs")


def sources(systems: Sequence[DemoSystem], base_url: str) -> list[tuple[str, dict[str, object]]]:
    """(city id, cities.toml source) for every system, pointing at a server reachable at ``base_url``."""
    base = base_url.rstrip("/")
    return [
        (
            system.city_id,
            {
                "id": f"{system.name.lower().replace(' ', '-')}-demo",
                "kind": "gbfs",
                "url": f"{base}/gbfs/{system.system_id}/gbfs.json",
                "schedule": "every 30s",
                "title": f"{system.name} (demo)",
            },
        )
        for system in systems
    ]
