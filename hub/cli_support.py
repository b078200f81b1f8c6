"""What every ``nordhub`` sub-command shares: one line on stderr and exit 1 for the hub's own errors, and the
settings read with every invalid variable named (never a traceback)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer
from pydantic import ValidationError

from hub.errors import ConfigError, NordhubError
from hub.settings import Settings

T = TypeVar("T")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``nordhub: error: message`` on stderr; the caller raises the returned Exit."""
    typer.echo(f"nordhub: error: {message}", err=True)
    return typer.Exit(code)


def guarded(action: Callable[[], T]) -> T:
    """Run ``action``; the hub's own errors become one clear line and exit status 1."""
    try:
        return action()
    except NordhubError as exc:
        raise fail(exc.detail) from None


def load_settings() -> Settings:
    """The settings from the environment; a ConfigError naming every invalid ``NORDHUB_*`` variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"NORDHUB_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid settings: {problems}") from None
