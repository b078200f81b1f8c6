"""The one HTTP client (harvester/http.py): timeouts and User-Agent, retries, the size cap, the SSRF guard and
redirects. Nothing here touches a network: every test injects ``httpx.MockTransport`` and a fake resolver."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import json
import socket
import zlib
from collections.abc import Callable, Mapping, Sequence
from email.utils import formatdate

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harvester import http as http_module
from harvester.http import MAX_REDIRECTS, MAX_RETRY_AFTER, FetchResult, HttpClient
from hub import __version__
from hub.errors import (
    ForbiddenTarget,
    HarvestError,
    PayloadInvalid,
    PayloadTooLarge,
    SourceHTTPError,
    SourceTimeout,
    SourceUnreachable,
)
from hub.settings import Settings

pytestmark = pytest.mark.anyio

PUBLIC_IP = "93.184.215.14"
OTHER_PUBLIC_IP = "151.101.1.69"
URL = "http://data.city.example/feeds/gbfs.json"
CAP = 1000
T0 = 1_763_900_000.0  # a fixed "now" for HTTP-date Retry-After values

Handler = Callable[[httpx.Request], httpx.Response]


# --- fakes -------------------------------------------------------------------------------------------------------


class Server:
    """An ``httpx.MockTransport`` handler that records every request it receives."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._handler(request)

    @property
    def urls(self) -> list[str]:
        return [str(request.url) for request in self.requests]


def replies(*factories: Handler) -> Server:
    """A server answering the n-th request with the n-th factory (the last one repeats)."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return factories[min(calls, len(factories)) - 1](request)

    return Server(handler)


def ok(body: bytes = b"{}", **headers: str) -> Handler:
    return lambda _request: httpx.Response(200, content=body, headers=headers)


def status(code: int, **headers: str) -> Handler:
    return lambda _request: httpx.Response(code, content=b"error", headers=headers)


def raises(exc_type: type[httpx.TransportError], message: str = "boom") -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)

    return handler


def routes(table: Mapping[str, Handler]) -> Server:
    """A server answering by exact URL; an unknown URL is a test failure."""

    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        assert url in table, f"unexpected request to {url}"
        return table[url](request)

    return Server(handler)


def redirect(location: str, code: int = 302) -> Handler:
    return lambda _request: httpx.Response(code, headers={"Location": location})


class ChunkStream(httpx.AsyncByteStream):
    """A response body that arrives in chunks, as from a socket, and counts what was read from it."""

    def __init__(self, chunks: Sequence[bytes]) -> None:
        self.chunks = list(chunks)
        self.sent = 0
        self.closed = False

    def __aiter__(self) -> ChunkStream:
        return self

    async def __anext__(self) -> bytes:
        if self.sent == len(self.chunks):
            raise StopAsyncIteration
        self.sent += 1
        return self.chunks[self.sent - 1]

    async def aclose(self) -> None:
        self.closed = True


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


class FakeResolver:
    """Maps host names to addresses (default: one public address) and records every lookup."""

    def __init__(self, table: Mapping[str, Sequence[str] | OSError] | None = None) -> None:
        self.table = dict(table or {})
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        answer = self.table.get(host, [PUBLIC_IP])
        if isinstance(answer, OSError):
            raise answer
        return list(answer)


def make_settings(**values: object) -> Settings:
    base: dict[str, object] = {"contact": "ops@nordhub.example", "base_url": "https://hub.nordhub.example"}
    return Settings(**{**base, **values})  # type: ignore[arg-type]


def make_client(
    server: Server,
    *,
    resolver: FakeResolver | None = None,
    settings: Settings | None = None,
    **options: object,
) -> HttpClient:
    return HttpClient(
        settings or make_settings(),
        transport=httpx.MockTransport(server),
        resolver=resolver or FakeResolver(),
        backoff_base=0,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays the client waits between attempts, recorded instead of slept."""
    delays: list[float] = []
    real_sleep = asyncio.sleep

    async def record(delay: float) -> None:
        delays.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(http_module.asyncio, "sleep", record)
    return delays


# --- success -----------------------------------------------------------------------------------------------------


async def test_success_returns_body_status_url_and_only_the_kept_headers() -> None:
    body = b'{"data": {"en": {"feeds": []}}}'
    server = replies(
        ok(
            body,
            **{
                "Content-Type": "application/json; charset=utf-8",
                "ETag": '"v42"',
                "Last-Modified": "Sun, 23 Nov 2025 12:00:00 GMT",
                "X-Internal": "secret",
                "Set-Cookie": "session=1",
            },
        )
    )
    async with make_client(server) as client:
        result = await client.get(URL)

    assert result.url == URL
    assert result.status == 200
    assert result.content == body
    assert dict(result.headers) == {
        "content-type": "application/json; charset=utf-8",
        "etag": '"v42"',
        "last-modified": "Sun, 23 Nov 2025 12:00:00 GMT",
        "content-length": str(len(body)),
    }
    assert result.content_type == "application/json"
    assert result.elapsed >= 0
    assert server.urls == [URL]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/geo+json", "application/geo+json"),
        ("Application/JSON ; charset=UTF-8", "application/json"),
        ("", ""),
        (None, ""),
    ],
)
def test_content_type_is_the_bare_lowercase_media_type(header: str | None, expected: str) -> None:
    headers = {} if header is None else {"content-type": header}
    result = FetchResult(URL, 200, headers, b"", 0.0)
    assert result.content_type == expected


