"""The ``nordhub`` command line. A composition root: it builds settings, database, app and harvester.

Every command turns the hub's own errors into one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
import uvicorn

from api import http_protocol
from api.app import build_state, create_app, record_validator
from api.state import HubState
from api.validation import Kind, Validators, gbfs_folder, gbfs_from_url, validate_document, validate_gbfs_files
from harvester import store as run_store
from harvester.http import HttpClient
from harvester.run import Harvester, RunReport
from harvester.scheduler import HarvestScheduler, wanted_jobs
from harvester.sources import adapter_for
from hub import cli_contexts, demo, keys_cli, officers
from hub.cities import Registry, dump_cities, load_cities
from hub.cli_support import fail, guarded, load_settings
from hub.db import Database
from hub.errors import ConfigError, NordhubError
from hub.logging import configure_logging
from hub.settings import Settings
from schemas import cli as schemas_cli

app = typer.Typer(
    help="Nordhub: the open-data federation hub of the Nordic smart-city network.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
cities_app = typer.Typer(help="Check the registry of member cities and their sources.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)
app.add_typer(cities_app, name="cities")
app.add_typer(db_app, name="db")
app.add_typer(schemas_cli.app, name="schemas")
app.add_typer(keys_cli.app, name="keys")
app.add_typer(cli_contexts.app, name="contexts")
FAILED_STATES = {run_store.RunStatus.FAILED, run_store.RunStatus.TIMED_OUT, run_store.RunStatus.CANCELLED}


def _settings() -> Settings:
    settings = guarded(load_settings)
    configure_logging(settings)
    return settings


def _migrated_db(settings: Settings) -> Database:
    db = guarded(lambda: Database.configured(settings))
    guarded(db.upgrade)
    return db


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
            raise fail(f"port {port} on {host} {reason}; choose another with --port") from None


def _free_port(host: str, preferred: int) -> int:
    """``preferred`` if it is free, else a port the OS picks (so a second demo still starts)."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise fail(f"no free port on {host}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8000,
    no_scheduler: Annotated[bool, typer.Option("--no-scheduler", help="Do not run scheduled harvests.")] = False,
) -> None:
    """Apply migrations, then serve the API (and the harvest scheduler unless --no-scheduler)."""
    settings = _settings()
    if no_scheduler:
        settings = settings.model_copy(update={"scheduler_enabled": False})
    db = _migrated_db(settings)
    guarded(lambda: _reap(db))
    _check_port(host, port)
    state = guarded(lambda: build_state(settings, db=db))
    _serve(settings, state, host, port)


def _serve(settings: Settings, state: HubState, host: str, port: int) -> None:
    """uvicorn with its C parser, whose refusals of unreadable requests are problem documents (api.http_protocol)."""
    protocol = http_protocol.protocol(settings.max_query_bytes)
    uvicorn.run(create_app(settings, state=state), host=host, port=port, log_config=None, http=protocol)


def _reap(db: Database) -> None:
    with db.begin() as conn:
        run_store.reap_running(conn, now=datetime.now(UTC))


def _print_reports(reports: list[RunReport]) -> None:
    for r in reports:
        counts = ", ".join(f"{k} {v}" for k, v in r.counts.items()) or "no records"
        line = f"{r.source_id:<32} {r.status.value:<22} {counts} ({r.duration:.2f} s)"
        typer.echo(line + (f"\n    {r.error}" if r.error else ""))


async def _harvest(
    settings: Settings,
    db: Database,
    registry: Registry,
    ids: list[str],
    *,
    dry: bool,
    force: bool,
    reimport: bool,
    run_id: int | None = None,
) -> list[RunReport]:
    reports = []
    async with HttpClient(settings) as client:
        harvester = Harvester(db, registry, client, validator=record_validator(settings))
        for number, source_id in enumerate(ids, start=1):
            typer.echo(f"[{number}/{len(ids)}] {source_id} …", err=True)
            if reimport:
                reports.append(await harvester.reimport(source_id, run_id=run_id, force=force))
            else:
                reports.append(await harvester.run(source_id, dry_run=dry, force=force))
        await harvester.aclose()
    return reports


