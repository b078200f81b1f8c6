"""``nordhub contexts``: sync from a folder, add a context under its URL, list; bad input is one line, exit 1."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hub import cli
from hub.db import Database
from ngsi.contexts import ContextService
from tests.hub.test_cli import _env, _run

URL = "https://forge.example.org/ngsi-ld-test-suite-compound.jsonld"


def test_sync_add_list(tmp_path: Path, database_url: str, shared_data: Path) -> None:
    env = _env(tmp_path, database_url)
    synced = _run(["contexts", "sync", "--from", str(shared_data)], env)
    assert synced.returncode == 0, synced.stderr
    assert "verified 10 contexts (10 written, 0 unchanged)" in synced.stdout
    document = tmp_path / "compound.jsonld"
    document.write_text(json.dumps({"@context": {"speed": "https://example.org/speed"}}))
    added = _run(["contexts", "add", URL, str(document)], env)
    assert added.returncode == 0, added.stderr
    assert URL in added.stdout
    listed = _run(["contexts", "list"], env)
    assert listed.returncode == 0, listed.stderr
    assert "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld" in listed.stdout
    assert f"cached    {URL}" in listed.stdout
    assert "10 of 10 official contexts present" in listed.stdout
    db = Database(database_url)
    service = ContextService(tmp_path / "var" / "contexts", db)
    assert service.translation(URL).to_stored("speed") == "https://example.org/speed"
    db.dispose()


def test_bad_input_is_one_line_and_exit_1(tmp_path: Path, database_url: str) -> None:
    env = _env(tmp_path, database_url)
    not_json = tmp_path / "broken.jsonld"
    not_json.write_text("{")
    no_context = tmp_path / "plain.json"
    no_context.write_text('{"speed": 1}')
    cases = [
        (["contexts", "sync", "--from", str(tmp_path / "nowhere")], "is not a directory"),
        (["contexts", "add", URL, str(tmp_path / "missing.jsonld")], "cannot read"),
        (["contexts", "add", URL, str(not_json)], "is not JSON"),
        (["contexts", "add", URL, str(no_context)], "with an @context member"),
        (["contexts", "add", "not-a-url", str(no_context)], "must be an http(s) URL"),
    ]
    runner = CliRunner()
    for args, message in cases:  # in-process: a subprocess per case costs seconds on a busy machine
        result = runner.invoke(cli.app, args, env=env)
        assert result.exit_code == 1, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert result.stderr.count("\n") == 1, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
