"""``nordhub schemas``: fill and inspect the schema store (mounted by ``hub.cli``).

Each command turns the hub's own errors into one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Annotated

import typer

from harvester.http import HttpClient
from hub.cli_support import guarded, load_settings
from hub.settings import Settings
from schemas.store import ArtefactState, SchemaStore, SyncReport

app = typer.Typer(
    help="Sync and list the Smart Data Models and GBFS schemas the hub validates against.",
    no_args_is_help=True,
)
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: NORDHUB_DATA_DIR); the store is its schemas/."),
]


def _store(data_dir: Path | None) -> SchemaStore:
    root = (data_dir if data_dir is not None else load_settings().data_dir) / "schemas"
    return SchemaStore(root)


async def _sync_online(store: SchemaStore, settings: Settings) -> SyncReport:
    async with HttpClient(settings) as client:

        async def fetch(url: str) -> bytes:
            return (await client.get(url)).content

        return await store.sync_from_urls(fetch)


@app.command()
def sync(
    source: Annotated[
        Path | None,
        typer.Option(
            "--from", help="Copy from this folder (shared/data, or one collection's folder) instead of fetching."
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Fill the schema store from the official URLs (or --from DIR), verifying every sha256 against the manifest."""
    store = guarded(lambda: _store(data_dir))
    if source is not None:
        report = guarded(lambda: store.sync_from_dir(source))
        shapes = copy_shapes(source, store.root)
        if shapes:
            typer.echo(f"DCAT-AP SHACL shapes copied: {shapes} files")
    else:
        settings = guarded(load_settings)
        report = guarded(lambda: asyncio.run(_sync_online(store, settings)))
    typer.echo(
        f"verified {report.verified} artefacts ({len(report.written)} written, {len(report.unchanged)} unchanged) "
        f"into {store.root}; collections: {', '.join(report.collections)}"
    )
    if report.skipped:
        typer.echo(f"not in the source: {', '.join(report.skipped)}")


@app.command("list")
def list_artefacts(data_dir: DataDirOption = None) -> None:
    """List the manifest's artefacts with their state in the store."""
    store = guarded(lambda: _store(data_dir))
    states = guarded(store.inventory)
    for artefact, state in states:
        typer.echo(f"{state.value:<9} {artefact.kind.value:<12} {artefact.path}  {artefact.version}")
    ok = sum(state is ArtefactState.OK for _, state in states)
    synced = ", ".join(sorted(store.collections())) or "nothing synced: structural checks only"
    typer.echo(f"{ok} of {len(states)} artefacts present and verified in {store.root} ({synced})")


def copy_shapes(source: Path, root: Path) -> int:
    """Copy the DCAT-AP SHACL shapes and the MQA vocabulary lists under ``source`` into the store; returns files."""
    copied = 0
    for part in (Path("dcat-ap") / "shacl", Path("mqa") / "vocabs"):
        if (source / part).is_dir():
            shutil.copytree(source / part, root / part, dirs_exist_ok=True)
            copied += sum(1 for path in (root / part).rglob("*") if path.is_file())
    return copied
