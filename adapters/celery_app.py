"""Outbox delivery and timers as Celery tasks, for deployments that run workers on several machines.

The outbox table stays the source of truth. A Celery message carries no outbox content, only
"look at the database now": `motcua.deliver_due` claims due rows exactly as the in-process loop
does (SKIP LOCKED on PostgreSQL, a `sending` lease), so any number of tasks may run at once, and
a lost, duplicated or expired message only delays delivery until the next tick. Ticks come from
a small dispatcher loop (`motcua worker --celery --dispatch`), not from Celery beat: it needs no
schedule file and nothing else to keep in step with the database.

Configuration comes from the environment, so the worker, the dispatcher and the tests build
the same app:
  MOTCUA_CELERY_BROKER          redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672//
  MOTCUA_CELERY_PREFIX          optional namespace for queue names (and every Redis key), so
                                several deployments, or test runs, can share one broker
  MOTCUA_CELERY_RESULT_BACKEND  optional; off by default (nothing reads task results in
                                production: the outbox and delivery_attempts tables are the record)
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import Celery
from kombu import Queue

from engine.motcua import Motcua

from .delivery import deliver_due
from .registry import AdaptersConfig, load_config

BROKER_ENV = "MOTCUA_CELERY_BROKER"
PREFIX_ENV = "MOTCUA_CELERY_PREFIX"
RESULT_BACKEND_ENV = "MOTCUA_CELERY_RESULT_BACKEND"

OUTBOX_QUEUE = "motcua.outbox"
TIMERS_QUEUE = "motcua.timers"
DELIVER_TASK = "motcua.deliver_due"
TIMERS_TASK = "motcua.fire_due_timers"

# One task drains what is due in batches, but gives its worker back after this long so that a
# big backlog is shared between workers through fresh ticks instead of held by one task.
DRAIN_SECONDS = 30.0


class CeleryNotConfigured(RuntimeError):
    """No broker URL: Celery mode cannot start."""


@dataclass(frozen=True)
class Queues:
    outbox: str
    timers: str

    @classmethod
    def with_prefix(cls, prefix: str) -> Queues:
        return cls(prefix + OUTBOX_QUEUE, prefix + TIMERS_QUEUE)

    def all(self) -> list[str]:
        return [self.outbox, self.timers]


def create_app(
    broker: str | None = None, *, prefix: str | None = None, result_backend: str | None = None
) -> Celery:
    """A Celery app with motcua's tasks registered. Arguments left out come from the environment."""
    broker = broker or os.environ.get(BROKER_ENV, "")
    if not broker:
        raise CeleryNotConfigured(f"${BROKER_ENV} is not set (e.g. redis://127.0.0.1:6379/0)")
    prefix = os.environ.get(PREFIX_ENV, "") if prefix is None else prefix
    if result_backend is None:
        result_backend = os.environ.get(RESULT_BACKEND_ENV, "")
    queues = Queues.with_prefix(prefix)
    app = Celery("motcua", broker=broker, set_as_current=False)
    app.conf.update(
        # Messages are plain JSON (a limit, an optional instant): no pickle, so a broker reachable
        # by someone else cannot make a worker run arbitrary code.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        result_backend=result_backend or None,
        task_ignore_result=not result_backend,
        # Acknowledge after the task ran: a worker that dies mid-task leaves its message to be
        # redelivered. Running a delivery or timer pass twice is harmless (claims are leased and
        # skip-locked; timers compare-and-swap the case version), losing one only waits a tick.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # With late acks the running task counts against the prefetch window, so a busy worker
        # holds no queued tick that an idle worker on another machine could run now.
        worker_prefetch_multiplier=1,
        task_queues=[Queue(name) for name in queues.all()],
        task_routes={DELIVER_TASK: {"queue": queues.outbox}, TIMERS_TASK: {"queue": queues.timers}},
        task_default_queue=queues.outbox,
        task_create_missing_queues=False,
        broker_connection_retry_on_startup=True,
        worker_send_task_events=False,
        enable_utc=True,
    )
    if prefix and broker.startswith(("redis://", "rediss://")):
        # Namespaces every key kombu and the result backend write, not only the queue lists.
        app.conf.broker_transport_options = {"global_keyprefix": prefix}
        app.conf.result_backend_transport_options = {"global_keyprefix": prefix}
    app.conf.motcua_queues = queues
    _register_tasks(app)
    return app


def queues_of(app: Celery) -> Queues:
    return app.conf.motcua_queues  # type: ignore[no-any-return]


def dispatch_tick(app: Celery, *, tasks: int = 1, limit: int = 100, expires: float = 10.0) -> None:
    """One tick: ask the workers for `tasks` delivery passes and one timer pass. A tick not picked
    up within `expires` seconds is dropped by the worker that finally receives it, so ticks
    sent while every worker was down do not pile up into a burst of useless passes."""
    for _ in range(tasks):
        app.tasks[DELIVER_TASK].apply_async(kwargs={"limit": limit}, expires=expires)
    app.tasks[TIMERS_TASK].apply_async(expires=expires)


def worker_argv(
    app: Celery, *, concurrency: int, loglevel: str, queues: list[str] | None = None
) -> list[str]:
    """Arguments for `app.worker_main`."""
    argv = [
        "worker",
        f"--queues={','.join(queues or queues_of(app).all())}",
        f"--concurrency={concurrency}",
        f"--loglevel={loglevel}",
        f"--hostname=motcua-{os.getpid()}@%h",
        # Gossip and mingle synchronise worker state (revokes, clocks) that these tasks do not
        # use; without them a worker starts faster and chatters less on the broker.
        "--without-gossip",
        "--without-mingle",
    ]
    if concurrency == 1:
        # One task at a time in the worker process itself: no pool to manage.
        argv.append("--pool=solo")
    return argv


# -- tasks ---------------------------------------------------------------------------------------

_runtime: dict[str, Any] = {}


def _motcua() -> Motcua:
    """Built once per worker process, on first use: after a prefork pool forked its children,
    so no database connection is shared across processes."""
    if "m" not in _runtime:
        _runtime["m"] = Motcua.from_env()
    return _runtime["m"]  # type: ignore[no-any-return]


def _config() -> AdaptersConfig:
    # Read once per process from $MOTCUA_ADAPTERS; the worker command validated it at start.
    if "config" not in _runtime:
        _runtime["config"] = load_config()
    return _runtime["config"]  # type: ignore[no-any-return]


def run_delivery(limit: int = 100, now: str | None = None) -> int:
    """Deliver due messages in batches of `limit` until fewer than a batch was due or the drain
    time is spent; returns how many were handled. `now` (ISO 8601) pins the delivery instant."""
    m, config = _motcua(), _config()
    at = datetime.fromisoformat(now) if now else None
    handled = 0
    started = time.monotonic()
    while True:
        batch = deliver_due(m, config.adapters, limit, at, policy=config.retry)
        handled += batch
        if batch < limit or time.monotonic() - started >= DRAIN_SECONDS:
            return handled


def run_timers(limit: int = 50) -> int:
    return _motcua().fire_due_timers(limit)


def _register_tasks(app: Celery) -> None:
    app.task(name=DELIVER_TASK)(run_delivery)
    app.task(name=TIMERS_TASK)(run_timers)