@app.command()
def harvest(
    source: Annotated[str | None, typer.Option("--source", help="Harvest only this source id.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Preview: fetch, transform, validate; commit nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Accept a run that would remove more than half of a source's records.")
    ] = False,
) -> None:
    """Harvest every enabled source (or one) now and print a summary per source."""
    settings = _settings()
    registry = guarded(lambda: load_cities(settings.cities_file))
    if source is not None:
        guarded(lambda: _known_source(registry, source))
        ids = [source]
    else:
        ids = [s.id for _c, s in registry.sources() if s.enabled and adapter_for(s.kind) is not None]
        skipped = [s.id for _c, s in registry.sources() if s.enabled and adapter_for(s.kind) is None]
        if skipped:
            typer.echo(f"not harvested (kind not supported yet): {', '.join(skipped)}", err=True)
    db = _migrated_db(settings)
    reports = guarded(
        lambda: asyncio.run(_harvest(settings, db, registry, ids, dry=dry_run, force=force, reimport=False))
    )
    _print_reports(reports)
    if any(r.status in FAILED_STATES for r in reports):
        raise typer.Exit(1)


@app.command()
def reimport(
    source: Annotated[str, typer.Option("--source", help="The source whose stored payloads are re-imported.")],
    run: Annotated[int | None, typer.Option("--run", help="Re-import this run (default: the last good one).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Accept removing more than half of the records.")] = False,
) -> None:
    """Re-transform and re-validate a source's stored raw payloads, without the network."""
    settings = _settings()
    registry = guarded(lambda: load_cities(settings.cities_file))
    guarded(lambda: _known_source(registry, source))
    db = _migrated_db(settings)
    reports = guarded(
        lambda: asyncio.run(
            _harvest(settings, db, registry, [source], dry=False, force=force, reimport=True, run_id=run)
        )
    )
    _print_reports(reports)
    if any(r.status in FAILED_STATES for r in reports):
        raise typer.Exit(1)


def _known_source(registry: Registry, source_id: str) -> None:
    try:
        registry.source(source_id)
    except KeyError:
        known = ", ".join(s.id for _c, s in registry.sources())
        raise ConfigError(f"unknown source {source_id!r}; known sources: {known}") from None


@cities_app.command("check")
def cities_check(
    file: Annotated[
        Path | None, typer.Argument(help="The cities file (default: NORDHUB_CITIES_FILE or ./cities.toml).")
    ] = None,
) -> None:
    """Validate a cities file: exit 0 when valid, 1 with every problem named when not."""
    path = file or guarded(load_settings).cities_file
    registry = guarded(lambda: load_cities(path))
    count = sum(1 for _ in registry.sources())
    typer.echo(f"{path}: OK, {len(registry.cities)} cities, {count} sources")