async def test_user_agent_names_the_hub_version_and_the_operator_contact() -> None:
    server = replies(ok())
    settings = make_settings(contact="opendata@tampere.example", base_url="https://hub.tampere.example")
    async with make_client(server, settings=settings) as client:
        await client.get(URL)

    (request,) = server.requests
    agent = request.headers["user-agent"]
    assert agent.startswith(f"Nordhub/{__version__} ")
    assert "opendata@tampere.example" in agent
    assert "https://hub.tampere.example" in agent
    assert request.headers["accept-encoding"] == "gzip, deflate"


async def test_caller_headers_are_sent_with_the_request() -> None:
    server = replies(status(304, ETag='"v1"'))
    async with make_client(server) as client:
        result = await client.get(URL, {"If-None-Match": '"v1"', "X-Api-Key": "k"})

    (request,) = server.requests
    assert request.headers["if-none-match"] == '"v1"'
    assert request.headers["x-api-key"] == "k"
    assert (result.status, result.headers["etag"]) == (304, '"v1"')


async def test_timeouts_come_from_the_settings() -> None:
    server = replies(ok())
    settings = make_settings(http_connect_timeout=1.5, http_read_timeout=7.0)
    async with make_client(server, settings=settings) as client:
        await client.get(URL)

    timeout = server.requests[0].extensions["timeout"]
    assert timeout == {"connect": 1.5, "read": 7.0, "write": 7.0, "pool": 7.0}


# --- retries -----------------------------------------------------------------------------------------------------


async def test_a_500_then_a_200_succeeds_after_two_requests(sleeps: list[float]) -> None:
    server = replies(status(500), ok(b"second"))
    async with make_client(server) as client:
        result = await client.get(URL)

    assert (result.status, result.content) == (200, b"second")
    assert server.urls == [URL, URL]
    assert sleeps == [0.0]  # backoff_base=0


@pytest.mark.parametrize("code", [429, 500, 502, 503, 504])
async def test_every_retryable_status_is_retried(code: int, sleeps: list[float]) -> None:
    server = replies(status(code), ok(b"fine"))
    async with make_client(server) as client:
        result = await client.get(URL)

    assert result.content == b"fine"
    assert len(server.requests) == 2
    assert len(sleeps) == 1


async def test_retry_after_seconds_is_the_delay(sleeps: list[float]) -> None:
    server = replies(status(503, **{"Retry-After": "7"}), ok())
    async with make_client(server) as client:
        result = await client.get(URL)

    assert result.status == 200
    assert sleeps == [7.0]
    assert len(server.requests) == 2


async def test_retry_after_http_date_on_429_is_the_seconds_until_then(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_module.time, "time", lambda: T0)
    server = replies(status(429, **{"Retry-After": formatdate(T0 + 42, usegmt=True)}), ok())
    async with make_client(server) as client:
        result = await client.get(URL)

    assert result.status == 200
    assert sleeps == [42.0]


async def test_retry_after_in_the_past_means_no_wait(sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_module.time, "time", lambda: T0)
    server = replies(status(503, **{"Retry-After": formatdate(T0 - 3600, usegmt=True)}), ok())
    async with make_client(server) as client:
        await client.get(URL)

    assert sleeps == [0.0]


async def test_retry_after_is_capped(sleeps: list[float]) -> None:
    server = replies(status(503, **{"Retry-After": "86400"}), ok())
    async with make_client(server) as client:
        await client.get(URL)

    assert sleeps == [MAX_RETRY_AFTER]


@pytest.mark.parametrize("value", [b"soon", b"1.5", b"-3", "\u00b2".encode("latin-1")])
async def test_unparseable_retry_after_falls_back_to_the_backoff(value: bytes, sleeps: list[float]) -> None:
    # "\u00b2" ("²") passes str.isdigit() but not int(): it used to escape as a raw ValueError.
    server = replies(lambda _r: httpx.Response(503, headers=[(b"Retry-After", value)]), ok(b"after"))
    async with make_client(server) as client:
        result = await client.get(URL)

    assert result.content == b"after"
    assert sleeps == [0.0]


async def test_backoff_doubles_with_each_attempt(sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_module.random, "random", lambda: 0.5)  # the jitter factor becomes exactly 1
    server = replies(status(502))
    client = HttpClient(
        make_settings(), transport=httpx.MockTransport(server), resolver=FakeResolver(), backoff_base=0.25
    )
    async with client:
        with pytest.raises(SourceHTTPError):
            await client.get(URL)

    assert sleeps == [0.25, 0.5, 1.0]


