"""The key delivery tests twice: in-process, and through a real Celery worker subprocess
(`motcua worker --celery`) on a real broker. Redis is expected on 127.0.0.1:6379 and RabbitMQ on
127.0.0.1:5672; when a broker does not answer, its tests are skipped and say why."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import kombu
import pytest
import redis
from celery.exceptions import TimeoutError as ResultNotReady
from click.testing import CliRunner

from adapters.celery_app import DELIVER_TASK, Queues, create_app
from adapters.registry import load_config, verify
from engine.motcua import Motcua

from .portal import Portal
from .test_delivery import POLICY, SECRET, attempts, deliver, receive_and_accept, rows, statuses

# A database number of its own, and a key prefix per test, so runs sharing a server never meet.
REDIS_URL = os.environ.get("MOTCUA_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
AMQP_URL = os.environ.get("MOTCUA_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
TASK_WAIT_SECONDS = 40.0  # a deadline for a stuck worker, not a performance expectation

Deliver = Callable[..., int]


def broker_problem(url: str) -> str | None:
    """Why the broker at `url` cannot be used, or None when it answers."""
    try:
        with kombu.Connection(url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None


def require_broker(url: str) -> None:
    problem = broker_problem(url)
    if problem:
        pytest.skip(f"no broker at {url} ({problem}); start one to run the Celery tests")


def adapters_config(portal: Portal) -> dict[str, Any]:
    retry = {"max_attempts": POLICY.max_attempts, "base_seconds": POLICY.base_seconds}
    retry["cap_seconds"] = POLICY.cap_seconds
    return {"adapters": {"dvcqg": {"url": portal.url, "secret": SECRET}}, "retry": retry}


class CeleryRun:
    """Worker subprocesses of `motcua worker --celery` on one database, one broker namespace."""

    def __init__(self, m: Motcua, home: Path, broker: str, config: dict[str, Any]):
        self.m, self.home, self.broker = m, home, broker
        self.prefix = f"motcua-test-{uuid.uuid4().hex[:10]}:"
        self.results = "rpc://" if broker.startswith("amqp") else broker
        config_path = home / "adapters.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        self.env = {
            **os.environ,
            "MOTCUA_DATABASE_URL": m.db.url.render_as_string(hide_password=False),
            "MOTCUA_HOME": str(home),
            "MOTCUA_ADAPTERS": str(config_path),
            "MOTCUA_CELERY_BROKER": broker,
            "MOTCUA_CELERY_PREFIX": self.prefix,
            "MOTCUA_CELERY_RESULT_BACKEND": self.results,
        }
        self.app = create_app(broker, prefix=self.prefix, result_backend=self.results)
        self.workers: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start_worker(self) -> None:
        log = self.home / f"worker-{len(self.workers)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*motcua_command(), "worker", "--celery", "--loglevel=warning"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.workers.append((process, log))

    def run(self, task: str, **kwargs: Any) -> int:
        """Send one task and wait for the worker's answer (how many it handled)."""
        result = self.app.tasks[task].apply_async(kwargs=kwargs)
        deadline = time.monotonic() + TASK_WAIT_SECONDS
        while True:
            for process, log in self.workers:
                if process.poll() is not None:
                    pytest.fail(f"the Celery worker exited ({process.returncode}):\n{log.read_text()}")
            try:
                return int(result.get(timeout=0.5))
            except ResultNotReady:
                if time.monotonic() > deadline:
                    pytest.fail(f"no answer from the worker:\n{self.logs()}")

    def deliver(self, minutes: float = 0, limit: int = 100) -> int:
        now = self.m.clock.now() + timedelta(minutes=minutes)
        return self.run(DELIVER_TASK, limit=limit, now=now.isoformat())

    def logs(self) -> str:
        return "\n".join(log.read_text(errors="replace") for _, log in self.workers)

    def close(self) -> None:
        for process, _ in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # warm shutdown: finish the running task
        for process, _ in self.workers:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.app.close()
        self._flush()

    def _flush(self) -> None:
        """Remove what this run created in the broker."""
        if self.broker.startswith("redis"):
            client = redis.Redis.from_url(self.broker)
            try:
                keys = list(client.scan_iter(match=f"{self.prefix}*", count=500))
                if keys:
                    client.delete(*keys)
            finally:
                client.close()
            return
        with kombu.Connection(self.broker, connect_timeout=2) as connection:
            channel = connection.channel()
            for name in Queues.with_prefix(self.prefix).all():
                kombu.Queue(name, channel=channel).delete()


def motcua_command() -> list[str]:
    """The installed console script when there is one, else the same entry point by module."""
    script = Path(sys.executable).parent / "motcua"
    if script.exists():
        return [str(script)]
    found = shutil.which("motcua")
    return [found] if found else [sys.executable, "-c", "from web.cli import main; main()"]


@pytest.fixture
def portal() -> Iterator[Portal]:
    server = Portal()
    yield server
    server.stop()


@pytest.fixture
def celery_run(motcua: Motcua, portal: Portal, tmp_path: Path) -> Iterator[Callable[[str], CeleryRun]]:
    runs: list[CeleryRun] = []

    def make(broker: str) -> CeleryRun:
        require_broker(broker)
        run = CeleryRun(motcua, tmp_path, broker, adapters_config(portal))
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.close()


@pytest.fixture(params=["in-process", "celery"])
def deliver_now(request, motcua, portal, celery_run) -> Deliver:
    """`deliver_now(minutes=0)`: one delivery pass at the test clock's now + minutes; returns how
    many messages were handled. Same policy both ways."""
    if request.param == "in-process":
        adapters = load_config(adapters_config(portal)).adapters
        return lambda minutes=0: deliver(motcua, adapters, minutes)
    run = celery_run(REDIS_URL)
    run.start_worker()
    return run.deliver