@cities_app.command("export")
def cities_export(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Write the merged registry (cities.toml and the sources registered in the database) as TOML.

    Registered sources that are pending or disabled are written with enabled = false. A registration that
    conflicts with cities.toml is left out and named on stderr, and the exit status is 1.
    """
    settings = _settings()
    base = guarded(lambda: load_cities(settings.cities_file))
    db = _migrated_db(settings)
    with db.connect() as conn:
        registrations = officers.list_registrations(conn)
    merged, conflicts = officers.merge(base, registrations)
    text = guarded(lambda: dump_cities(merged))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"{output}: {len(merged.cities)} cities, {len(registrations)} registered sources", err=True)
    for conflict in conflicts:
        typer.echo(f"nordhub: conflict: {conflict}", err=True)
    if conflicts:
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to the configured database."""
    settings = _settings()
    db = _migrated_db(settings)
    typer.echo(f"{db.safe_url}: at revision {db.current_revision()}")


@app.command("demo")
def demo_command(
    port: Annotated[int, typer.Option(help="Port of the hub (another is chosen if it is taken).")] = 8000,
) -> None:
    """Start simulated member cities, harvest them, and serve the hub on 127.0.0.1 with the scheduler."""
    base = _settings()
    city_server = demo.start_city_server()
    try:
        cities_file = guarded(lambda: demo.write_demo_cities(base, city_server.base_url))
        settings = base.model_copy(
            update={
                "cities_file": cities_file,
                "scheduler_enabled": True,
                "http_allow_hosts": [*base.http_allow_hosts, demo.LOOPBACK],
            }
        )
        db = _migrated_db(settings)
        guarded(lambda: _reap(db))
        registry = guarded(lambda: load_cities(cities_file))
        typer.echo(f"demo cities serving at {city_server.base_url} (cities file {cities_file})")
        typer.echo(guarded(lambda: demo.sync_schemas(settings, demo.SHARED_DATA)))
        _print_reports(guarded(lambda: asyncio.run(demo.harvest_all(db, registry, settings))))
        hub_port = _free_port(demo.LOOPBACK, port)
        url = f"http://{demo.LOOPBACK}:{hub_port}"
        settings = settings.model_copy(update={"base_url": url})
        typer.echo(demo.banner(url))
        state = guarded(lambda: build_state(settings, db=db, registry=registry))
        _serve(settings, state, demo.LOOPBACK, hub_port)
    finally:
        city_server.stop()


@app.command("validate")
def validate_command(
    target: Annotated[str, typer.Argument(help="A file, a folder of GBFS feed files, or an http(s) URL.")],
    kind: Annotated[Kind, typer.Option(help="What the document is (auto detects it).")] = Kind.AUTO,
    profile: Annotated[
        str | None, typer.Option(help="DCAT-AP: [version:]base|recommended|vocabularies|full (default base).")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Validate like the harvester does. Exit 0 valid, 1 invalid, 2 usage or I/O error."""
    if output not in ("text", "json"):
        raise fail(f"--format must be text or json, not {output!r}", 2)
    settings = _settings()
    validators = Validators.for_data_dir(settings.data_dir)
    try:
        result = _validate_target(settings, validators, target, kind, profile)
    except (NordhubError, OSError) as exc:
        raise fail(exc.detail if isinstance(exc, NordhubError) else str(exc), 2) from None
    if output == "json":
        typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(_validation_text(target, result))
    raise typer.Exit(0 if result["valid"] else 1)


def _validate_target(
    settings: Settings, validators: Validators, target: str, kind: Kind, profile: str | None
) -> dict[str, Any]:
    if target.startswith(("http://", "https://")):
        return asyncio.run(_validate_url(settings, validators, target, kind, profile))
    path = Path(target)
    if path.is_dir():
        return validate_gbfs_files(gbfs_folder(path), validators)
    return validate_document(path.read_bytes(), name=path.name, kind=kind, validators=validators, profile=profile)


async def _validate_url(
    settings: Settings, validators: Validators, url: str, kind: Kind, profile: str | None
) -> dict[str, Any]:
    async with HttpClient(settings) as client:
        if kind is Kind.GBFS or (kind is Kind.AUTO and url.rstrip("/").endswith("gbfs.json")):
            return validate_gbfs_files(await gbfs_from_url(client, url), validators)
        content = (await client.get(url)).content
    name = url.rsplit("/", 1)[-1] or "document"
    return validate_document(content, name=name, kind=kind, validators=validators, profile=profile)


def _validation_text(target: str, result: dict[str, Any]) -> str:
    verdict = "valid" if result["valid"] else "INVALID"
    lines = [f"{target}: {verdict} ({result['kind']}): {result['errors']} errors, {result['warnings']} warnings"]
    findings = result["findings"]
    items = [f for found in findings.values() for f in found] if isinstance(findings, dict) else findings
    lines += [f"  {f['severity']:<7} {f['rule']:<36} {f['pointer'] or '/'}  {f['message']}" for f in items[:200]]
    if len(items) > 200 or result.get("truncated"):
        lines.append("  … more findings: use --format json for the full list; counts per rule:")
        lines += [f"    {rule}: {n}" for rule, n in result["counts"].items()]
    return "\n".join(lines)


@app.command("scheduler")
def scheduler_command() -> None:
    """Run the harvest scheduler on its own (no API), until interrupted."""
    settings = _settings()
    db = _migrated_db(settings)
    guarded(lambda: _reap(db))
    registry = guarded(lambda: load_cities(settings.cities_file))
    typer.echo(f"scheduling {len(wanted_jobs(registry))} sources from {settings.cities_file} (Ctrl-C to stop)")
    try:
        asyncio.run(_schedule_forever(settings, db, registry))
    except KeyboardInterrupt:
        typer.echo("scheduler stopped")


async def _schedule_forever(settings: Settings, db: Database, registry: Registry) -> None:
    async with HttpClient(settings) as client:
        scheduler = HarvestScheduler(
            Harvester(db, registry, client, validator=record_validator(settings)), cities_file=settings.cities_file
        )
        scheduler.start()
        try:
            await asyncio.Event().wait()
        finally:
            scheduler.shutdown()
            await scheduler.harvester.aclose()


def main() -> None:
    """Console-script entry point."""
    app(prog_name="nordhub")


if __name__ == "__main__":
    main()