async def test_a_persistent_503_fails_after_one_request_plus_three_retries(sleeps: list[float]) -> None:
    server = replies(status(503))
    async with make_client(server) as client:
        with pytest.raises(SourceHTTPError) as caught:
            await client.get(URL)

    assert caught.value.http_status == 503
    assert URL in str(caught.value)
    assert "HTTP 503" in str(caught.value)
    assert len(server.requests) == 4
    assert sleeps == [0.0, 0.0, 0.0]


async def test_max_retries_bounds_the_attempts(sleeps: list[float]) -> None:
    server = replies(status(500))
    async with make_client(server, max_retries=0) as client:
        with pytest.raises(SourceHTTPError) as caught:
            await client.get(URL)

    assert caught.value.http_status == 500
    assert len(server.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize("code", [400, 401, 403, 404, 410, 451])
async def test_a_client_error_fails_at_once_without_retry(code: int, sleeps: list[float]) -> None:
    server = replies(status(code), ok())
    async with make_client(server) as client:
        with pytest.raises(SourceHTTPError) as caught:
            await client.get(URL)

    assert caught.value.http_status == code
    assert f"GET {URL}: HTTP {code}" in str(caught.value)
    assert len(server.requests) == 1
    assert sleeps == []


# --- transport errors --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("exc_type", [httpx.ConnectTimeout, httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout])
async def test_timeouts_become_source_timeout_after_the_retries(
    exc_type: type[httpx.TimeoutException], sleeps: list[float]
) -> None:
    server = replies(raises(exc_type))
    async with make_client(server) as client:
        with pytest.raises(SourceTimeout) as caught:
            await client.get(URL)

    assert URL in str(caught.value)
    assert exc_type.__name__ in str(caught.value)
    assert len(server.requests) == 4
    assert len(sleeps) == 3


@pytest.mark.parametrize(
    ("exc_type", "message"),
    [
        (httpx.ConnectError, "[Errno 111] Connection refused"),
        (httpx.RemoteProtocolError, "Server disconnected without sending a response."),
        (httpx.ReadError, "[Errno 104] Connection reset by peer"),
    ],
)
async def test_connection_failures_become_source_unreachable_after_the_retries(
    exc_type: type[httpx.TransportError], message: str, sleeps: list[float]
) -> None:
    server = replies(raises(exc_type, message))
    async with make_client(server) as client:
        with pytest.raises(SourceUnreachable) as caught:
            await client.get(URL)

    assert URL in str(caught.value)
    assert exc_type.__name__ in str(caught.value)
    assert message in str(caught.value)
    assert len(server.requests) == 4
    assert len(sleeps) == 3


async def test_a_transient_connection_reset_is_retried(sleeps: list[float]) -> None:
    server = replies(raises(httpx.RemoteProtocolError, "Connection reset by peer"), ok(b"ok"))
    async with make_client(server) as client:
        result = await client.get(URL)

    assert result.content == b"ok"
    assert len(server.requests) == 2
    assert sleeps == [0.0]


# --- size cap ----------------------------------------------------------------------------------------------------


async def test_a_declared_length_above_the_cap_is_refused_without_reading_the_body() -> None:
    body = ChunkStream([b"x" * 600, b"x" * 600])
    server = replies(lambda _r: httpx.Response(200, stream=body, headers={"Content-Length": "1200"}))
    async with make_client(server, settings=make_settings(http_max_bytes=CAP)) as client:
        with pytest.raises(PayloadTooLarge) as caught:
            await client.get(URL)

    assert URL in str(caught.value)
    assert "declared body of 1200 bytes" in str(caught.value)
    assert f"cap of {CAP}" in str(caught.value)
    assert body.sent == 0
    assert body.closed
    assert len(server.requests) == 1  # not retried


async def test_a_streamed_body_above_the_cap_is_cut_off() -> None:
    body = ChunkStream([b"y" * 200] * 20)  # 4000 bytes, no Content-Length
    server = replies(lambda _r: httpx.Response(200, stream=body))
    async with make_client(server, settings=make_settings(http_max_bytes=CAP)) as client:
        with pytest.raises(PayloadTooLarge) as caught:
            await client.get(URL)

    assert URL in str(caught.value)
    assert f"body exceeds the cap of {CAP} bytes" in str(caught.value)
    assert body.sent == 6  # stopped at the first chunk past the cap, not read to the end
    assert body.closed
    assert len(server.requests) == 1


@pytest.mark.parametrize(("size", "fits"), [(CAP - 1, True), (CAP, True), (CAP + 1, False)])
async def test_the_cap_is_inclusive(size: int, fits: bool) -> None:
    server = replies(lambda _r: httpx.Response(200, stream=ChunkStream(split(b"z" * size, 300))))
    async with make_client(server, settings=make_settings(http_max_bytes=CAP)) as client:
        if fits:
            assert (await client.get(URL)).content == b"z" * size
        else:
            with pytest.raises(PayloadTooLarge):
                await client.get(URL)


async def test_an_in_memory_body_above_the_cap_without_content_length_is_refused() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        response = httpx.Response(200, content=b"w" * (CAP + 1))
        del response.headers["content-length"]
        return response

    async with make_client(replies(handler), settings=make_settings(http_max_bytes=CAP)) as client:
        with pytest.raises(PayloadTooLarge, match="body exceeds the cap of 1000 bytes"):
            await client.get(URL)


BOMB = gzip.compress(b"\0" * 500_000)


def test_the_gzip_bomb_is_small_and_inflates_far_past_the_cap() -> None:
    assert len(BOMB) < CAP < len(gzip.decompress(BOMB))


async def test_a_streamed_gzip_bomb_is_refused() -> None:
    body = ChunkStream(split(BOMB, 100))
    server = replies(lambda _r: httpx.Response(200, stream=body, headers={"Content-Encoding": "gzip"}))
    async with make_client(server, settings=make_settings(http_max_bytes=CAP)) as client:
        with pytest.raises(PayloadTooLarge) as caught:
            await client.get(URL)

    assert URL in str(caught.value)
    assert f"cap of {CAP}" in str(caught.value)
    assert body.sent < len(body.chunks)  # refused while inflating, long before the end
    assert len(server.requests) == 1


async def test_a_gzip_bomb_with_a_small_declared_length_is_refused() -> None:
    server = replies(ok(BOMB, **{"Content-Encoding": "gzip"}))
    async with make_client(server, settings=make_settings(http_max_bytes=CAP)) as client:
        with pytest.raises(PayloadTooLarge, match="exceeds the cap of 1000"):
            await client.get(URL)


async def test_decompression_never_produces_more_than_the_cap_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    produced: list[int] = []
    real = zlib.decompressobj

    class Spy:
        def __init__(self, wbits: int) -> None:
            self._inner = real(wbits)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self._inner.decompress(data, max_length)
            produced.append(len(out))
            return out

        @property
        def eof(self) -> bool:
            return self._inner.eof

    monkeypatch.setattr(http_module.zlib, "decompressobj", Spy)
    server = replies(lambda _r: httpx.Response(200, stream=ChunkStream([BOMB]), headers={"Content-Encoding": "gzip"}))
    async with make_client(server, settings=make_settings(http_max_bytes=CAP)) as client:
        with pytest.raises(PayloadTooLarge):
            await client.get(URL)

    assert produced == [CAP + 1]  # one chunk of 518 bytes would otherwise inflate to 500,000


PAYLOAD = json.dumps({"data": {"stations": [{"station_id": str(i), "capacity": i % 30} for i in range(300)]}}).encode()


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        ("gzip", gzip.compress(PAYLOAD)),
        ("x-gzip", gzip.compress(PAYLOAD)),
        ("GZIP", gzip.compress(PAYLOAD)),
        ("deflate", zlib.compress(PAYLOAD)),
        ("deflate", raw_deflate(PAYLOAD)),
        ("identity", PAYLOAD),
    ],
    ids=["gzip", "x-gzip", "upper-case", "zlib-deflate", "raw-deflate", "identity"],
)
async def test_compressed_bodies_arriving_in_chunks_are_decoded(encoding: str, encoded: bytes) -> None:
    server = replies(
        lambda _r: httpx.Response(200, stream=ChunkStream(split(encoded, 37)), headers={"Content-Encoding": encoding})
    )
    async with make_client(server, settings=make_settings(http_max_bytes=len(PAYLOAD))) as client:
        result = await client.get(URL)

    assert result.content == PAYLOAD


