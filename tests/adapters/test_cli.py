"""`motcua deliver --once` against the test portal."""

from __future__ import annotations

import json

from click.testing import CliRunner

from adapters.cli import deliver
from adapters.registry import ConfigError
from engine.db import transaction
from engine.models import OutboxMessage

from .portal import Portal
from .test_delivery import SECRET, receive_and_accept


def test_deliver_once_sends_due_messages(motcua, tmp_path, monkeypatch):
    portal = Portal()
    try:
        code = receive_and_accept(motcua)
        config = tmp_path / "adapters.json"
        config.write_text(json.dumps({"adapters": {"dvcqg": {"url": portal.url, "secret": SECRET}}}))
        monkeypatch.setenv("MOTCUA_DATABASE_URL", motcua.db.url.render_as_string(hide_password=False))
        monkeypatch.setenv("MOTCUA_HOME", str(tmp_path))
        result = CliRunner().invoke(deliver, ["--once", "--config", str(config)])
        assert result.exit_code == 0, result.output
        assert "delivering to: dvcqg" in result.output and "handled 3 message(s)" in result.output
        assert [(b["MaHoSo"], b["TrangThaiHoSo"]) for b in portal.applied_bodies()] == [(code, 2), (code, 4)]
        with transaction(motcua.sessions) as session:
            assert {r.state for r in session.query(OutboxMessage)} == {"delivered", "skipped"}
    finally:
        portal.stop()


def test_a_broken_configuration_stops_the_launch(tmp_path):
    config = tmp_path / "adapters.json"
    config.write_text(
        json.dumps({"adapters": {"dvcqg": {"url": "http://portal.example.vn", "secret": SECRET}}})
    )
    result = CliRunner().invoke(deliver, ["--once", "--config", str(config)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert "adapters.dvcqg.url: must be an https:// or http://127.0.0.1 URL" in str(result.exception)
