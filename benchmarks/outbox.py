"""Outbox benchmark: messages/s delivered to a portal on 127.0.0.1, in-process and on Celery.

N outbox messages (default 2 000) come from real dossiers (received and accepted: two status
changes and one appointment each), delivered by a webhook subscriber that takes every topic to
the test portal server (tests/adapters/portal.py: a real HTTP server that applies each key once).
The dossiers are made once per store; every mode starts from a copy of that database (a file
copy on SQLite, CREATE DATABASE … TEMPLATE on PostgreSQL).

Modes, in one run on the same machine:
  in-process  – `deliver_due` in this process, batches of --limit, until nothing is due;
  celery-1/2  – 1 or 2 `motcua worker --celery` subprocesses; this process acts as the
                dispatcher (`dispatch_tick` every 0.5 s, one task per worker) until the portal
                has every message. Skipped when the broker does not answer.

Prints a table: messages/s, ratio to the in-process baseline of the same store, and duplicates
(requests beyond one per key; expected 0)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.celery_app import create_app, dispatch_tick  # noqa: E402
from adapters.delivery import deliver_due  # noqa: E402
from adapters.registry import load_config  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.db import throwaway_postgres_database  # noqa: E402
from engine.motcua import Motcua  # noqa: E402
from engine.seed import load_seed  # noqa: E402
from tests.adapters.portal import Portal  # noqa: E402

SECRET = "bench-secret-0123456789"
PROCEDURE = "2.000720"
TICK_SECONDS = 0.5
WAIT_SECONDS = 600.0  # gives up on a stuck worker; not a performance target


@dataclass
class Result:
    store: str
    mode: str
    messages: int
    seconds: float
    duplicates: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def make_dossiers(url: str, home: Path, n: int) -> int:
    """Enough received-and-accepted dossiers for `n` messages; returns the message count."""
    m = Motcua(replace(Settings(), home=home), database_url=url)
    m.migrate()
    load_seed(m)
    m.deploy_processes()
    officer = m.actor_for("motcua_anbinh")
    dossiers = -(-n // 3)
    for _ in range(dossiers):
        code = m.receive_dossier(PROCEDURE, "XA_AN_BINH", applicant={"name": "Lê Văn An"}, actor=officer)
        (task,) = m.open_tasks(code.case_code)
        m.complete_task(task.id, {"reception_decision": "accept"}, officer)
    m.db.dispose()
    return dossiers * 3


def config_for(portal: Portal) -> dict[str, Any]:
    subscriber = {"name": "bench", "url": portal.url, "secret": SECRET}
    return {"adapters": {"webhook": {"subscribers": [subscriber]}}}


def run_in_process(url: str, home: Path, expected: int, limit: int) -> tuple[float, int]:
    portal = Portal()
    try:
        m = Motcua(replace(Settings(), home=home), database_url=url)
        config = load_config(config_for(portal))
        started = time.perf_counter()
        while deliver_due(m, config.adapters, limit, policy=config.retry):
            pass
        elapsed = time.perf_counter() - started
        m.db.dispose()
        if len(portal.applied) != expected:
            raise SystemExit(f"in-process: the portal has {len(portal.applied)} of {expected} messages")
        return elapsed, len(portal.requests) - len(portal.applied)
    finally:
        portal.stop()


def run_celery(
    url: str, home: Path, expected: int, limit: int, broker: str, workers: int
) -> tuple[float, int]:
    portal = Portal()
    prefix = f"motcua-bench-{uuid.uuid4().hex[:8]}:"
    config_path = home / f"adapters-{workers}.json"
    config_path.write_text(json.dumps(config_for(portal)), encoding="utf-8")
    env = {
        **os.environ,
        "MOTCUA_DATABASE_URL": url,
        "MOTCUA_HOME": str(home),
        "MOTCUA_ADAPTERS": str(config_path),
        "MOTCUA_CELERY_BROKER": broker,
        "MOTCUA_CELERY_PREFIX": prefix,
    }
    env.pop("MOTCUA_CELERY_RESULT_BACKEND", None)
    app = create_app(broker, prefix=prefix, result_backend="")
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for i in range(workers):
            log = home / f"worker-{workers}-{i}.log"
            with log.open("wb") as out:
                command = [
                    str(Path(sys.executable).parent / "motcua"),
                    "worker",
                    "--celery",
                    "--loglevel=info",
                ]
                processes.append((subprocess.Popen(command, env=env, stdout=out, stderr=out), log))
        # Timing starts when every worker consumes, as a running deployment would.
        deadline = time.monotonic() + 60
        while not all("ready." in log.read_text(errors="replace") for _, log in processes):
            if time.monotonic() > deadline or any(p.poll() is not None for p, _ in processes):
                raise SystemExit("a Celery worker did not start:\n" + processes[0][1].read_text())
            time.sleep(0.05)
        started = time.perf_counter()
        next_tick = 0.0
        while len(portal.applied) < expected:
            if time.monotonic() >= next_tick:
                dispatch_tick(app, tasks=workers, limit=limit, expires=2 * TICK_SECONDS)
                next_tick = time.monotonic() + TICK_SECONDS
            if time.perf_counter() - started > WAIT_SECONDS:
                raise SystemExit(
                    f"celery-{workers}: {len(portal.applied)} of {expected} after {WAIT_SECONDS} s"
                )
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        return elapsed, len(portal.requests) - len(portal.applied)
    finally:
        for process, _ in processes:
            process.terminate()
        for process, _ in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        app.close()
        flush_broker(broker, prefix)
        portal.stop()


def flush_broker(broker: str, prefix: str) -> None:
    if broker.startswith("redis"):
        import redis

        client = redis.Redis.from_url(broker)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
    else:
        import kombu

        from adapters.celery_app import Queues

        with kombu.Connection(broker) as connection:
            for name in Queues.with_prefix(prefix).all():
                kombu.Queue(name, channel=connection.channel()).delete()


def broker_answers(broker: str) -> bool:
    import kombu

    try:
        with kombu.Connection(broker, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception as err:
        print(f"broker {broker} does not answer ({err}); Celery modes skipped", file=sys.stderr)
        return False


@contextmanager
def template_database(postgres: str | None, home: Path) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{home / 'template.sqlite3'}"
        return
    with throwaway_postgres_database(postgres, f"motcua_outbox_bench_{os.getpid()}") as url:
        yield url


@contextmanager
def copy_of(template: str, home: Path, label: str) -> Iterator[str]:
    """A fresh copy of the template database for one mode."""
    source = make_url(template)
    if source.get_backend_name() == "sqlite":
        target = home / f"{label}.sqlite3"
        shutil.copyfile(str(source.database), target)
        yield f"sqlite:///{target}"
        return
    name = f"{source.database}_{label.replace('-', '_')}"
    admin = create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"'))
        yield source.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_store(postgres: str | None, n: int, limit: int, broker: str | None) -> list[Result]:
    store = "postgresql" if postgres else "sqlite"
    home = Path(tempfile.mkdtemp(prefix="motcua-outbox-bench-"))
    results = []
    try:
        with template_database(postgres, home) as template:
            expected = make_dossiers(template, home, n)
            modes = ["in-process"] + (["celery-1", "celery-2"] if broker else [])
            for mode in modes:
                with copy_of(template, home, mode) as url:
                    if mode == "in-process":
                        seconds, duplicates = run_in_process(url, home, expected, limit)
                    else:
                        workers = int(mode.split("-")[1])
                        seconds, duplicates = run_celery(url, home, expected, limit, str(broker), workers)
                results.append(Result(store, mode, expected, seconds, duplicates))
                print(f"  {store} {mode}: {results[-1].rate:.0f} messages/s", file=sys.stderr)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=2000, help="messages per run (default 2000)")
    parser.add_argument("--limit", type=int, default=100, help="messages per batch (default 100)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("MOTCUA_TEST_POSTGRES_URL"),
        help="PostgreSQL server URL where throw-away databases may be created "
        "(default: $MOTCUA_TEST_POSTGRES_URL; SQLite only without it)",
    )
    parser.add_argument(
        "--broker",
        default=os.environ.get("MOTCUA_CELERY_BROKER", "redis://127.0.0.1:6379/14"),
        help="Celery broker URL (default: $MOTCUA_CELERY_BROKER, else redis://127.0.0.1:6379/14)",
    )
    args = parser.parse_args()
    broker = args.broker if broker_answers(args.broker) else None
    results = bench_store(None, args.n, args.limit, broker)
    if args.postgres:
        results += bench_store(args.postgres, args.n, args.limit, broker)
    print(f"\nbroker: {broker or 'none'}; batch limit {args.limit}\n")
    print("| store | mode | messages | seconds | messages/s | ratio | duplicates |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        base = next(b for b in results if b.store == r.store and b.mode == "in-process")
        ratio = r.rate / base.rate if base.rate else 0.0
        cells = [
            r.store,
            r.mode,
            r.messages,
            f"{r.seconds:.2f}",
            f"{r.rate:.0f}",
            f"{ratio:.2f}",
            r.duplicates,
        ]
        print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
