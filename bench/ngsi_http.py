"""Requests per second of one uvicorn worker serving ``GET /ngsi-ld/v1/entities``, beside a bare Starlette floor.

Both servers are started the same way (``uvicorn`` with one worker on 127.0.0.1, a free port, access log off) and
driven the same way for a fixed number of seconds by a bounded load generator: ``wrk`` when it is on the PATH
(Debian package ``wrk``; written in C, it takes little of the CPU), otherwise an aiohttp client in this process.
The machine has two cores: the server is pinned to CPU 0 and the load generator to CPU 1 (``sched_setaffinity``),
so the two do not take turns on one core. The floor is a Starlette app answering the same bytes the hub answered
(the first page of 100 entities), with nothing else: what a Python worker on this machine can serve at all.

Run alone: ``python -m bench.ngsi_http DATABASE_URL QUERY``; through ``bench.ngsi_query`` with
``NORDHUB_BENCH_NGSI_N=100000`` on a smaller database (per-request overhead hardly depends on the count: the page
is an index range scan). The machine is shared: the 1-minute load average is printed beside each run, and
``NORDHUB_BENCH_HTTP_RUNS=3`` repeats each measurement to show the spread.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.app import create_app
from hub.settings import Settings

SECONDS = 5.0
CONNECTIONS = 16
GOAL_RPS = 1000.0
LOOPBACK = "127.0.0.1"
SERVER_CPU, CLIENT_CPU = 0, 1
FLOOR_BODY = "NORDHUB_BENCH_FLOOR_BODY"
RUNS = "NORDHUB_BENCH_HTTP_RUNS"  # hub + floor measurements per query (default 1); more show the spread


def hub_app() -> FastAPI:
    """uvicorn factory: the hub on the database of ``NORDHUB_DATABASE_URL`` (scheduler off, from the env)."""
    return create_app(Settings())


def bare_app(body: bytes) -> Starlette:
    """A bare Starlette app answering ``body`` at the entities path: the floor of any Python web app here."""

    async def entities(_request: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/ngsi-ld/v1/entities", entities)])


def floor_app() -> Starlette:
    """uvicorn factory: :func:`bare_app` answering the fixed body in the file ``NORDHUB_BENCH_FLOOR_BODY``."""
    return bare_app(Path(os.environ[FLOOR_BODY]).read_bytes())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def start_server(factory: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", LOOPBACK, "--port", str(port)]
    command += ["--workers", "1", "--no-access-log", "--log-level", "warning", *server_options()]
    proc = subprocess.Popen(command, env={**os.environ, **env})
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(proc.pid, {SERVER_CPU})
    base = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn {factory} exited with {proc.returncode}")
        try:
            httpx.get(base + "/", timeout=1.0)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"uvicorn {factory} did not start within 60 s")


def server_options() -> list[str]:
    """uvicorn's C HTTP parser and event loop when installed (``uvicorn[standard]``)."""
    options = []
    for module, flag in (("httptools", "--http=httptools"), ("uvloop", "--loop=uvloop")):
        try:
            __import__(module)
        except ImportError:
            continue
        options.append(flag)
    return options


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wrk(url: str, headers: dict[str, str], seconds: float) -> float:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{int(seconds)}s", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 30, check=True, preexec_fn=_pin_client
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None or "Non-2xx" in out:
        raise RuntimeError(f"wrk did not report a clean run:\n{out}")
    return float(match.group(1))


def _pin_client() -> None:
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {CLIENT_CPU})


async def _aiohttp_load(url: str, headers: dict[str, str], seconds: float) -> float:
    done = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{url} answered {response.status}")
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        return done / (time.monotonic() - started)


