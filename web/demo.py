"""`motcua demo`: the whole set-up a newcomer needs, then serve.

Creates the data directory (MOTCUA_HOME, default ./instance), applies migrations, loads the
seed, deploys processes/, creates a few demo cases the first time, fires timers in a background
thread, and serves the web app."""

from __future__ import annotations

import threading
import time

import click
from sqlalchemy import func, select

from engine.db import transaction
from engine.models import Case
from engine.motcua import Motcua
from engine.seed import load_seed

from .app import create_app
from .demo_cases import create_demo_cases, create_demo_passwords


def run_demo(host: str, port: int) -> None:
    motcua = Motcua.from_env()
    motcua.settings.home.mkdir(parents=True, exist_ok=True)
    motcua.migrate()
    load_seed(motcua)
    for definition in motcua.deploy_processes():
        click.echo(f"process {definition.process_id} v{definition.version}")
    with transaction(motcua.sessions) as session:
        has_cases = session.scalar(select(func.count()).select_from(Case)) > 0
    if not has_cases:
        for line in create_demo_cases(motcua):
            click.echo(line)
        click.echo("Demo staff accounts (passwords are shown only this once):")
        for username, roles, password in create_demo_passwords(motcua):
            click.echo(f"  {username:20} {'/'.join(roles):20} {password}")
    threading.Thread(target=_timer_loop, args=(motcua,), daemon=True, name="motcua-timers").start()
    click.echo(f"serving on http://{host}:{port}/  (data in {motcua.settings.home.resolve()})")
    create_app(motcua).run(host=host, port=port, threaded=True, use_reloader=False)


def _timer_loop(motcua: Motcua, interval: float = 5.0) -> None:
    while True:
        try:
            motcua.fire_due_timers()
        except Exception as err:  # noqa: BLE001 - the demo keeps serving; the error is shown
            click.echo(f"timer worker: {err}", err=True)
        time.sleep(interval)
