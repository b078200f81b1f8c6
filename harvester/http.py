"""The hub's one HTTP client for talking to city endpoints.

Explicit timeouts, a User-Agent naming the hub and its operator, a response-size cap enforced while streaming,
retries with exponential backoff and jitter on connection errors, 429 and 5xx (honouring ``Retry-After``), and an
SSRF guard that resolves every target, redirects included, and refuses loopback, private, link-local, multicast,
reserved and unspecified addresses unless the host is allow-listed. httpx's exceptions are translated here, once,
into the hub's own (``hub.errors``). The transport and the resolver are injectable so tests never touch a network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from hub import __version__
from hub.errors import (
    ForbiddenTarget,
    PayloadTooLarge,
    SourceHTTPError,
    SourceTimeout,
    SourceUnreachable,
)
from hub.settings import Settings

Resolver = Callable[[str, int], Awaitable[list[str]]]
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 120.0


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One successful fetch: final URL, status, the headers that matter and the body."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    elapsed: float

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve a host name to its IP addresses with the event loop's resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


class HttpClient:
    """Fetches URLs politely and safely; one instance per harvest process."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = system_resolver,
        allow_hosts: Iterable[str] = (),
        max_retries: int = 3,
        backoff_base: float = 0.5,
    ) -> None:
        self._settings = settings
        self._resolver = resolver
        self._allow = {h.lower() for h in (*settings.http_allow_hosts, *allow_hosts)}
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        timeout = httpx.Timeout(settings.http_read_timeout, connect=settings.http_connect_timeout)
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,  # redirects are followed here, so every hop passes the SSRF guard
            headers={"User-Agent": f"Nordhub/{__version__} (+{settings.base_url}; {settings.contact})"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def get(self, url: str, headers: Mapping[str, str] | None = None) -> FetchResult:
        """GET ``url`` following redirects, with retries; raises the hub's HarvestError subclasses."""
        for attempt in range(self._max_retries + 1):
            try:
                return await self._get_following(url, dict(headers or {}))
            except _Retryable as exc:
                if attempt == self._max_retries:
                    raise exc.error from exc
                await asyncio.sleep(self._delay(attempt, exc.retry_after))
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        return self._backoff_base * (2.0**attempt) * (0.5 + random.random())  # full jitter around the backoff

    async def _get_following(self, url: str, headers: dict[str, str]) -> FetchResult:
        seen: list[str] = []
        current = url
        while True:
            await self.check_target(current)
            response = await self._send(current, headers)
            if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
                seen.append(current)
                current = urljoin(current, response.headers["location"])
                if current in seen or len(seen) > MAX_REDIRECTS:
                    raise SourceHTTPError(
                        f"GET {url}: too many redirects or a redirect loop ({len(seen)} hops)", http_status=310
                    )
                continue
            return response_result(current, response)

    async def check_target(self, url: str) -> None:
        """Refuse non-http(s) URLs and hosts that resolve to non-public addresses (unless allow-listed)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ForbiddenTarget(f"{url}: only absolute http and https URLs can be harvested")
        host = parts.hostname.lower()
        if host in self._allow:
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = [host] if _is_ip(host) else await self._resolver(host, port)
        except OSError as exc:
            raise SourceUnreachable(f"GET {url}: cannot resolve host {host!r} ({exc})") from exc
        refused = [a for a in addresses if a.split("%")[0].lower() not in self._allow and not _is_public(a)]
        if refused or not addresses:
            raise ForbiddenTarget(
                f"{url}: host {host!r} resolves to a non-public address ({', '.join(refused) or 'none'}); "
                "allow-list it in NORDHUB_HTTP_ALLOW_HOSTS if this is intended"
            )

    async def _send(self, url: str, headers: dict[str, str]) -> _Response:
        started = time.perf_counter()
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                body = await self._read_capped(url, response)
        except httpx.TimeoutException as exc:
            raise _Retryable(SourceTimeout(f"GET {url}: timed out ({type(exc).__name__})")) from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise _Retryable(SourceUnreachable(f"GET {url}: {type(exc).__name__}: {exc}")) from exc
        result = _Response(response.status_code, response.headers, body, time.perf_counter() - started)
        if response.status_code in RETRY_STATUSES:
            raise _Retryable(
                SourceHTTPError(f"GET {url}: HTTP {response.status_code}", http_status=response.status_code),
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
        return result

    async def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        cap = self._settings.http_max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise PayloadTooLarge(f"GET {url}: declared body of {declared} bytes exceeds the cap of {cap}")
        chunks: list[bytes] = []
        size = 0
        # aiter_bytes decompresses: the cap therefore also bounds the decompressed size (gzip bombs).
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise PayloadTooLarge(f"GET {url}: body exceeds the cap of {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class _Response:
    status_code: int
    headers: httpx.Headers
    content: bytes
    elapsed: float


class _Retryable(Exception):
    """Internal: a failure worth another attempt, carrying the error to raise when attempts run out."""

    def __init__(self, error: Exception, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


KEPT_HEADERS = ("content-type", "etag", "last-modified", "content-length", "link")


def response_result(url: str, response: _Response) -> FetchResult:
    """Translate a final response into a FetchResult, or a SourceHTTPError for a non-success status."""
    if response.status_code >= 400:
        raise SourceHTTPError(f"GET {url}: HTTP {response.status_code}", http_status=response.status_code)
    headers = {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers}
    return FetchResult(url, response.status_code, headers, response.content, response.elapsed)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
