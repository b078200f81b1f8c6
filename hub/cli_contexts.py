"""``nordhub contexts``: fill and inspect the JSON-LD context store (mounted by ``hub.cli``; a composition root).

Each command turns the hub's own errors (and unreadable files) into one line on stderr and exit status 1.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from harvester.http import HttpClient
from hub.cli_support import guarded, load_settings
from hub.db import Database
from hub.errors import ConfigError
from hub.settings import Settings
from ngsi.contexts import ContextKind, ContextService, context_files, parse_document
from schemas.store import ArtefactState, SchemaStore, SyncReport

app = typer.Typer(help="Sync, add and list the JSON-LD @contexts the NGSI-LD API resolves.", no_args_is_help=True)


def _service(settings: Settings) -> ContextService:
    db = Database.configured(settings)
    db.upgrade()
    return ContextService(settings.data_dir / "contexts", db)


async def _sync_online(files: SchemaStore, settings: Settings) -> SyncReport:
    async with HttpClient(settings) as client:

        async def fetch(url: str) -> bytes:
            return (await client.get(url)).content

        return await files.sync_from_urls(fetch)


@app.command()
def sync(
    source: Annotated[
        Path | None,
        typer.Option("--from", help="Copy from this folder (shared/data, or its ngsi-ld or smart-data-models)."),
    ] = None,
) -> None:
    """Fill the store with the ETSI core and Smart Data Models contexts, verifying every sha256."""
    settings = guarded(load_settings)
    files = context_files(settings.data_dir / "contexts")
    if source is not None:
        if not source.is_dir():
            guarded(lambda: _not_a_folder(source))
        report = guarded(lambda: files.sync_from_dir(source))
    else:
        report = guarded(lambda: asyncio.run(_sync_online(files, settings)))
    typer.echo(
        f"verified {report.verified} contexts ({len(report.written)} written, {len(report.unchanged)} unchanged) "
        f"into {files.root}; collections: {', '.join(report.collections)}"
    )
    if report.skipped:
        typer.echo(f"not in the source: {', '.join(report.skipped)}")


@app.command()
def add(
    url: Annotated[str, typer.Argument(help="The canonical URL clients name the context by.")],
    file: Annotated[Path, typer.Argument(help="The context document (JSON with an @context member).")],
) -> None:
    """Pre-load a context under its URL, so requests naming it work offline."""
    document = guarded(lambda: _read_document(url, file))
    settings = guarded(load_settings)
    service = guarded(lambda: _service(settings))
    try:
        info = guarded(lambda: service.add(url, document, ContextKind.CACHED))
    finally:
        service.db.dispose()
    typer.echo(f"added {info.url} (id {info.id})")


def _not_a_folder(source: Path) -> None:
    raise ConfigError(f"context source {source} is not a directory")


def _read_document(url: str, file: Path) -> dict[str, Any]:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"context URL {url!r} must be an http(s) URL")
    try:
        body = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from None
    return parse_document(str(file), body)


@app.command("list")
def list_contexts() -> None:
    """List every context: the synced official ones with their state, then those added at run time."""
    settings = guarded(load_settings)
    service = guarded(lambda: _service(settings))
    states = guarded(service.files.inventory)
    for artefact, state in states:
        typer.echo(f"{state.value:<9} official  {artefact.url}  ({artefact.path})")
        for alias in artefact.aliases:
            typer.echo(f"{state.value:<9} alias     {alias}")
    try:
        added = [e for e in guarded(service.entries) if not e.official]
    finally:
        service.db.dispose()
    for entry in added:
        typer.echo(f"{'ok':<9} {entry.kind.value.lower():<9} {entry.url}  (id {entry.id})")
    ok = sum(state is ArtefactState.OK for _, state in states)
    typer.echo(f"{ok} of {len(states)} official contexts present in {service.files.root}; {len(added)} added")
