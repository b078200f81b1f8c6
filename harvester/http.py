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
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx
from httpx_aiohttp import AiohttpTransport

from harvester.fetchlog import Fetched, current_session
from hub import __version__
from hub.errors import (
    ForbiddenTarget,
    PayloadInvalid,
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
# Only the codings decoded here (with a size bound and a truncation check) are advertised.
ACCEPT_ENCODING = "gzip, deflate"
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
# Credentials meant for one origin are not forwarded to another one by a redirect (as httpx itself does).
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One successful fetch: final URL, status, the headers that matter and the body."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    elapsed: float
    not_modified: bool = False  # a 304 answered a conditional GET: content is the stored payload

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
    # is_global also excludes the shared address space 100.64.0.0/10, which is_private misses (cloud metadata).
    return ip.is_global and not (
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
        self._hosts: dict[str, _HostSlot] = {}
        self._client = httpx.AsyncClient(
            # httpx's own transport falls off above ~4 concurrent requests here (bench/fetch.py: ~560 req/s at
            # concurrency 20, against ~2,400 through httpx-aiohttp and ~8,900 for bare aiohttp), so the real
            # transport is aiohttp's behind httpx's API; tests inject their own.
            transport=transport if transport is not None else AiohttpTransport(),
            timeout=timeout,
            follow_redirects=False,  # redirects are followed here, so every hop passes the SSRF guard
            headers={
                "User-Agent": f"Nordhub/{__version__} (+{settings.base_url}; {settings.contact})",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def get(self, url: str, headers: Mapping[str, str] | None = None) -> FetchResult:
        """GET ``url`` following redirects, with retries; raises the hub's HarvestError subclasses.

        Inside a run's fetch session the GET is conditional on the previous good payload (a 304 returns that
        payload with ``not_modified=True``), a re-import answers from stored payloads without any request, and
        every fetch is recorded.
        """
        session = current_session()
        if session is not None and session.replay is not None:
            stored = session.replayed(url)
            return FetchResult(stored.url, 200, dict(stored.headers), stored.content, 0.0)
        request_headers = dict(headers or {})
        previous = session.previous.get(url) if session is not None else None
        if previous is not None:
            request_headers.update(previous.validators)
        result = await self._get_retrying(url, request_headers)
        if result.status == 304 and previous is not None:
            result = FetchResult(previous.url, 200, dict(previous.headers), previous.content, result.elapsed, True)
        if session is not None:
            session.fetched.append(Fetched.of(url, result.url, result.headers, result.content, result.not_modified))
        return result

    async def _get_retrying(self, url: str, headers: dict[str, str]) -> FetchResult:
        for attempt in range(self._max_retries + 1):
            try:
                return await self._get_following(url, dict(headers))
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
                if _origin(current) != _origin(seen[-1]):
                    headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIAL_HEADERS}
                if current in seen or len(seen) > MAX_REDIRECTS:
                    raise SourceHTTPError(
                        f"GET {url}: too many redirects or a redirect loop ({len(seen)} hops)", http_status=310
                    )
                continue
            return response_result(current, response)

    async def check_target(self, url: str) -> None:
        """Refuse non-http(s) URLs and hosts that resolve to non-public addresses (unless allow-listed)."""
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:  # a malformed IPv6 literal or port
            raise ForbiddenTarget(f"{url}: not a valid URL ({exc})") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ForbiddenTarget(f"{url}: only absolute http and https URLs can be harvested")
        host = parts.hostname.lower()
        if host in self._allow:
            return
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

    def _slot(self, url: str) -> _HostSlot:
        host = urlsplit(url).netloc.lower()
        if host not in self._hosts:
            self._hosts[host] = _HostSlot(self._settings.http_per_host, self._settings.http_politeness)
        return self._hosts[host]

    async def _send(self, url: str, headers: dict[str, str]) -> _Response:
        started = time.perf_counter()
        try:
            async with self._slot(url), self._client.stream("GET", url, headers=headers) as response:
                body = await self._read_capped(url, response)
        except httpx.TimeoutException as exc:
            raise _Retryable(SourceTimeout(f"GET {url}: timed out ({type(exc).__name__})")) from exc
        except httpx.TransportError as exc:
            raise _Retryable(SourceUnreachable(f"GET {url}: {type(exc).__name__}: {exc}")) from exc
        except httpx.DecodingError as exc:  # only from in-memory responses, which httpx decodes when built
            raise PayloadInvalid(f"GET {url}: corrupt body ({exc})") from exc
        result = _Response(response.status_code, response.headers, body, time.perf_counter() - started)
        if response.status_code in RETRY_STATUSES:
            raise _Retryable(
                SourceHTTPError(f"GET {url}: HTTP {response.status_code}", http_status=response.status_code),
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
        return result

    async def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        cap = self._settings.http_max_bytes
        declared = _ascii_int(response.headers.get("content-length"))
        if declared is not None and declared > cap:
            raise PayloadTooLarge(f"GET {url}: declared body of {declared} bytes exceeds the cap of {cap}")
        if response.is_stream_consumed:  # an in-memory response (mock transports) arrives read and decoded
            if len(response.content) > cap:
                raise PayloadTooLarge(f"GET {url}: body exceeds the cap of {cap} bytes")
            return response.content
        decoder = _Decoder(url, response.headers.get("content-encoding", ""))
        chunks: list[bytes] = []
        size = 0
        # The body is decoded here rather than by httpx so that decompression itself stops at the cap (gzip bombs)
        # and a truncated compressed stream is an error instead of a silently shortened body.
        async for raw in response.aiter_raw():
            chunk = decoder.decode(raw, cap - size)
            size += len(chunk)
            if size > cap:
                raise PayloadTooLarge(f"GET {url}: body exceeds the cap of {cap} bytes")
            chunks.append(chunk)
        decoder.finish()
        return b"".join(chunks)


class _Decoder:
    """Incremental gzip/deflate decoding that never inflates more than asked and notices truncation."""

    def __init__(self, url: str, encoding: str) -> None:
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip().lower() not in ("", "identity")]
        self._url = url
        self._encoding = encoding
        self._supported = len(codings) <= 1 and all(c in _WBITS for c in codings)
        self._coding = codings[0] if codings and self._supported else None
        self._zlib = zlib.decompressobj(_WBITS[self._coding]) if self._coding else None
        self._received = False

    def decode(self, data: bytes, limit: int) -> bytes:
        """Decode the next raw chunk into at most ``limit + 1`` bytes: one more than the caller accepts."""
        if not self._supported and data:  # an empty body (304, redirects) needs no decoding
            raise PayloadInvalid(f"GET {self._url}: unsupported Content-Encoding {self._encoding!r}")
        if self._zlib is None or not data:
            return data
        first, self._received = not self._received, True
        try:
            return self._zlib.decompress(data, max(limit, 0) + 1)
        except zlib.error as exc:
            if first and self._coding == "deflate":  # some servers send raw deflate without the zlib header
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.decode(data, limit)
            raise PayloadInvalid(f"GET {self._url}: corrupt {self._coding} body ({exc})") from exc

    def finish(self) -> None:
        """Refuse a compressed body whose stream ended before its end marker."""
        if self._zlib is not None and self._received and not self._zlib.eof:
            raise PayloadInvalid(f"GET {self._url}: truncated {self._coding} body")


class _HostSlot:
    """Per-host politeness: at most ``limit`` requests at once, starts at least ``interval`` seconds apart."""

    def __init__(self, limit: int, interval: float) -> None:
        self._semaphore = asyncio.Semaphore(limit)
        self._interval = interval
        self._next_start = 0.0

    async def __aenter__(self) -> None:
        await self._semaphore.acquire()
        if self._interval > 0:
            loop = asyncio.get_running_loop()
            wait = self._next_start - loop.time()
            self._next_start = max(self._next_start, loop.time()) + self._interval
            if wait > 0:
                await asyncio.sleep(wait)

    async def __aexit__(self, *_exc: object) -> None:
        self._semaphore.release()


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
        raise SourceHTTPError(
            f"GET {url}: HTTP {response.status_code}{_excerpt(response.content)}", http_status=response.status_code
        )
    headers = {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers}
    return FetchResult(url, response.status_code, headers, response.content, response.elapsed)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    seconds = _ascii_int(value)
    if seconds is not None:
        return float(seconds)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _ascii_int(value: str | None) -> int | None:
    # str.isdigit alone accepts "²", which int() then rejects: a hostile header must not crash the client.
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _origin(url: str) -> tuple[str, str]:
    # netloc rather than hostname and port: those raise on a malformed port, which check_target reports instead.
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.rpartition("@")[2].lower()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _excerpt(body: bytes, limit: int = 200) -> str:
    """The start of an error body (CKAN and NGSI-LD brokers explain themselves there), on one printable line."""
    text = body[:limit].decode("utf-8", errors="replace")
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if not text:
        return ""
    return f": {text}{'…' if len(body) > limit else ''}"
