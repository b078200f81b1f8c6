"""Rate limiting (api/ratelimit.py): token buckets per API key and per anonymous client address, 429 + Retry-After."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from api.app import create_app
from api.ratelimit import TokenBuckets, client_of
from api.state import HubState
from hub.settings import Settings

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_grants_the_burst_then_the_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token comes back every 1/rate seconds
    assert buckets.take("b") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 60
    assert [buckets.take("a") for _ in range(4)][-1] > 0  # refilled to the burst, never beyond


def test_buckets_are_bounded_least_recently_seen_dropped_first() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, clock=Clock(), max_clients=2)
    for client in ("a", "b", "a", "c"):  # "b" is the least recently seen when "c" arrives
        buckets.take(client)
    assert buckets.take("a") > 0  # still remembered, still empty
    assert buckets.take("b") == 0.0  # forgotten: a fresh bucket


def test_identity_is_the_hashed_key_or_the_address() -> None:
    keyed = {"type": "http", "headers": [(b"authorization", b"Bearer s3cret-token")], "client": ("10.0.0.1", 5)}
    identity, is_key = client_of(keyed)
    assert is_key
    assert "s3cret" not in identity
    assert identity == "key:" + hashlib.sha256(b"s3cret-token").hexdigest()
    assert client_of({"type": "http", "headers": [], "client": ("10.0.0.1", 5)}) == ("addr:10.0.0.1", False)
    basic = {"type": "http", "headers": [(b"authorization", b"Basic abc")], "client": ("10.0.0.2", 5)}
    assert client_of(basic) == ("addr:10.0.0.2", False)


async def test_over_the_rate_is_429_with_retry_after(settings: Settings, hub: HubState) -> None:
    tiny = settings.model_copy(
        update={
            "rate_limit_anonymous": 0.01,
            "rate_limit_anonymous_burst": 2,
            "rate_limit_key": 0.01,
            "rate_limit_key_burst": 3,
        }
    )
    app = create_app(tiny, state=hub)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as api:
        statuses = [(await api.get("/api/v1/sources")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = await api.get("/ngsi-ld/v1/entities", params={"type": "T"})
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "https://nordhub.eu/problems/too-many-requests"
        assert int(refused.headers["retry-after"]) == 100  # one token every 100 s at 0.01/s
        assert "client address" in refused.json()["detail"]
        assert (await api.get("/health")).status_code in (200, 503)  # probes are never rate-limited
        key = {"Authorization": "Bearer one"}
        assert [(await api.get("/api/v1/sources", headers=key)).status_code for _ in range(4)] == [200, 200, 200, 429]
        other = await api.get("/api/v1/sources", headers={"Authorization": "Bearer two"})
        assert other.status_code == 200  # each key has its own bucket


async def test_default_rates_do_not_trip_a_researchers_loop(api: httpx.AsyncClient) -> None:
    statuses = {(await api.get("/api/v1/sources")).status_code for _ in range(150)}
    assert statuses == {200}
