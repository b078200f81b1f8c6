"""Rate limiting: a token bucket per API key, and one per client address for requests without a key.

A request with ``Authorization: Bearer <token>`` is counted against the token (kept only as its SHA-256, never
the token itself): the middleware does not check that the key is valid, so an unknown key only rate-limits
itself. Any other request is counted against its client address (``scope["client"]``; behind a proxy, run
uvicorn with ``--proxy-headers``/``--forwarded-allow-ips`` so that this is the real client). Over the rate, the
answer is 429 with ``Retry-After``.

The buckets live in the process: with several ``nordhub serve`` processes each enforces the rates on its own,
so a client may get up to N times the rate through N processes.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import middleware_problem
from hub.errors import TooManyRequests

EXEMPT_PATHS = frozenset({"/health"})  # load balancers and probes poll it


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """One token bucket per client: ``burst`` tokens at most, refilled at ``rate`` per second.

    At most ``max_clients`` buckets are kept; the least recently seen is dropped first (a dropped client
    starts again with a full bucket, which errs on the side of the client).
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 100_000,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, client: str) -> float:
        """Take one token for ``client``: 0.0 when granted, else the seconds until a token is available."""
        now = self.clock()
        bucket = self._buckets.pop(client, None)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), stamp=now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        self._buckets[client] = bucket
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


def client_of(scope: Scope) -> tuple[str, bool]:
    """The rate-limit identity of a request and whether it is an API key (else a client address)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = bytes(value).partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return "key:" + hashlib.sha256(token.strip()).hexdigest(), True
    client = scope.get("client")
    return "addr:" + (str(client[0]) if client else "unknown"), False


class RateLimit:
    """Answers 429 with ``Retry-After`` when a key or an anonymous client address exceeds its rate."""

    def __init__(self, app: ASGIApp, *, anonymous: TokenBuckets | None, keyed: TokenBuckets | None) -> None:
        self.app = app
        self.anonymous = anonymous
        self.keyed = keyed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        client, is_key = client_of(scope)
        buckets = self.keyed if is_key else self.anonymous
        wait = buckets.take(client) if buckets is not None else 0.0
        if buckets is None or wait <= 0:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        who = "this API key" if is_key else "this client address (no API key)"
        exc = TooManyRequests(
            f"{who} sent requests faster than {buckets.rate:g} per second after a burst of {buckets.burst}; "
            f"retry in {retry} s",
            retry_after=retry,
        )
        await middleware_problem(scope, exc)(scope, receive, send)


def buckets_for(rate: float, burst: int) -> TokenBuckets | None:
    """The buckets for a configured rate; a rate of 0 means unlimited (no buckets)."""
    return TokenBuckets(rate, burst) if rate > 0 else None
