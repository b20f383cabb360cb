"""`motcua deliver` (the in-process delivery loop) and `motcua worker`, which extends the engine's
timer worker with Celery mode. They live here, not in `engine.cli`, because the engine must not
import adapters or Celery; the console script registers both (see docs/adapters.md)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from engine.cli import worker as engine_worker
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


@click.command()
@click.option("--once", is_flag=True, help="One pass (or, with --dispatch, one tick), then exit.")
@click.option(
    "--interval", type=float, default=5.0, show_default=True, help="Seconds between polls or ticks."
)
@click.option("--celery", "use_celery", is_flag=True, help="Run as a Celery worker ($MOTCUA_CELERY_BROKER).")
@click.option("--dispatch", is_flag=True, help="With --celery: send delivery and timer ticks to the workers.")
@click.option(
    "--concurrency",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="With --celery: tasks run at once by this worker (1: in the worker process itself).",
)
@click.option(
    "--queue",
    "queues",
    multiple=True,
    type=click.Choice(["outbox", "timers"]),
    help="With --celery: consume only these queues (default: both).",
)
@click.option(
    "--tasks",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="With --dispatch: delivery tasks per tick (about the number of workers to keep busy).",
)
@click.option(
    "--limit", default=100, show_default=True, type=click.IntRange(min=1), help="Messages per batch."
)
@click.option("--loglevel", default="info", show_default=True, help="With --celery: Celery's log level.")
@click.pass_context
def worker(
    ctx: click.Context,
    once: bool,
    interval: float,
    use_celery: bool,
    dispatch: bool,
    concurrency: int,
    queues: tuple[str, ...],
    tasks: int,
    limit: int,
    loglevel: str,
) -> None:
    """Fire due timers, forever (or once); with --celery, run outbox delivery and timers as
    Celery tasks (a worker, or with --dispatch the loop that sends them their ticks)."""
    if not use_celery:
        if dispatch:
            raise click.UsageError("--dispatch works with --celery")
        ctx.invoke(engine_worker, once=once, interval=interval)
        return
    from kombu.exceptions import OperationalError

    from .celery_app import CeleryNotConfigured, create_app, dispatch_tick, queues_of, worker_argv

    try:
        app = create_app()
    except CeleryNotConfigured as err:
        raise click.UsageError(str(err)) from None
    # Validated before anything runs: a broken configuration must stop the launch, here as in
    # `motcua deliver`, not surface later as failed tasks.
    config = load_config()
    if dispatch:
        # A tick older than two intervals is superseded by a newer one: let workers drop it.
        expires = max(2 * interval, 1.0)
        while True:
            try:
                dispatch_tick(app, tasks=tasks, limit=limit, expires=expires)
            except OperationalError as err:
                # The broker is away: nothing is lost (the outbox holds the messages); try again.
                click.echo(f"warning: broker unreachable: {err}", err=True)
            if once:
                return
            time.sleep(interval)
    if once:
        raise click.UsageError("--once works without --celery or with --dispatch")
    if not config.adapters:
        click.echo("warning: no adapter is enabled; due messages will be marked skipped", err=True)
    names = [getattr(queues_of(app), q) for q in queues] or None
    app.worker_main(worker_argv(app, concurrency=concurrency, loglevel=loglevel, queues=names))
