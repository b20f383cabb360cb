"""The `motcua` console script: engine commands plus `demo`, which needs the web layer."""

from __future__ import annotations

import sys

import click

from adapters.cli import deliver, worker
from engine.cli import cli
from engine.errors import MotcuaError

cli.add_command(deliver)
# Replaces the engine's `worker` (same name) with one that adds --celery and otherwise calls
# the engine's own command: the engine itself stays free of Celery.
cli.add_command(worker)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
def demo(host: str, port: int) -> None:
    """Set everything up (database, processes, seed, demo cases) and serve the product."""
    from .demo import run_demo

    run_demo(host, port)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except MotcuaError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
