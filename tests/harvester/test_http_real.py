"""The HttpClient's default transport (httpx-aiohttp) against a real HTTP server on 127.0.0.1 (port 0)."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harvester.http import HttpClient
from hub.errors import ForbiddenTarget, PayloadTooLarge, SourceHTTPError
from hub.settings import Settings

pytestmark = pytest.mark.anyio
BODY = b'{"data": {"stations": []}}' * 200


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/gzip":
            payload, extra = gzip.compress(BODY), {"Content-Encoding": "gzip"}
        elif self.path == "/bomb":
            payload, extra = gzip.compress(b"0" * 5_000_000), {"Content-Encoding": "gzip"}
        elif self.path == "/plain":
            payload, extra = BODY, {}
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


async def test_plain_and_gzip_bodies_arrive_decoded(server: str) -> None:
    async with HttpClient(Settings(http_allow_hosts=["127.0.0.1"])) as client:
        plain = await client.get(f"{server}/plain")
        zipped = await client.get(f"{server}/gzip")
    assert plain.content == BODY
    assert zipped.content == BODY
    assert zipped.content_type == "application/json"


async def test_gzip_bomb_is_stopped_at_the_cap(server: str) -> None:
    async with HttpClient(Settings(http_allow_hosts=["127.0.0.1"], http_max_bytes=100_000)) as client:
        with pytest.raises(PayloadTooLarge, match="cap of 100000"):
            await client.get(f"{server}/bomb")


async def test_loopback_is_refused_without_the_allow_list_and_404_is_an_error(server: str) -> None:
    async with HttpClient(Settings(), max_retries=0) as client:
        with pytest.raises(ForbiddenTarget, match="non-public address"):
            await client.get(f"{server}/plain")
    async with HttpClient(Settings(http_allow_hosts=["127.0.0.1"]), max_retries=0) as client:
        with pytest.raises(SourceHTTPError, match="HTTP 404"):
            await client.get(f"{server}/missing")
