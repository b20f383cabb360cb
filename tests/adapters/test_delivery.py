"""Delivery against a real HTTP server on 127.0.0.1, on both databases, driven by real cases."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters.delivery import deliver_due, replay
from adapters.registry import RetryPolicy, load_config, verify
from engine.db import transaction
from engine.models import Delivery, DeliveryAttempt, OutboxMessage
from engine.motcua import Motcua

from .portal import Portal

SECRET = "portal-secret-0123456789"
POLICY = RetryPolicy(max_attempts=4, base_seconds=10, cap_seconds=60)


@pytest.fixture
def portal() -> Iterator[Portal]:
    server = Portal()
    yield server
    server.stop()


def dvcqg(portal: Portal, **extra: object) -> list:
    return load_config({"adapters": {"dvcqg": {"url": portal.url, "secret": SECRET, **extra}}}).adapters


def receive_and_accept(m: Motcua) -> str:
    """A dossier received at the desk and accepted: status new → received (2) → processing (4)."""
    officer = m.actor_for("motcua_anbinh")
    code = m.receive_dossier(
        "2.000720", "XA_AN_BINH", applicant={"name": "Trần Thị Bình"}, actor=officer
    ).case_code
    (task,) = m.open_tasks(code)
    m.complete_task(task.id, {"reception_decision": "accept"}, officer)
    return code


def deliver(m: Motcua, adapters: list, minutes: float = 0, max_attempts: int | None = None) -> int:
    policy = POLICY if max_attempts is None else RetryPolicy(max_attempts=max_attempts, base_seconds=10)
    now = m.clock.now() + timedelta(minutes=minutes)
    return deliver_due(m, adapters, 100, now, policy=policy, rng=random.Random(7))


def rows(m: Motcua, topic: str = "case.status_changed") -> list[OutboxMessage]:
    with transaction(m.sessions) as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id)
            )
        )


def delivery(m: Motcua, outbox_id: int, receiver: str = "dvcqg") -> Delivery:
    """The message's delivery to one receiver (one row per message and receiver)."""
    with transaction(m.sessions) as session:
        query = select(Delivery).where(Delivery.outbox_id == outbox_id, Delivery.receiver == receiver)
        return session.scalars(query).one()


def attempts(m: Motcua, outbox_id: int) -> list[DeliveryAttempt]:
    with transaction(m.sessions) as session:
        query = (
            select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == outbox_id).order_by(DeliveryAttempt.id)
        )
        return list(session.scalars(query))


def statuses(portal: Portal) -> list[tuple[str, int]]:
    return [(body["MaHoSo"], body["TrangThaiHoSo"]) for body in portal.applied_bodies()]


def test_status_change_reaches_the_portal_signed_with_its_key(motcua, portal):
    code = receive_and_accept(motcua)
    assert deliver(motcua, dvcqg(portal)) == 3  # two status changes and one appointment message

    assert statuses(portal) == [(code, 2), (code, 4)]
    first = portal.requests[0]
    status_rows = rows(motcua)
    assert first.key == status_rows[0].idempotency_key == f"{code}:5:case.status_changed"
    assert verify(SECRET, first.body, first.headers["X-Motcua-Signature"])
    assert not verify("another-secret-0123456789", first.body, first.headers["X-Motcua-Signature"])
    body = first.json()
    assert body["MaTTHC"] == "2.000720"
    assert body["TrangThaiTruoc"] == "new"
    assert body["KenhThucHien"] == "direct"
    assert body["CoQuanTiepNhan"] == body["CoQuanXuLy"] == "000.01.01.H99"
    assert body["DanhSachLePhi"][0]["amount"] == 100000
    assert body["NgayHenTra"].startswith("2026-03-05T09:00")
    assert first.path == "/api/hoso" and first.headers["Content-Type"].startswith("application/json")
    assert [r.state for r in status_rows] == ["delivered", "delivered"]
    assert all(r.delivered_at == motcua.clock.now() for r in status_rows)
    (attempt,) = attempts(motcua, status_rows[0].id)
    assert (attempt.adapter, attempt.status_code, attempt.outcome) == ("dvcqg", 200, "delivered")
    assert '"ok": true' in attempt.response_excerpt and attempt.latency_ms >= 0
    # The national portal takes no appointment messages; with no other receiver they are skipped.
    assert [r.state for r in rows(motcua, "case.appointment_changed")] == ["skipped"]
    assert deliver(motcua, dvcqg(portal), minutes=60) == 0