async def test_an_empty_body_with_a_content_encoding_is_accepted() -> None:
    server = replies(lambda _r: httpx.Response(304, stream=ChunkStream([]), headers={"Content-Encoding": "gzip"}))
    async with make_client(server) as client:
        result = await client.get(URL, {"If-None-Match": '"v1"'})

    assert (result.status, result.content) == (304, b"")


GZIPPED = gzip.compress(PAYLOAD)


@pytest.mark.parametrize(
    "truncated",
    [GZIPPED[: len(GZIPPED) // 2], GZIPPED[:-8], GZIPPED[:5]],
    ids=["half", "no-trailer", "header-only"],
)
async def test_a_truncated_gzip_body_is_a_hub_error(truncated: bytes, sleeps: list[float]) -> None:
    server = replies(
        lambda _r: httpx.Response(200, stream=ChunkStream(split(truncated, 64)), headers={"Content-Encoding": "gzip"})
    )
    async with make_client(server) as client:
        with pytest.raises(PayloadInvalid) as caught:
            await client.get(URL)

    assert URL in str(caught.value)
    assert "truncated gzip body" in str(caught.value)
    assert len(server.requests) == 1


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "in-memory"])
async def test_a_corrupt_gzip_body_is_a_hub_error(streamed: bool) -> None:
    corrupt = b"\x1f\x8b\x08\x00" + b"definitely not deflate data" * 4

    def handler(_request: httpx.Request) -> httpx.Response:
        headers = {"Content-Encoding": "gzip"}
        if streamed:
            return httpx.Response(200, stream=ChunkStream([corrupt]), headers=headers)
        return httpx.Response(200, content=corrupt, headers=headers)  # httpx decodes this one itself

    server = replies(handler)
    async with make_client(server) as client:
        with pytest.raises(PayloadInvalid) as caught:
            await client.get(URL)

    assert URL in str(caught.value)
    assert "corrupt" in str(caught.value)
    assert not isinstance(caught.value.__cause__, HarvestError)
    assert len(server.requests) == 1


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, gzip", "compress"])
async def test_an_unsupported_content_encoding_is_refused(encoding: str) -> None:
    server = replies(
        lambda _r: httpx.Response(200, stream=ChunkStream([b"\x00\x01"]), headers={"Content-Encoding": encoding})
    )
    async with make_client(server) as client:
        with pytest.raises(PayloadInvalid) as caught:
            await client.get(URL)

    assert f"unsupported Content-Encoding {encoding!r}" in str(caught.value)
    assert URL in str(caught.value)


