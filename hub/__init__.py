"""Nordhub kernel: settings, errors, database, cities registry, CLI."""

__version__ = "0.1.0"
