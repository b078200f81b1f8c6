"""The command line as a user meets it: real processes, exit codes, one clear line per error."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harvester.demo_city import DemoCityServer
from hub.cities import dump_cities, load_cities
from hub.db import Database
from hub.demo import demo_registry
from tests.conftest import ROOT

NORDHUB = [sys.executable, "-m", "hub.cli"]


def _env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NORDHUB_")}
    env.update(
        NORDHUB_DATA_DIR=str(tmp_path / "var"),
        NORDHUB_DATABASE_URL=database_url,
        NORDHUB_CITIES_FILE=str(ROOT / "cities.toml"),
        NORDHUB_LOG_JSON="false",
    )
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NORDHUB, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
    )


def test_cities_check_accepts_the_shipped_registry(tmp_path: Path, database_url: str) -> None:
    result = _run(["cities", "check"], _env(tmp_path, database_url))
    assert result.returncode == 0, result.stderr
    assert "15 cities" in result.stdout


def test_cities_check_names_file_city_and_field(tmp_path: Path, database_url: str) -> None:
    broken = tmp_path / "broken.toml"
    text = (ROOT / "cities.toml").read_text(encoding="utf-8")
    broken.write_text(text.replace('kind = "gbfs"', 'kind = "ftp"', 1), encoding="utf-8")
    result = _run(["cities", "check", str(broken)], _env(tmp_path, database_url))
    assert result.returncode == 1
    assert "broken.toml" in result.stderr
    assert "kind" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_option_is_a_usage_error(tmp_path: Path, database_url: str) -> None:
    result = _run(["serve", "--bogus"], _env(tmp_path, database_url))
    assert result.returncode == 2
    assert "No such option" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/nordhub?connect_timeout=2")
    result = _run(["db", "upgrade"], env)
    assert result.returncode == 1
    assert "cannot connect to database" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_reports_the_revision(tmp_path: Path, database_url: str) -> None:
    result = _run(["db", "upgrade"], _env(tmp_path, database_url))
    assert result.returncode == 0, result.stderr
    assert f"at revision {Database(database_url).head_revision()}" in result.stdout


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_serve_on_a_port_in_use_fails_clearly(tmp_path: Path, database_url: str, busy_port: int) -> None:
    result = _run(["serve", "--port", str(busy_port), "--no-scheduler"], _env(tmp_path, database_url))
    assert result.returncode == 1
    assert f"port {busy_port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_harvest_command_against_a_demo_city(tmp_path: Path, database_url: str) -> None:
    with DemoCityServer() as city:
        cities = tmp_path / "cities.toml"
        cities.write_text(dump_cities(demo_registry(load_cities(ROOT / "cities.toml"), city.base_url)))
        env = _env(tmp_path, database_url, NORDHUB_CITIES_FILE=str(cities), NORDHUB_HTTP_ALLOW_HOSTS="127.0.0.1")
        result = _run(["harvest", "--source", "bergen-bysykkel-demo"], env)
        unknown = _run(["harvest", "--source", "nope"], env)
    assert result.returncode == 0, result.stderr
    assert re.search(r"bergen-bysykkel-demo\s+succeeded\s+created 60", result.stdout)
    assert unknown.returncode == 1
    assert "unknown source 'nope'" in unknown.stderr


def test_harvest_refuses_loopback_without_allow_list(tmp_path: Path, database_url: str) -> None:
    with DemoCityServer() as city:
        cities = tmp_path / "cities.toml"
        cities.write_text(dump_cities(demo_registry(load_cities(ROOT / "cities.toml"), city.base_url)))
        result = _run(
            ["harvest", "--source", "oslo-bysykkel-demo"], _env(tmp_path, database_url, NORDHUB_CITIES_FILE=str(cities))
        )
    assert result.returncode == 1
    assert "failed" in result.stdout
    assert "non-public address" in result.stdout


def test_demo_serves_stations_and_moves_off_a_busy_port(tmp_path: Path, database_url: str, busy_port: int) -> None:
    """`nordhub demo` on a taken port picks another and serves >= 100 stations within 60 s."""
    started = time.monotonic()
    process = subprocess.Popen(
        [*NORDHUB, "demo", "--port", str(busy_port)],
        env=_env(tmp_path, database_url),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = _wait_for_banner(process, deadline=started + 60)
        assert not url.endswith(f":{busy_port}")
        response = httpx.get(
            f"{url}/ngsi-ld/v1/entities", params={"type": "BikeHireDockingStation", "limit": 1000}, timeout=10
        )
        assert response.status_code == 200
        assert len(response.json()) >= 100
        assert time.monotonic() - started < 60
        health = httpx.get(f"{url}/health", timeout=10).json()
        assert health["scheduler"]["running"] is True
        sources = httpx.get(f"{url}/api/v1/sources", timeout=10).json()
        assert health["scheduler"]["jobs"] == len([s for s in sources if s["enabled"]])
        assert {s["kind"] for s in sources} >= {"gbfs", "ckan"}
        # Every source harvested; the Aarhus car parks quarantine the garage that has no coordinates (real data).
        assert all(s["last_run"]["status"] in ("succeeded", "succeeded_with_errors") for s in sources), sources
        assert sum(s["last_run"]["counts"]["created"] for s in sources) > 500
    finally:
        process.terminate()
        process.wait(timeout=15)
        assert process.stdout is not None
        process.stdout.close()


def _wait_for_banner(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise AssertionError(f"demo exited with {process.returncode}")
        match = re.search(r"serving at (http://127\.0\.0\.1:\d+)", line)
        if match and "demo is" in line:
            url = match.group(1)
            for _ in range(100):
                try:
                    httpx.get(f"{url}/health", timeout=2)
                    return url
                except httpx.TransportError:
                    time.sleep(0.1)
    raise AssertionError("demo did not print its URL in time")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _raw(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send bytes as they are (no client would send a 70 KB request line for us) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return status, headers, body


def test_serve_refuses_what_its_http_parser_cannot_read_with_a_problem_document(
    tmp_path: Path, database_url: str
) -> None:
    """A 10,000-term q in a GET is a request target over 64 KiB, which uvicorn's parser refuses before the app sees
    it: `nordhub serve` answers the 414 the app would have (ETSI type, the limit named), and any other unreadable
    request a 400 problem document, never uvicorn's plain-text "Invalid HTTP request received."."""
    port = _free_port()
    env = _env(tmp_path, database_url, NORDHUB_SCHEDULER_ENABLED="false")
    process = subprocess.Popen(
        [*NORDHUB, "serve", "--port", str(port), "--no-scheduler"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert process.poll() is None, "serve exited"
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        q = ";".join(f"a{i}==1" for i in range(10_000)).encode()
        status, headers, body = _raw(
            port, b"GET /ngsi-ld/v1/entities?type=T&q=" + q + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        )
        assert status.startswith("HTTP/1.1 414"), status
        assert headers["content-type"] == "application/problem+json"
        problem = httpx.Response(414, content=body).json()
        assert problem["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
        assert problem["instance"] == "/ngsi-ld/v1/entities"
        assert "NORDHUB_MAX_QUERY_BYTES" in problem["detail"]
        assert "8192" in problem["detail"]

        status, headers, body = _raw(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n")
        assert status.startswith("HTTP/1.1 400"), status
        problem = httpx.Response(400, content=body).json()
        assert headers["content-type"] == "application/problem+json"
        assert problem["type"] == "https://nordhub.eu/problems/bad-request"
        assert problem["detail"].startswith("the request is not valid HTTP/1.1")

        # A request under the limits is served as ever.
        short = httpx.get(f"http://127.0.0.1:{port}/ngsi-ld/v1/entities", params={"type": "T"}, timeout=10)
        assert short.status_code == 200
        assert short.json() == []
    finally:
        process.terminate()
        process.wait(timeout=15)
