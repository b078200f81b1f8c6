"""The simulated member-city server behind ``nordhub demo`` and the end-to-end tests.

It publishes deterministic, realistic open data for three Nordic cities from a clock that tests can inject. Each
source kind is one module contributing a route mount and the matching ``cities.toml`` sources (today only GBFS,
in :mod:`harvester.demo_city_gbfs`); adding CKAN, DCAT, NGSI-LD or datastore routes means adding one entry to
``_KINDS``. :class:`DemoCityServer` runs the app with uvicorn on a port the OS picks.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Self

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from harvester import demo_city_ckan, demo_city_datastore, demo_city_dcat, demo_city_gbfs, demo_city_ngsild
from harvester.demo_city_gbfs import DEMO_SYSTEMS, DemoSystem

__all__ = ["DEMO_SYSTEMS", "DemoCityServer", "DemoSystem", "build_app", "demo_sources"]

Clock = Callable[[], float]
Source = dict[str, object]
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class _SourceKind:
    """One kind of published source: its routes and the cities.toml entries that point at them."""

    routes: Callable[[Sequence[DemoSystem], Clock], BaseRoute]
    sources: Callable[[Sequence[DemoSystem], str], list[tuple[str, Source]]]


_KINDS: tuple[_SourceKind, ...] = (
    _SourceKind(demo_city_gbfs.routes, demo_city_gbfs.sources),
    _SourceKind(demo_city_datastore.routes, demo_city_datastore.sources),
    _SourceKind(demo_city_ngsild.routes, demo_city_ngsild.sources),
    _SourceKind(demo_city_ckan.routes, demo_city_ckan.sources),
    _SourceKind(demo_city_dcat.routes, demo_city_dcat.sources),
)


def demo_sources(base_url: str) -> dict[str, list[dict[str, object]]]:
    """City id -> the ``cities.toml`` sources a hub needs to harvest a demo server at ``base_url``."""
    cities: dict[str, list[Source]] = {system.city_id: [] for system in DEMO_SYSTEMS}
    for kind in _KINDS:
        for city_id, source in kind.sources(DEMO_SYSTEMS, base_url):
            cities.setdefault(city_id, []).append(source)
    return cities


def _json(payload: object, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


async def _http_error(request: Request, exc: Exception) -> Response:
    """The one shape of every error body the demo server sends."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    return _json(body, status)


async def _index(request: Request) -> Response:
    base_url = str(request.base_url).rstrip("/")
    systems = [
        {"city_id": s.city_id, "system_id": s.system_id, "name": s.name, "stations": s.station_count}
        for s in DEMO_SYSTEMS
    ]
    return _json({"name": "Nordhub demo city", "systems": systems, "sources": demo_sources(base_url)})


def build_app(clock: Clock = time.time) -> Starlette:
    """The demo city's ASGI app; every time-dependent answer is a function of ``clock()``."""
    routes: list[BaseRoute] = [Route("/", _index, name="index")]
    routes += [kind.routes(DEMO_SYSTEMS, clock) for kind in _KINDS]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})


def _client_host(host: str) -> str:
    """Where a client on this machine reaches a server bound to ``host`` (wildcards become loopback)."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


class DemoCityServer:
    """The demo app served by uvicorn in a daemon thread, on a port the OS picks unless one is given."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, clock: Clock = time.time) -> None:
        self._host = host
        self._port = port
        self._clock = clock
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound; only known once started."""
        if self._socket is None:
            raise RuntimeError("the demo city server is not running")
        return int(self._socket.getsockname()[1])

    @property
    def base_url(self) -> str:
        """``http://<host>:<port>`` of the running server."""
        host = _client_host(self._host)
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def start(self) -> None:
        """Bind, serve in a daemon thread and return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the demo city server is already running")
        # Binding here, not in uvicorn, makes the port known before the thread starts and a bind error ours.
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.bind((self._host, self._port))
        except OSError as exc:
            sock.close()
            raise RuntimeError(f"cannot bind the demo city server to {self._host}:{self._port}: {exc}") from exc
        config = uvicorn.Config(
            build_app(self._clock), lifespan="off", ws="none", http="h11", log_level="warning", access_log=False
        )
        self._socket, self._server = sock, uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="demo-city-server", daemon=True
        )
        self._thread.start()
        self._wait_until_serving(self._server, self._thread)

    def _wait_until_serving(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and thread.is_alive():
            if server.started and self._accepts_connections():
                return
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"the demo city server did not start within {START_TIMEOUT:.0f} s")

    def _accepts_connections(self) -> bool:
        try:
            with socket.create_connection((_client_host(self._host), self.port), timeout=1.0):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """Ask uvicorn to finish, wait for the thread (forcing it after a while) and release the port."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(STOP_TIMEOUT)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(STOP_TIMEOUT)
        if self._socket is not None:
            self._socket.close()
        self._socket = self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