def test_field_names_come_from_configuration(motcua, portal):
    code = receive_and_accept(motcua)
    deliver(motcua, dvcqg(portal, fields={"dossier_code": "dossierCode", "status_code": "status"}))
    assert [(b["dossierCode"], b["status"]) for b in portal.applied_bodies()] == [(code, 2), (code, 4)]
    assert "MaHoSo" not in portal.applied_bodies()[0]


def test_500_then_200_is_delivered_after_a_retry_and_keeps_each_case_in_order(motcua, portal):
    first = receive_and_accept(motcua)
    second = receive_and_accept(motcua)
    portal.answer("500")  # the first request: case one's "received"

    deliver(motcua, dvcqg(portal))
    # Case two is not held up by case one; case one's "processing" waits behind its "received".
    assert statuses(portal) == [(second, 2), (second, 4)]
    received_row = rows(motcua)[0]
    received = delivery(motcua, received_row.id)
    assert (received.state, received.attempts) == ("pending", 1)
    assert received.next_attempt_at > motcua.clock.now()
    assert "HTTP 500" in received.last_error
    later = delivery(motcua, rows(motcua)[1].id)
    assert (later.state, later.attempts) == ("pending", 0)
    assert [r.state for r in rows(motcua)] == ["routed", "routed", "delivered", "delivered"]

    assert deliver(motcua, dvcqg(portal), minutes=0) == 0  # not due yet: back-off
    deliver(motcua, dvcqg(portal), minutes=5)
    assert statuses(portal) == [(second, 2), (second, 4), (first, 2), (first, 4)]
    tries = attempts(motcua, received_row.id)
    assert [(a.status_code, a.outcome) for a in tries] == [(500, "retry"), (200, "delivered")]
    assert "HTTP 500" in tries[0].error and "portal says 500" in tries[0].response_excerpt
    assert {r.state for r in rows(motcua)} == {"delivered"}


def test_429_is_retried(motcua, portal):
    code = receive_and_accept(motcua)
    portal.answer("429")
    deliver(motcua, dvcqg(portal))
    assert statuses(portal) == []
    deliver(motcua, dvcqg(portal), minutes=5)
    assert statuses(portal) == [(code, 2), (code, 4)]


def test_400_goes_dead_then_replays_once_after_the_fix(motcua, portal):
    code = receive_and_accept(motcua)
    portal.answer("400")
    deliver(motcua, dvcqg(portal))
    dead, later = rows(motcua)
    assert dead.state == "dead"
    assert delivery(motcua, dead.id).state == "dead" and delivery(motcua, dead.id).next_attempt_at is None
    assert [(a.status_code, a.outcome) for a in attempts(motcua, dead.id)] == [(400, "dead")]
    # A dead letter holds back its case's later messages: the portal must not see 4 before 2.
    deliver(motcua, dvcqg(portal), minutes=120)
    waiting = delivery(motcua, later.id)
    assert (waiting.state, waiting.attempts) == ("pending", 0) and rows(motcua)[1].state == "routed"
    assert len(portal.requests) == 1

    assert replay(motcua, [dead.id, later.id]) == 1  # only dead rows are replayed
    deliver(motcua, dvcqg(portal))
    assert statuses(portal) == [(code, 2), (code, 4)]
    assert len(portal.requests) == 3
    assert [r.state for r in rows(motcua)] == ["delivered", "delivered"]
    assert [a.outcome for a in attempts(motcua, dead.id)] == ["dead", "delivered"]
    assert replay(motcua, [dead.id]) == 0


def test_exhausted_retries_go_dead(motcua, portal):
    receive_and_accept(motcua)
    portal.default = "500"
    deliver(motcua, dvcqg(portal), max_attempts=2)
    deliver(motcua, dvcqg(portal), minutes=5, max_attempts=2)
    row = rows(motcua)[0]
    assert row.state == "dead"
    assert (delivery(motcua, row.id).state, delivery(motcua, row.id).attempts) == ("dead", 2)
    assert [a.outcome for a in attempts(motcua, row.id)] == ["retry", "dead"]
    deliver(motcua, dvcqg(portal), minutes=60, max_attempts=2)
    assert len(portal.requests) == 2


