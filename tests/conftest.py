"""Shared fixtures. Every database test runs on SQLite, and on PostgreSQL too when
MOTCUA_TEST_POSTGRES_URL points at a server we may create throw-away databases on."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from engine.calendar import VN_TZ
from engine.clock import ManualClock
from engine.config import Settings
from engine.db import throwaway_postgres_database
from engine.motcua import Motcua
from engine.seed import load_seed

POSTGRES_URL = os.environ.get("MOTCUA_TEST_POSTGRES_URL", "")
_counter = itertools.count()
# Monday 2 March 2026, 09:00 in Hà Nội: an ordinary working morning.
START = datetime(2026, 3, 2, 9, 0, tzinfo=VN_TZ)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'motcua.sqlite3'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL run skipped: MOTCUA_TEST_POSTGRES_URL is not set")
    yield from _postgres_database()


def _postgres_database() -> Iterator[str]:
    name = f"{make_url(POSTGRES_URL).database}_t{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    with throwaway_postgres_database(POSTGRES_URL, name) as url:
        yield url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return replace(Settings(), home=tmp_path)


@pytest.fixture
def motcua(database_url: str, clock: ManualClock, settings: Settings) -> Iterator[Motcua]:
    """A migrated, seeded database with the shipped processes deployed."""
    m = Motcua(settings, clock=clock, database_url=database_url)
    m.migrate()
    load_seed(m)
    m.deploy_processes()
    yield m
    m.db.dispose()