def load(url: str, headers: dict[str, str], seconds: float = SECONDS, server: int | None = None) -> tuple[float, float]:
    """Requests per second that ``url`` answered with 200 during ``seconds``, after one second of warm-up, and the
    CPU milliseconds the ``server`` process spent per request meanwhile (0 when not given)."""
    if shutil.which("wrk"):
        wrk(url, headers, 1)
        started = cpu_seconds(server)
        rps = wrk(url, headers, seconds)
        return rps, (cpu_seconds(server) - started) * 1000 / (rps * seconds)
    before = os.sched_getaffinity(0)
    _pin_client()
    try:
        asyncio.run(_aiohttp_load(url, headers, 1.0))
        started = cpu_seconds(server)
        rps = asyncio.run(_aiohttp_load(url, headers, seconds))
        return rps, (cpu_seconds(server) - started) * 1000 / (rps * seconds)
    finally:
        os.sched_setaffinity(0, before)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``; 0 elsewhere or without a pid).

    On a shared machine the wall-clock rate follows the neighbours; the CPU a request costs the worker does not,
    and 1,000 / (CPU ms per request) is the rate the worker would reach with a core of its own."""
    stat = Path(f"/proc/{pid}/stat")
    if pid is None or not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, query: str, tenant: str | None) -> tuple[tuple[float, float], tuple[float, float], int]:
    """((hub req/s, CPU ms per request), the same for the floor, body bytes) for one query, both servers
    measured in this call."""
    headers = {"NGSILD-Tenant": tenant} if tenant else {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "NORDHUB_DATABASE_URL": url,
            "NORDHUB_SCHEDULER_ENABLED": "false",
            "NORDHUB_DATA_DIR": tmp,
            "NORDHUB_LOG_LEVEL": "WARNING",
            # a rate no run reaches: the rate-limit middleware stays on the path without answering 429
            "NORDHUB_RATE_LIMIT_ANONYMOUS": "1e9",
            "NORDHUB_RATE_LIMIT_ANONYMOUS_BURST": str(10**9),
        }
        proc, base = start_server("bench.ngsi_http:hub_app", env)
        try:
            target = f"{base}/ngsi-ld/v1/entities?{query}"
            body = httpx.get(target, headers=headers, timeout=30).raise_for_status().content
            hub = load(target, headers, server=proc.pid)
        finally:
            stop(proc)
        body_file = Path(tmp) / "body.json"
        body_file.write_bytes(body)
        proc, base = start_server("bench.ngsi_http:floor_app", {FLOOR_BODY: str(body_file)})
        try:
            floor = load(f"{base}/ngsi-ld/v1/entities?{query}", headers, server=proc.pid)
        finally:
            stop(proc)
    return hub, floor, len(body)


def main(url: str, label: str, query: str, entities: int | None = None) -> None:
    generator = "wrk" if shutil.which("wrk") else "aiohttp"
    options = " ".join(server_options()) or "h11, asyncio"
    runs = int(os.environ.get(RUNS, "1"))
    size = f" at {entities:,} entities" if entities else ""
    print(
        f"  [{label}] over HTTP{size}: one uvicorn worker ({options}) on CPU {SERVER_CPU}, {generator} with "
        f"{CONNECTIONS} connections for {SECONDS:.0f} s on CPU {CLIENT_CPU}, {runs} run(s) ({RUNS}):"
    )
    for tenant in (None, "oslo"):
        view = f"tenant {tenant}" if tenant else "federated"
        for _ in range(runs):
            load_before = os.getloadavg()[0]
            (hub_rps, hub_cpu), (floor_rps, floor_cpu), size = measure(url, query, tenant)
            verdict = "goal met" if hub_rps >= GOAL_RPS else f"GOAL MISSED (< {GOAL_RPS:,.0f} req/s)"
            print(
                f"    GET /entities?{query} ({view}, {size:,} B): {hub_rps:>7,.0f} req/s   floor (bare Starlette, "
                f"same body) {floor_rps:>7,.0f} req/s   ratio {hub_rps / floor_rps:.2f}   load average "
                f"{load_before:.1f}→{os.getloadavg()[0]:.1f}   {verdict}"
            )
            print(
                f"      worker CPU per request {hub_cpu:.3f} ms (≈ {_per_core(hub_cpu)} req/s with a core of its own), "
                f"floor {floor_cpu:.3f} ms (≈ {_per_core(floor_cpu)} req/s)"
            )


def _per_core(cpu_ms: float) -> str:
    return f"{1000 / cpu_ms:,.0f}" if cpu_ms > 0 else "?"


if __name__ == "__main__":
    main(sys.argv[1], "bench", sys.argv[2])
