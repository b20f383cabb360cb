"""The `motcua` command line, as an operator uses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from web.cli import cli


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MOTCUA_HOME", str(tmp_path))
    monkeypatch.delenv("MOTCUA_DATABASE_URL", raising=False)
    return CliRunner()


def run(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_calendar_due_and_is_working(runner):
    # Thursday 12 Feb 2026 + 5 working days: Fri 13, then Tết (14–22 Feb), Mon 23 … Thu 26
    assert run(runner, "calendar", "due", "2026-02-12T09:00:00+07:00", "5") == "2026-02-26T09:00:00+07:00"
    # received after 15:00: counting starts Tuesday 07:00; one working day lands at Tuesday closing
    due = run(runner, "calendar", "due", "2026-03-02T15:30+07:00", "1", "--cutoff")
    assert due == "2026-03-03T17:00:00+07:00"
    assert run(runner, "calendar", "due", "2026-03-02T09:00+07:00", "4", "--unit", "working-hours") == (
        "2026-03-02T15:00:00+07:00"
    )
    assert run(runner, "calendar", "is-working", "2026-11-24") == "no"
    assert run(runner, "calendar", "is-working", "2026-01-10") == "yes"  # make-up Saturday
    bad = runner.invoke(cli, ["calendar", "is-working", "24/11/2026"])
    assert bad.exit_code == 2 and "is not a date" in bad.output


def test_seed_worker_and_history_verify(runner, tmp_path):
    assert run(runner, "db", "upgrade").startswith("database at head: sqlite:///")
    out = run(runner, "seed")
    assert "dossier_standard v1" in out and "feedback v1" in out
    assert run(runner, "seed").count("v1") == 3  # idempotent: same versions
    assert run(runner, "worker", "--once") == ""
    from engine.motcua import Motcua

    m = Motcua.from_env()
    code = m.receive_dossier(
        "2.000720", "XA_AN_BINH", applicant={"name": "A"}, actor=m.actor_for("motcua_anbinh")
    ).case_code
    assert run(runner, "history", "verify", code).startswith("intact: 2 event(s)")
    missing = runner.invoke(cli, ["history", "verify", "NO-SUCH"])
    assert missing.exit_code != 0 and "does not exist" in (missing.output + str(missing.exception))


def test_api_tokens_issue_and_revoke(runner):
    run(runner, "seed")
    token = run(runner, "token", "issue", "Cổng tỉnh", "XA_AN_BINH", "officer")
    assert token.startswith("mct_") and len(token) > 40
    from engine.access import authenticate_token
    from engine.errors import PermissionDenied
    from engine.motcua import Motcua

    m = Motcua.from_env()
    assert authenticate_token(m, token).roles == frozenset({"officer"})
    assert run(runner, "token", "revoke", token[:12]) == "revoked 1 token(s)"
    with pytest.raises(PermissionDenied):
        authenticate_token(m, token)
    bad = runner.invoke(cli, ["token", "issue", "x", "XA_AN_BINH", "mayor"])
    assert bad.exit_code != 0