async def test_an_empty_body_needs_no_decoder_whatever_its_encoding() -> None:
    server = replies(lambda _r: httpx.Response(304, stream=ChunkStream([b""]), headers={"Content-Encoding": "br"}))
    async with make_client(server) as client:
        result = await client.get(URL)

    assert (result.status, result.content) == (304, b"")


# --- SSRF guard --------------------------------------------------------------------------------------------------

NON_PUBLIC = [
    "127.0.0.1",
    "10.0.0.5",
    "192.168.1.1",
    "172.16.0.1",
    "169.254.169.254",
    "::1",
    "fc00::1",
    "0.0.0.0",
    "224.0.0.1",
    "::ffff:127.0.0.1",
    "100.100.100.200",  # shared address space 100.64.0.0/10: Alibaba Cloud's metadata service
    "fe80::1%eth0",
    "240.0.0.1",
    "255.255.255.255",
]


@pytest.mark.parametrize("address", NON_PUBLIC)
async def test_a_host_resolving_to_a_non_public_address_is_refused(address: str) -> None:
    server = replies(ok())
    resolver = FakeResolver({"data.city.example": [address]})
    async with make_client(server, resolver=resolver) as client:
        with pytest.raises(ForbiddenTarget) as caught:
            await client.get(URL)

    message = str(caught.value)
    assert URL in message
    assert "'data.city.example'" in message
    assert address in message
    assert "NORDHUB_HTTP_ALLOW_HOSTS" in message
    assert resolver.calls == [("data.city.example", 80)]
    assert server.requests == []


async def test_one_non_public_address_among_public_ones_is_enough_to_refuse() -> None:
    server = replies(ok())
    resolver = FakeResolver({"data.city.example": [PUBLIC_IP, "10.1.2.3", OTHER_PUBLIC_IP]})
    async with make_client(server, resolver=resolver) as client:
        with pytest.raises(ForbiddenTarget, match=r"non-public address \(10\.1\.2\.3\)"):
            await client.get(URL)

    assert server.requests == []


async def test_a_host_resolving_to_nothing_is_refused() -> None:
    server = replies(ok())
    async with make_client(server, resolver=FakeResolver({"data.city.example": []})) as client:
        with pytest.raises(ForbiddenTarget, match=r"non-public address \(none\)"):
            await client.get(URL)

    assert server.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1:8000/admin",
        "http://[::1]/",
        "https://10.0.0.1/",
        "http://[::ffff:7f00:1]/",
    ],
)
async def test_a_literal_non_public_ip_url_is_refused_without_resolving(url: str) -> None:
    server = replies(ok())
    resolver = FakeResolver()
    async with make_client(server, resolver=resolver) as client:
        with pytest.raises(ForbiddenTarget) as caught:
            await client.get(url)

    assert url in str(caught.value)
    assert resolver.calls == []
    assert server.requests == []


@pytest.mark.parametrize(
    ("url", "lookup"),
    [
        ("http://data.city.example/feeds/gbfs.json", ("data.city.example", 80)),
        ("https://data.city.example/feeds/gbfs.json", ("data.city.example", 443)),
        ("https://Data.City.Example:8443/x", ("data.city.example", 8443)),
    ],
)
async def test_a_host_resolving_to_a_public_address_is_fetched(url: str, lookup: tuple[str, int]) -> None:
    server = replies(ok(b"public"))
    resolver = FakeResolver({"data.city.example": [PUBLIC_IP, "2606:2800:220:1:248:1893:25c8:1946"]})
    async with make_client(server, resolver=resolver) as client:
        result = await client.get(url)

    assert result.content == b"public"
    assert resolver.calls == [lookup]
    assert len(server.requests) == 1


async def test_a_literal_public_ip_url_is_fetched_without_resolving() -> None:
    server = replies(ok(b"public"))
    resolver = FakeResolver()
    async with make_client(server, resolver=resolver) as client:
        result = await client.get(f"http://{PUBLIC_IP}/gbfs.json")

    assert result.content == b"public"
    assert resolver.calls == []


