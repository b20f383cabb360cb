"""`motcua deliver`: the in-process delivery worker. Lives here, not in `engine.cli`, because
the engine must not import adapters; the console script registers it (see docs/adapters.md)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from engine.motcua import Motcua

from .delivery import deliver_due
from .registry import load_config


@click.command()
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option(
    "--interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.05),
    help="Seconds to wait when nothing was due.",
)
@click.option(
    "--limit", default=100, show_default=True, type=click.IntRange(min=1), help="Messages per batch."
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Adapters configuration (JSON); default: the file named by $MOTCUA_ADAPTERS.",
)
def deliver(once: bool, interval: float, limit: int, config_path: Path | None) -> None:
    """Send due outbox messages to the configured adapters (national portal, webhooks)."""
    # Validated before the first claim: a broken configuration must stop the launch.
    config = load_config(config_path)
    if not config.adapters:
        click.echo("warning: no adapter is enabled; due messages will be marked skipped", err=True)
    m = Motcua.from_env()
    names = ", ".join(a.instance for a in config.adapters) or "none"
    click.echo(f"delivering to: {names}")
    while True:
        handled = deliver_due(m, config.adapters, limit, policy=config.retry)
        if handled:
            click.echo(f"handled {handled} message(s)")
        if once:
            return
        if handled < limit:
            time.sleep(interval)
