"""Faults on the way to the receivers, with real parts: receivers that are down, answer 500 or
refuse, a paused receiver, a worker process killed with SIGKILL in the middle of a batch, and two
workers side by side on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from adapters import operations
from adapters.delivery import deliver_due
from adapters.registry import RetryPolicy, load_config
from engine.db import transaction
from engine.errors import PermissionDenied
from engine.models import Case, Delivery, OperatorAction, OutboxMessage
from engine.motcua import Motcua
from engine.outbox import outbox_row

from .portal import Portal, Received
from .test_delivery import SECRET, deliver, receive_and_accept

STATUS = "case.status_changed"


class SlowPortal(Portal):
    """A portal that takes `delay` seconds over every request, and notices when one message
    (idempotency key) is being sent to it twice at the same time."""

    def __init__(self, delay: float, port: int = 0):
        self.delay = delay
        self.in_flight: dict[str, int] = defaultdict(int)
        self.overlaps: list[str] = []
        super().__init__(port)

    def _next(self, received: Received) -> str:
        with self._lock:
            self.in_flight[received.key] += 1
            if self.in_flight[received.key] > 1:
                self.overlaps.append(received.key)
        time.sleep(self.delay)
        with self._lock:
            self.in_flight[received.key] -= 1
        return super()._next(received)

    def busy(self) -> bool:
        with self._lock:
            return any(self.in_flight.values())


@pytest.fixture
def portals() -> Iterator[list[Portal]]:
    started: list[Portal] = []
    yield started
    for portal in started:
        portal.stop()


def subscribers(*named: tuple[str, str]) -> list:
    """Webhook receivers `webhook:<name>`, each at its own URL, all taking status changes."""
    config = {
        "adapters": {
            "webhook": {
                "subscribers": [
                    {"name": name, "url": url, "secret": SECRET, "topics": [STATUS]} for name, url in named
                ]
            }
        }
    }
    return load_config(config).adapters


def case_statuses(portal: Portal) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for body in portal.applied_bodies():
        out[body["case"]["code"]].append(body["case"]["status"])
    return dict(out)


def deliveries(m: Motcua, receiver: str) -> list[Delivery]:
    with transaction(m.sessions) as session:
        query = select(Delivery).where(Delivery.receiver == receiver).order_by(Delivery.outbox_id)
        return list(session.scalars(query))


def test_a_receiver_down_or_failing_holds_back_nobody_else(motcua, portals):
    up = Portal()
    failing = Portal()
    failing.default = "500"
    down = Portal()
    down_port = down.port
    down.stop()
    portals += [up, failing]
    adapters = subscribers(("up", up.url), ("failing", failing.url), ("down", down.url))
    codes = [receive_and_accept(motcua) for _ in range(3)]
    expected = {code: ["received", "processing"] for code in codes}

    deliver(motcua, adapters)
    # The receiver that is up has everything, in order per case, at once.
    assert case_statuses(up) == expected
    assert {d.state for d in deliveries(motcua, "webhook:up")} == {"delivered"}
    # The others tried each case's first message only; the later ones wait behind it.
    assert len(failing.requests) == 3 and failing.applied_bodies() == []
    for receiver in ("webhook:failing", "webhook:down"):
        rows = deliveries(motcua, receiver)
        assert [(d.state, d.attempts) for d in rows] == [("pending", 1), ("pending", 0)] * 3
    assert "ConnectionRefused" in deliveries(motcua, "webhook:down")[0].last_error
    assert "HTTP 500" in deliveries(motcua, "webhook:failing")[0].last_error

    back = Portal(down_port)
    portals.append(back)
    failing.default = "200"
    deliver(motcua, adapters, minutes=5)
    assert case_statuses(back) == expected
    assert case_statuses(failing) == expected
    assert len(up.requests) == 6  # nothing sent twice to the receiver that had it
    with transaction(motcua.sessions) as session:
        states = set(session.scalars(select(OutboxMessage.state).where(OutboxMessage.topic == STATUS)))
    assert states == {"delivered"}


def test_one_receivers_refusal_kills_only_its_delivery_and_replay_sends_it_once(motcua, portals):
    province, agency = Portal(), Portal()
    portals += [province, agency]
    agency.answer("400")
    adapters = subscribers(("tinh", province.url), ("so", agency.url))
    code = receive_and_accept(motcua)

    deliver(motcua, adapters)
    assert case_statuses(province) == {code: ["received", "processing"]}
    first, second = deliveries(motcua, "webhook:so")
    assert (first.state, second.state) == ("dead", "pending")
    # A dead letter holds back that receiver's later messages of the case, however long we wait.
    deliver(motcua, adapters, minutes=120)
    assert len(agency.requests) == 1

    letters = operations.dead_letters(motcua)
    assert [(d.delivery_id, d.receiver, d.case_code) for d in letters.items] == [
        (first.id, "webhook:so", code)
    ]
    (attempt,) = letters.items[0].tries
    assert attempt.status_code == 400 and "portal says 400" in attempt.excerpt
    assert operations.dead_letters(motcua, receiver="webhook:tinh").total == 0

    with pytest.raises(PermissionDenied):
        operations.replay_deliveries(motcua, [first.id], motcua.actor_for("motcua_anbinh"))
    admin = motcua.actor_for("quantri")
    assert operations.replay_deliveries(motcua, [first.id, second.id], admin) == 1
    deliver(motcua, adapters)
    assert case_statuses(agency) == {code: ["received", "processing"]}
    assert len(agency.requests) == 3 and len(province.requests) == 2
    assert operations.replay_deliveries(motcua, [first.id], admin) == 0
    with transaction(motcua.sessions) as session:
        logged = [(a.actor, a.action, a.detail) for a in session.scalars(select(OperatorAction))]
    assert logged[0] == ("quantri", "replay", {"requested": sorted([first.id, second.id]), "replayed": 1})


def test_a_paused_receiver_is_not_claimed_until_resumed(motcua, portals):
    portal = Portal()
    portals.append(portal)
    adapters = load_config({"adapters": {"dvcqg": {"url": portal.url, "secret": SECRET}}}).adapters
    admin = motcua.actor_for("quantri")
    code = receive_and_accept(motcua)
    operations.pause(motcua, "dvcqg", admin, "portal maintenance until 14:00")

    deliver(motcua, adapters)
    deliver(motcua, adapters, minutes=600)
    assert portal.requests == []
    assert [(d.state, d.attempts) for d in deliveries(motcua, "dvcqg")] == [("pending", 0)] * 2
    (row,) = operations.outbox_overview(motcua).receivers
    assert row.receiver == "dvcqg" and row.counts["pending"] == 2
    assert row.pause is not None and row.pause.paused_by == "quantri"

    with pytest.raises(PermissionDenied):
        operations.resume(motcua, "dvcqg", motcua.actor_for("kiemtra"))
    operations.resume(motcua, "dvcqg", admin)
    deliver(motcua, adapters)
    assert [(b["MaHoSo"], b["TrangThaiHoSo"]) for b in portal.applied_bodies()] == [(code, 2), (code, 4)]
    assert operations.outbox_overview(motcua).receivers[0].pause is None


def _many_messages(m: Motcua, cases: int, per_case: int) -> list[str]:
    """`cases` real dossiers received and accepted (two status messages each), then `per_case`
    more status messages each, written straight into the outbox with the engine's own row
    builder and distinct keys: a big batch without running the workflow a thousand times.
    Returns every status key, in outbox order."""
    for _ in range(cases):
        receive_and_accept(m)
    with transaction(m.sessions) as session:
        latest = {
            row.case_id: row.payload
            for row in session.scalars(
                select(OutboxMessage).where(OutboxMessage.topic == STATUS).order_by(OutboxMessage.id)
            )
        }
        rows = []
        for case in session.scalars(select(Case).order_by(Case.id)):
            for seq in range(per_case):
                row = outbox_row(case, STATUS, latest[case.id], m.clock.now())
                row["idempotency_key"] = f"{case.code}:{1000 + seq}:{STATUS}"
                rows.append(row)
        session.execute(insert(OutboxMessage), rows)
    with transaction(m.sessions) as session:
        query = select(OutboxMessage.idempotency_key).where(OutboxMessage.topic == STATUS)
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def _undelivered(m: Motcua) -> int:
    with transaction(m.sessions) as session:
        waiting = session.scalar(select(func.count()).where(OutboxMessage.state.in_(("pending", "routed"))))
        return int(waiting or 0)


def test_a_worker_killed_mid_batch_loses_nothing_and_the_portal_applies_each_once(motcua, tmp_path):
    started = time.monotonic()
    portal = SlowPortal(delay=0.004)
    try:
        keys = _many_messages(motcua, cases=20, per_case=48)
        assert len(keys) == 1000
        config = tmp_path / "adapters.json"
        # A one-second lease: the restarted worker takes over the killed one's messages soon.
        retry = {"lease_seconds": 1, "base_seconds": 0.05, "cap_seconds": 0.2}
        adapters = {"dvcqg": {"url": portal.url, "secret": SECRET}}
        config.write_text(json.dumps({"adapters": adapters, "retry": retry}))
        env = {
            **os.environ,
            "MOTCUA_HOME": str(tmp_path),
            "MOTCUA_DATABASE_URL": motcua.db.url.render_as_string(hide_password=False),
        }
        command = [
            str(Path(sys.executable).with_name("motcua")),
            "deliver",
            "--config",
            str(config),
            "--interval",
            "0.1",
        ]
        log = tmp_path / "worker.log"

        def start() -> subprocess.Popen:
            with log.open("a") as out:
                return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

        first = start()
        try:
            deadline = time.monotonic() + 30
            # Killed while a request is in the portal's hands: the portal applies it, the worker
            # never hears so, and the restarted worker must send it again.
            while len(portal.applied) < 300 or not portal.busy():
                assert first.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the worker delivered too little: " + log.read_text()
                time.sleep(0.005)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        at_kill = len(portal.applied)
        assert at_kill < len(keys), "the kill must land before the batch is through"

        second = start()
        try:
            deadline = time.monotonic() + 45
            while _undelivered(motcua):
                assert second.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "not everything arrived: " + log.read_text()
                time.sleep(0.2)
        finally:
            second.terminate()
            second.wait(10)
    finally:
        portal.stop()

    # Every message arrived at least once; the portal applied each key exactly once.
    applied = list(portal.applied)
    assert sorted(applied) == sorted(keys)
    sent = [r.key for r in portal.requests]
    assert set(sent) == set(keys)
    # The message in the portal's hands at the kill was sent again, yet applied only once.
    assert len(sent) > len(keys)
    # In order per case, as first applied by the portal.
    per_case: dict[str, list[int]] = defaultdict(list)
    for key in applied:
        code, seq, _topic = key.rsplit(":", 2)
        per_case[code].append(int(seq))
    assert all(seqs == sorted(seqs) for seqs in per_case.values())
    with transaction(motcua.sessions) as session:
        states = dict(session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all())
    assert states == {"delivered": 1000}
    print(
        f"\nSIGKILL test: killed after {at_kill} applied, {len(sent) - len(set(sent))} resent, "
        f"{time.monotonic() - started:.1f} s in all"
    )


def test_two_workers_never_send_one_delivery_at_the_same_time(motcua, portals):
    if motcua.db.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: claims cannot overlap there; PostgreSQL only")
    first, second = SlowPortal(delay=0.01), SlowPortal(delay=0.01)
    portals += [first, second]
    adapters = subscribers(("mot", first.url), ("hai", second.url))
    codes = [receive_and_accept(motcua) for _ in range(10)]
    errors: list[BaseException] = []
    policy = RetryPolicy(max_attempts=4, base_seconds=10, cap_seconds=60)

    def worker() -> None:
        try:
            while deliver_due(motcua, adapters, 3, motcua.clock.now(), policy=policy):
                pass
        except BaseException as err:  # surfaced in the main thread below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    for portal in (first, second):
        assert portal.overlaps == []
        keys = [r.key for r in portal.requests]
        assert len(keys) == len(set(keys)) == 2 * len(codes)
        assert case_statuses(portal) == {code: ["received", "processing"] for code in codes}