async def test_a_host_allow_listed_by_argument_may_resolve_to_loopback() -> None:
    server = replies(ok(b"demo"))
    resolver = FakeResolver({"demo-city.test": ["127.0.0.1"]})
    async with make_client(server, resolver=resolver, allow_hosts=["Demo-City.test"]) as client:
        result = await client.get("http://demo-city.test:8001/gbfs.json")

    assert result.content == b"demo"
    assert server.urls == ["http://demo-city.test:8001/gbfs.json"]


async def test_a_host_allow_listed_in_the_settings_may_resolve_to_loopback() -> None:
    server = replies(ok(b"demo"))
    resolver = FakeResolver({"demo-city.test": ["127.0.0.1"]})
    settings = make_settings(http_allow_hosts="demo-city.test, other.test")
    async with make_client(server, resolver=resolver, settings=settings) as client:
        result = await client.get("http://demo-city.test/gbfs.json")

    assert result.content == b"demo"
    assert len(server.requests) == 1


async def test_an_allow_listed_address_admits_the_literal_and_hosts_resolving_to_it() -> None:
    server = replies(ok(b"local"))
    resolver = FakeResolver({"localhost": ["127.0.0.1"]})
    async with make_client(server, resolver=resolver, settings=make_settings(http_allow_hosts=["127.0.0.1"])) as client:
        assert (await client.get("http://127.0.0.1:8000/gbfs.json")).content == b"local"
        assert (await client.get("http://localhost:8000/gbfs.json")).content == b"local"
        with pytest.raises(ForbiddenTarget):  # only that address
            await client.get("http://127.0.0.2:8000/gbfs.json")

    assert len(server.requests) == 2


async def test_allow_listing_one_host_does_not_admit_others() -> None:
    server = replies(ok())
    resolver = FakeResolver({"demo-city.test": ["127.0.0.1"], "evil.test": ["127.0.0.1"]})
    async with make_client(server, resolver=resolver, allow_hosts=["demo-city.test"]) as client:
        with pytest.raises(ForbiddenTarget, match=r"'evil\.test'"):
            await client.get("http://evil.test/")

    assert server.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://data.city.example/gbfs.json",
        "file:///etc/passwd",
        "gopher://data.city.example/",
        "data.city.example/gbfs.json",
        "http:///gbfs.json",
        "",
    ],
)
async def test_urls_other_than_absolute_http_are_refused(url: str) -> None:
    server = replies(ok())
    resolver = FakeResolver()
    async with make_client(server, resolver=resolver) as client:
        with pytest.raises(ForbiddenTarget) as caught:
            await client.get(url)

    assert f"{url}: only absolute http and https URLs" in str(caught.value)
    assert resolver.calls == []
    assert server.requests == []


@pytest.mark.parametrize("url", ["http://[::1/", "http://data.city.example:99999/", "http://data.city.example:x/"])
async def test_malformed_urls_are_refused_as_hub_errors(url: str) -> None:
    server = replies(ok())
    async with make_client(server) as client:
        with pytest.raises(ForbiddenTarget) as caught:
            await client.get(url)

    assert f"{url}: not a valid URL" in str(caught.value)
    assert server.requests == []


async def test_a_dns_failure_is_source_unreachable_naming_the_host() -> None:
    server = replies(ok())
    resolver = FakeResolver({"data.city.example": socket.gaierror(socket.EAI_NONAME, "Name or service not known")})
    async with make_client(server, resolver=resolver) as client:
        with pytest.raises(SourceUnreachable) as caught:
            await client.get(URL)

    assert "cannot resolve host 'data.city.example'" in str(caught.value)
    assert "Name or service not known" in str(caught.value)
    assert URL in str(caught.value)
    assert isinstance(caught.value.__cause__, socket.gaierror)
    assert server.requests == []


async def test_check_target_is_usable_on_its_own() -> None:
    resolver = FakeResolver({"intranet.city.example": ["10.20.30.40"]})
    async with make_client(replies(ok()), resolver=resolver) as client:
        await client.check_target(URL)
        with pytest.raises(ForbiddenTarget, match=r"10\.20\.30\.40"):
            await client.check_target("https://intranet.city.example/")

    assert resolver.calls == [("data.city.example", 80), ("intranet.city.example", 443)]


PRIVATE_NETWORKS = [
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10")
]


@given(
    network=st.sampled_from(PRIVATE_NETWORKS),
    offset=st.integers(min_value=0, max_value=2**24 - 1),
    mapped=st.booleans(),
)
def test_any_address_of_a_private_ipv4_network_is_refused(
    network: ipaddress.IPv4Network, offset: int, mapped: bool
) -> None:
    address = str(network[offset % network.num_addresses])
    if mapped:
        address = f"::ffff:{address}"

    async def attempt() -> None:
        server = replies(ok())
        resolver = FakeResolver({"data.city.example": [address]})
        async with make_client(server, resolver=resolver) as client:
            with pytest.raises(ForbiddenTarget, match=address.replace(".", r"\.")):
                await client.get(URL)
        assert server.requests == []

    anyio.run(attempt)


