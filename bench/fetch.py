"""Fetching: requests/s through the hub's HttpClient with httpx's own transport and with httpx-aiohttp.

A small JSON document is served on 127.0.0.1 by a separate process (aiohttp's web server, so the server is not the
bottleneck); the client fetches it a bounded number of times at concurrency 20. The floor is aiohttp's own client
in the same run. Loopback only, bounded in count and time.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

from harvester.http import HttpClient
from hub.settings import Settings

SERVER = """
import sys
from aiohttp import web
body = b'{"last_updated": 1, "ttl": 15, "data": {"stations": []}}' * 20
async def feed(request):
    return web.Response(body=body, content_type="application/json")
app = web.Application()
app.router.add_get("/gbfs.json", feed)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""
REQUESTS = 3000
CONCURRENCY = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _drive(fetch: Callable[[], Awaitable[int]]) -> float:
    queue = iter(range(REQUESTS))

    async def worker() -> None:
        for _ in queue:
            assert await fetch() > 0

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(CONCURRENCY))), timeout=120)
    return REQUESTS / (time.perf_counter() - started)


async def _hub_client(url: str, transport: httpx.AsyncBaseTransport | None) -> float:
    settings = Settings(http_allow_hosts=["127.0.0.1"], http_per_host=CONCURRENCY)
    async with HttpClient(settings, transport=transport) as client:
        return await _drive(lambda: _length(client, url))


async def _length(client: HttpClient, url: str) -> int:
    return len((await client.get(url)).content)


async def _aiohttp_floor(url: str) -> float:
    async with aiohttp.ClientSession() as session:

        async def fetch() -> int:
            async with session.get(url) as response:
                return len(await response.read())

        return await _drive(fetch)


async def _measure(url: str) -> dict[str, float]:
    return {
        "floor: aiohttp ClientSession": await _aiohttp_floor(url),
        "HttpClient + httpx default transport": await _hub_client(url, httpx.AsyncHTTPTransport()),
        "HttpClient + httpx-aiohttp transport": await _hub_client(url, None),
    }


def main() -> None:
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        results = asyncio.run(_measure(f"http://127.0.0.1:{port}/gbfs.json"))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"[fetch] {REQUESTS:,} GETs of a 1 kB feed at concurrency {CONCURRENCY} on 127.0.0.1:")
    for label, rate in results.items():
        print(f"    {label:<40} {rate:>8,.0f} req/s")