def test_portal_down_then_back(motcua, portal):
    codes = [receive_and_accept(motcua) for _ in range(3)]
    adapters = dvcqg(portal)
    port = portal.port
    portal.stop()

    deliver(motcua, adapters)
    states = rows(motcua)
    assert all(delivery(motcua, r.id).state == "pending" for r in states)
    refused = attempts(motcua, states[0].id)
    assert refused[0].status_code is None and "ConnectionRefused" in refused[0].error

    back = Portal(port)
    try:
        deliver(motcua, adapters, minutes=5)
        expected = [(code, status) for code in codes for status in (2, 4)]
        assert sorted(statuses(back)) == sorted(expected)
        for code in codes:  # in order per case
            assert [s for c, s in statuses(back) if c == code] == [2, 4]
        assert {r.state for r in rows(motcua)} == {"delivered"}
    finally:
        back.stop()


def test_timeout_and_dropped_connections_are_retried_and_applied_once(motcua, portal):
    code = receive_and_accept(motcua)
    adapters = dvcqg(portal, timeout=0.3)
    # Hangs (timeout), then drops the connection, then applies the change but the answer is lost.
    portal.answer("hang", "close", "apply-close")
    for minutes in (0, 5, 10):
        deliver(motcua, adapters, minutes=minutes)
    row = rows(motcua)[0]
    errors = [a.error for a in attempts(motcua, row.id)]
    assert "timed out" in errors[0].lower()
    assert "RemoteDisconnected" in errors[1] and "RemoteDisconnected" in errors[2]
    assert delivery(motcua, row.id).state == "pending"

    deliver(motcua, adapters, minutes=20)
    # The fourth try carried the same key; the portal applied the change only once.
    assert [r.key for r in portal.requests[:4]] == [row.idempotency_key] * 4
    assert statuses(portal) == [(code, 2), (code, 4)]
    assert [r.state for r in rows(motcua)] == ["delivered", "delivered"]


def test_webhook_fans_out_and_retries_only_the_subscriber_that_failed(motcua, portal):
    other = Portal()
    try:
        config = {
            "adapters": {
                "webhook": {
                    "subscribers": [
                        {"name": "tinh", "url": portal.url, "secret": SECRET},
                        {
                            "name": "so",
                            "url": other.url,
                            "secret": "so-secret-0123456789",
                            "topics": ["case.status_changed"],
                        },
                    ]
                }
            }
        }
        adapters = load_config(config).adapters
        code = receive_and_accept(motcua)
        other.answer("500")
        deliver(motcua, adapters)
        # Each subscriber has its own deliveries: the province got everything at once, while the
        # other subscriber's second status waits behind its first, which it refused for now.
        province = portal.applied_bodies()
        assert [b["case"]["status"] for b in province if b["topic"] == "case.status_changed"] == [
            "received",
            "processing",
        ]
        assert [b["topic"] for b in province].count("case.appointment_changed") == 1
        assert other.applied_bodies() == [] and len(other.requests) == 1
        deliver(motcua, adapters, minutes=5)
        assert len(portal.requests) == 3  # no second copy to the subscriber that had answered
        assert [b["case"]["status"] for b in other.applied_bodies()] == ["received", "processing"]
        body = other.requests[0]
        assert verify("so-secret-0123456789", body.body, body.headers["X-Motcua-Signature"])
        assert body.json()["case"]["code"] == code
        first_status = rows(motcua)[0]
        tries = [(a.adapter, a.outcome) for a in attempts(motcua, first_status.id)]
        assert [t for t in tries if t[0] == "webhook:tinh"] == [("webhook:tinh", "delivered")]
        assert [t for t in tries if t[0] == "webhook:so"] == [
            ("webhook:so", "retry"),
            ("webhook:so", "delivered"),
        ]
        assert [r.state for r in rows(motcua)] == ["delivered", "delivered"]
    finally:
        other.stop()


def test_two_workers_never_send_the_same_message(motcua, portal):
    codes = [receive_and_accept(motcua) for _ in range(12)]
    adapters = dvcqg(portal)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            # Small batches, until nothing is due: the two workers keep claiming side by side.
            while deliver_due(motcua, adapters, 2, motcua.clock.now(), policy=POLICY):
                pass
        except BaseException as err:  # surfaced in the main thread below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    keys = [r.key for r in portal.requests]
    assert len(keys) == len(set(keys)) == 2 * len(codes)
    for code in codes:
        assert [s for c, s in statuses(portal) if c == code] == [2, 4]