# --- redirects ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1/",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::1]:8080/",
        "http://intranet.city.example/",
        "file:///etc/passwd",
    ],
)
async def test_the_guard_applies_after_every_redirect(target: str) -> None:
    server = routes({"http://demo-city.test/gbfs.json": redirect(target)})
    resolver = FakeResolver({"demo-city.test": ["127.0.0.1"], "intranet.city.example": ["192.168.10.10"]})
    async with make_client(server, resolver=resolver, allow_hosts=["demo-city.test"]) as client:
        with pytest.raises(ForbiddenTarget) as caught:
            await client.get("http://demo-city.test/gbfs.json")

    assert target in str(caught.value)
    assert server.urls == ["http://demo-city.test/gbfs.json"]  # the forbidden target never got a request


async def test_a_redirect_to_a_port_out_of_range_is_refused() -> None:
    location = "http://mirror.city.example:99999/"
    server = routes({URL: redirect(location)})
    async with make_client(server) as client:
        with pytest.raises(ForbiddenTarget) as caught:
            await client.get(URL, {"Authorization": "Bearer x"})

    assert f"{location}: not a valid URL" in str(caught.value)
    assert server.urls == [URL]


async def test_an_unparseable_location_is_a_hub_error(sleeps: list[float]) -> None:
    server = routes({URL: redirect("http://[::1/")})  # httpx itself rejects this Location
    async with make_client(server) as client:
        with pytest.raises(SourceUnreachable) as caught:
            await client.get(URL)

    assert URL in str(caught.value)
    assert "Invalid URL in location header" in str(caught.value)
    assert server.urls == [URL] * 4


async def test_a_redirect_chain_to_a_public_host_ends_at_the_final_url() -> None:
    server = routes(
        {
            "http://a.city.example/gbfs.json": redirect("https://b.city.example/gbfs.json", 301),
            "https://b.city.example/gbfs.json": redirect("https://c.city.example/v2/gbfs.json", 307),
            "https://c.city.example/v2/gbfs.json": redirect("https://cdn.city.example/v2/gbfs.json", 308),
            "https://cdn.city.example/v2/gbfs.json": ok(b"final", **{"Content-Type": "application/json"}),
        }
    )
    resolver = FakeResolver()
    async with make_client(server, resolver=resolver) as client:
        result = await client.get("http://a.city.example/gbfs.json")

    assert result.url == "https://cdn.city.example/v2/gbfs.json"
    assert (result.status, result.content, result.content_type) == (200, b"final", "application/json")
    assert len(server.requests) == 4
    assert [host for host, _port in resolver.calls] == [
        "a.city.example",
        "b.city.example",
        "c.city.example",
        "cdn.city.example",
    ]


async def test_a_redirect_loop_is_an_http_error_mentioning_redirects(sleeps: list[float]) -> None:
    server = routes(
        {
            "http://a.city.example/x": redirect("http://b.city.example/y"),
            "http://b.city.example/y": redirect("http://a.city.example/x"),
        }
    )
    async with make_client(server) as client:
        with pytest.raises(SourceHTTPError) as caught:
            await client.get("http://a.city.example/x")

    assert "redirect" in str(caught.value)
    assert "http://a.city.example/x" in str(caught.value)
    assert server.urls == ["http://a.city.example/x", "http://b.city.example/y"]
    assert sleeps == []  # not retried


async def test_a_self_redirect_is_a_loop() -> None:
    server = routes({URL: redirect(URL, 301)})
    async with make_client(server) as client:
        with pytest.raises(SourceHTTPError, match="redirect loop"):
            await client.get(URL)

    assert len(server.requests) == 1


def hops(count: int) -> Server:
    """/0 redirects to /1, ... /count-1 redirects to /count, which answers 200."""
    table: dict[str, Handler] = {
        f"http://a.city.example/{n}": redirect(f"http://a.city.example/{n + 1}") for n in range(count)
    }
    table[f"http://a.city.example/{count}"] = ok(b"end")
    return routes(table)


async def test_up_to_max_redirects_hops_are_followed() -> None:
    server = hops(MAX_REDIRECTS)
    async with make_client(server) as client:
        result = await client.get("http://a.city.example/0")

    assert result.url == f"http://a.city.example/{MAX_REDIRECTS}"
    assert len(server.requests) == MAX_REDIRECTS + 1


async def test_one_hop_more_than_max_redirects_is_refused() -> None:
    server = hops(MAX_REDIRECTS + 1)
    async with make_client(server) as client:
        with pytest.raises(SourceHTTPError, match=f"too many redirects.*{MAX_REDIRECTS + 1} hops") as caught:
            await client.get("http://a.city.example/0")

    assert caught.value.http_status >= 300
    assert len(server.requests) == MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    ("location", "resolved"),
    [
        ("/v2/station_information.json", "http://data.city.example/v2/station_information.json"),
        ("station_information.json", "http://data.city.example/feeds/station_information.json"),
        ("../v3/gbfs.json?lang=fi", "http://data.city.example/v3/gbfs.json?lang=fi"),
        ("//mirror.city.example/gbfs.json", "http://mirror.city.example/gbfs.json"),
    ],
)
async def test_a_relative_location_is_resolved_against_the_current_url(location: str, resolved: str) -> None:
    server = routes({URL: redirect(location), resolved: ok(b"moved")})
    async with make_client(server) as client:
        result = await client.get(URL)

    assert (result.url, result.content) == (resolved, b"moved")
    assert server.urls == [URL, resolved]