def test_status_change_reaches_the_portal_signed_with_its_key(motcua, portal, deliver_now):
    code = receive_and_accept(motcua)
    assert deliver_now() == 3  # two status changes and one appointment message (skipped)

    assert statuses(portal) == [(code, 2), (code, 4)]
    first = portal.requests[0]
    status_rows = rows(motcua)
    assert first.key == status_rows[0].idempotency_key == f"{code}:5:case.status_changed"
    assert verify(SECRET, first.body, first.headers["X-Motcua-Signature"])
    assert first.json()["MaTTHC"] == "2.000720"
    assert [r.state for r in status_rows] == ["delivered", "delivered"]
    assert all(r.delivered_at == motcua.clock.now() for r in status_rows)
    (attempt,) = attempts(motcua, status_rows[0].id)
    assert (attempt.adapter, attempt.status_code, attempt.outcome) == ("dvcqg", 200, "delivered")
    assert [r.state for r in rows(motcua, "case.appointment_changed")] == ["skipped"]
    assert deliver_now(minutes=60) == 0
    assert len(portal.requests) == 2


def test_500_then_200_is_retried_and_each_case_stays_in_order(motcua, portal, deliver_now):
    first = receive_and_accept(motcua)
    second = receive_and_accept(motcua)
    portal.answer("500")  # the first request: case one's "received"

    deliver_now()
    assert statuses(portal) == [(second, 2), (second, 4)]
    # Case one's "processing" waits behind its "received", which waits for its retry.
    received_row, processing_row = rows(motcua)[:2]
    assert [(a.status_code, a.outcome) for a in attempts(motcua, received_row.id)] == [(500, "retry")]
    assert attempts(motcua, processing_row.id) == []

    assert deliver_now() == 0  # not due yet: back-off
    deliver_now(minutes=5)
    assert statuses(portal) == [(second, 2), (second, 4), (first, 2), (first, 4)]
    tries = attempts(motcua, received_row.id)
    assert [(a.status_code, a.outcome) for a in tries] == [(500, "retry"), (200, "delivered")]
    assert {r.state for r in rows(motcua)} == {"delivered"}


def test_two_celery_workers_deliver_every_message_once_in_order(motcua, portal, celery_run):
    codes = [receive_and_accept(motcua) for _ in range(10)]
    run = celery_run(REDIS_URL)
    run.start_worker()
    run.start_worker()
    # Small batches in many tasks, so both workers claim side by side.
    results = [run.app.tasks[DELIVER_TASK].apply_async(kwargs={"limit": 2}) for _ in range(12)]
    for result in results:
        result.get(timeout=TASK_WAIT_SECONDS)
    while run.deliver(limit=2):  # whatever the first tasks left behind a case's earlier message
        pass
    keys = [r.key for r in portal.requests]
    assert len(keys) == len(set(keys)) == 2 * len(codes)
    for code in codes:
        assert [s for c, s in statuses(portal) if c == code] == [2, 4]


def test_dispatcher_ticks_reach_a_rabbitmq_worker(motcua, portal, celery_run, monkeypatch):
    """The production path end to end, on RabbitMQ: `motcua worker --celery --dispatch --once`
    sends one tick per queue, a worker runs them at the real time (the test clock's instants are
    in the past, so everything is due)."""
    code = receive_and_accept(motcua)
    run = celery_run(AMQP_URL)
    for key, value in run.env.items():
        if key.startswith("MOTCUA_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("MOTCUA_CELERY_RESULT_BACKEND")  # as in production: no results

    from web.cli import cli

    result = CliRunner().invoke(cli, ["worker", "--celery", "--dispatch", "--once"])
    assert result.exit_code == 0, result.output
    queues = Queues.with_prefix(run.prefix)
    counts = queue_lengths(run)
    assert counts == {queues.outbox: 1, queues.timers: 1}

    del run.env["MOTCUA_CELERY_RESULT_BACKEND"]
    run.start_worker()
    deadline = time.monotonic() + TASK_WAIT_SECONDS
    while (len(statuses(portal)) < 2 or any(queue_lengths(run).values())) and time.monotonic() < deadline:
        time.sleep(0.1)
    # The real clock is months past the test's: timers may have moved the case on since.
    assert statuses(portal)[:2] == [(code, 2), (code, 4)], run.logs()
    assert [r.state for r in rows(motcua)[:2]] == ["delivered", "delivered"]
    assert queue_lengths(run) == {queues.outbox: 0, queues.timers: 0}


def queue_lengths(run: CeleryRun) -> dict[str, int]:
    with kombu.Connection(run.broker, connect_timeout=2) as connection:
        channel = connection.channel()
        return {
            name: kombu.Queue(name, channel=channel).queue_declare(passive=True).message_count
            for name in Queues.with_prefix(run.prefix).all()
        }


def test_worker_without_celery_is_the_engines_worker(motcua, monkeypatch):
    from web.cli import cli

    monkeypatch.setenv("MOTCUA_DATABASE_URL", motcua.db.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(cli, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    refused = CliRunner().invoke(cli, ["worker", "--dispatch"])
    assert refused.exit_code == 2 and "--dispatch works with --celery" in refused.output
    monkeypatch.delenv("MOTCUA_CELERY_BROKER", raising=False)
    unset = CliRunner().invoke(cli, ["worker", "--celery"])
    assert unset.exit_code == 2 and "MOTCUA_CELERY_BROKER is not set" in unset.output