async def test_a_relative_location_on_an_allow_listed_host_stays_allowed() -> None:
    server = routes(
        {
            "http://demo-city.test/gbfs": redirect("/gbfs/gbfs.json", 301),
            "http://demo-city.test/gbfs/gbfs.json": ok(b"feeds"),
        }
    )
    resolver = FakeResolver({"demo-city.test": ["127.0.0.1"]})
    async with make_client(server, resolver=resolver, allow_hosts=["demo-city.test"]) as client:
        result = await client.get("http://demo-city.test/gbfs")

    assert (result.url, result.content) == ("http://demo-city.test/gbfs/gbfs.json", b"feeds")


async def test_credentials_are_not_forwarded_to_another_origin() -> None:
    server = routes(
        {
            "https://api.city.example/feed": redirect("https://api.city.example/v2/feed"),
            "https://api.city.example/v2/feed": redirect("https://cdn.other.example/feed"),
            "https://cdn.other.example/feed": ok(b"data"),
        }
    )
    sent = {"Authorization": "Bearer city-secret", "Cookie": "s=1", "Accept": "application/json"}
    async with make_client(server) as client:
        result = await client.get("https://api.city.example/feed", sent)

    assert result.content == b"data"
    first, same_origin, other_origin = server.requests
    for request in (first, same_origin):
        assert request.headers["authorization"] == "Bearer city-secret"
        assert request.headers["cookie"] == "s=1"
    assert "authorization" not in other_origin.headers
    assert "cookie" not in other_origin.headers
    assert other_origin.headers["accept"] == "application/json"


async def test_a_redirect_without_location_is_returned_as_is() -> None:
    server = replies(lambda _r: httpx.Response(302, content=b"nowhere"))
    async with make_client(server) as client:
        result = await client.get(URL)

    assert (result.status, result.content) == (302, b"nowhere")
    assert len(server.requests) == 1


async def test_a_5xx_after_a_redirect_retries_the_whole_chain(sleeps: list[float]) -> None:
    final = replies(status(503), ok(b"recovered"))
    server = routes(
        {URL: redirect("http://mirror.city.example/gbfs.json"), "http://mirror.city.example/gbfs.json": final}
    )
    async with make_client(server) as client:
        result = await client.get(URL)

    assert (result.url, result.content) == ("http://mirror.city.example/gbfs.json", b"recovered")
    assert server.urls == [URL, "http://mirror.city.example/gbfs.json"] * 2
    assert sleeps == [0.0]


# --- settings ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "hosts"),
    [
        ("a.example, b.example", ["a.example", "b.example"]),
        ("a.example,b.example,", ["a.example", "b.example"]),
        ('["a.example", "b.example"]', ["a.example", "b.example"]),
        (' [ "127.0.0.1" ] ', ["127.0.0.1"]),
        ("", []),
    ],
)
def test_allow_hosts_env_var_accepts_a_comma_list_or_a_json_array(
    raw: str, hosts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NORDHUB_HTTP_ALLOW_HOSTS", raw)
    assert Settings().http_allow_hosts == hosts


def test_allow_hosts_default_to_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NORDHUB_HTTP_ALLOW_HOSTS", raising=False)
    assert Settings().http_allow_hosts == []


async def test_allow_hosts_from_the_env_var_reach_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NORDHUB_HTTP_ALLOW_HOSTS", "a.example, b.example")
    resolver = FakeResolver({"a.example": ["10.0.0.1"], "b.example": ["10.0.0.2"], "c.example": ["10.0.0.3"]})
    server = replies(ok(b"internal"))
    async with make_client(server, resolver=resolver, settings=Settings()) as client:
        assert (await client.get("http://a.example/")).content == b"internal"
        assert (await client.get("http://b.example/")).content == b"internal"
        with pytest.raises(ForbiddenTarget, match=r"'c\.example'"):
            await client.get("http://c.example/")

    assert server.urls == ["http://a.example/", "http://b.example/"]


@pytest.mark.anyio
async def test_error_bodies_are_quoted_briefly_in_the_error() -> None:
    envelope = b'{"success": false, "error": {"message": "Not found: package", "__type": "Not Found Error"}}'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, content=envelope + b"\n\x00" + b"x" * 500)

    client = HttpClient(Settings(), transport=httpx.MockTransport(handler), resolver=FakeResolver(), max_retries=0)
    with pytest.raises(SourceHTTPError) as caught:
        await client.get("http://ckan.example/api/3/action/package_show?id=x")
    await client.aclose()
    assert caught.value.http_status == 409
    assert "HTTP 409: {" in caught.value.detail
    assert "Not found: package" in caught.value.detail
    assert caught.value.detail.endswith("…")
    assert "\x00" not in caught.value.detail
