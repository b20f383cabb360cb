"""The step machinery on a small fixture process (tests/fixtures/mini.bpmn): projection,
statuses, appointment, timers, messages, history, outbox, permissions and concurrency."""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import Actor
from engine.calendar import VN_TZ
from engine.catalogue import ProcedureSpec, agency_by_code, publish_procedure
from engine.db import transaction
from engine.errors import CaseConflict, FormInvalid, InvalidAction, MotcuaError, PermissionDenied
from engine.models import Case, CaseEvent, HumanTask, OutboxMessage
from engine.motcua import Motcua
from engine.seed import load_seed

FIXTURES = Path(__file__).parent / "fixtures"


def mini_engine(settings, clock, database_url, processes_dir: Path = FIXTURES) -> Motcua:
    """A seeded database with tests/fixtures/mini.bpmn deployed under procedure TEST.MINI (3 days)."""
    m = Motcua(replace(settings, processes_dir=processes_dir), clock=clock, database_url=database_url)
    m.migrate()
    load_seed(m)
    m.deploy_file(processes_dir / "mini.bpmn")
    spec = ProcedureSpec(
        code="TEST.MINI",
        name="Thủ tục thử",
        field="Thử nghiệm",
        resolving_level="commune",
        time_limit=3,
        time_unit="working_days",
        process_id="mini",
        valid_from=date(2025, 1, 1),
    )
    with transaction(m.sessions) as session:
        publish_procedure(session, spec, clock.now())
    return m


@pytest.fixture
def mini(database_url, clock, settings):
    m = mini_engine(settings, clock, database_url)
    yield m
    m.db.dispose()


def officer(m: Motcua) -> Actor:
    return m.actor_for("motcua_anbinh")


def leader(m: Motcua) -> Actor:
    return m.actor_for("lanhdao_anbinh")


def receive(m: Motcua) -> str:
    return m.receive_dossier(
        "TEST.MINI", "XA_AN_BINH", applicant={"name": "Nguyễn Văn An"}, actor=officer(m)
    ).case_code


def only_task(m: Motcua, code: str) -> HumanTask:
    tasks = m.open_tasks(code)
    assert len(tasks) == 1, [t.element_id for t in tasks]
    return tasks[0]


def events(m: Motcua, code: str) -> list[str]:
    with transaction(m.sessions) as session:
        case = session.scalars(select(Case).where(Case.code == code)).one()
        return [
            e.type
            for e in session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
            )
        ]


def case_row(m: Motcua, code: str) -> Case:
    with transaction(m.sessions) as session:
        return session.scalars(select(Case).where(Case.code == code)).one()


def test_reception_codes_case_and_opens_first_task(mini):
    code = receive(mini)
    assert code == "000.01.01.H99-260302-0001"
    task = only_task(mini, code)
    assert (task.element_id, task.role, task.name) == ("review", "officer", "Xem xét hồ sơ")
    with transaction(mini.sessions) as session:
        assert task.agency_id == agency_by_code(session, "XA_AN_BINH").id
    # budget 0.5 working day = 4 working hours from Monday 09:00: 2.5 h before lunch, 1.5 h after 13:30
    assert task.due_at.astimezone(VN_TZ) == datetime(2026, 3, 2, 15, 0, tzinfo=VN_TZ)
    assert events(mini, code) == ["case_started", "task_created"]
    assert receive(mini) == "000.01.01.H99-260302-0002"


def test_accept_schedules_appointment_and_moves_to_leader(mini, clock):
    code = receive(mini)
    result = mini.complete_task(only_task(mini, code).id, {"decision": "accept"}, officer(mini))
    assert result.status == "received"
    case = case_row(mini, code)
    # 3 working days from Monday 2 March 09:00 → Thursday 5 March 09:00
    assert case.appointment_at.astimezone(VN_TZ) == datetime(2026, 3, 5, 9, 0, tzinfo=VN_TZ)
    assert case.received_at == clock.now()
    approve = only_task(mini, code)
    assert (approve.element_id, approve.role) == ("approve", "leader")
    assert approve.due_at == case.appointment_at  # no budget: due at the appointment
    # the reminder timer waits for one working day before the appointment
    assert case.wake_at.astimezone(VN_TZ) == datetime(2026, 3, 4, 9, 0, tzinfo=VN_TZ)
    assert events(mini, code)[-4:] == [
        "task_completed",
        "appointment_changed",
        "status_changed",
        "task_created",
    ]
    with transaction(mini.sessions) as session:
        topics = session.scalars(select(OutboxMessage.topic).where(OutboxMessage.case_id == case.id)).all()
    assert topics == ["case.appointment_changed", "case.status_changed"]


def test_refusal_ends_the_case(mini):
    code = receive(mini)
    mini.complete_task(only_task(mini, code).id, {"decision": "refuse", "note": "sai mẫu"}, officer(mini))
    case = case_row(mini, code)
    assert (case.status, case.completed, case.wake_at) == ("not_received", True, None)
    assert case.finished_at is not None
    assert mini.open_tasks(code) == []
    assert events(mini, code)[-1] == "case_finished"


def test_form_errors_name_the_field_and_change_nothing(mini):
    code = receive(mini)
    task = only_task(mini, code)
    before = case_row(mini, code)
    with pytest.raises(FormInvalid) as err:
        mini.complete_task(task.id, {"decision": "maybe"}, officer(mini))
    assert "decision" in err.value.errors
    with pytest.raises(FormInvalid) as err:
        mini.complete_task(task.id, {"note": "x"}, officer(mini))
    assert err.value.errors == {"decision": ["this field is required"]}
    after = case_row(mini, code)
    assert (after.version, after.state) == (before.version, before.state)


def test_permissions_role_agency_and_claims(mini):
    code = receive(mini)
    task = only_task(mini, code)
    other_commune = mini.actor_for("motcua_phumy")
    with pytest.raises(PermissionDenied):
        mini.complete_task(task.id, {"decision": "accept"}, other_commune)
    with pytest.raises(PermissionDenied):
        mini.complete_task(task.id, {"decision": "accept"}, mini.actor_for("chuyenvien_anbinh"))
    colleague = Actor("motcua_anbinh_2", frozenset({"officer"}), officer(mini).agency_ids)
    mini.claim_task(task.id, colleague)
    with pytest.raises(CaseConflict):
        mini.claim_task(task.id, officer(mini))
    with pytest.raises(PermissionDenied):
        mini.complete_task(task.id, {"decision": "accept"}, officer(mini))
    mini.release_task(task.id, colleague)
    mini.claim_task(task.id, officer(mini))
    mini.complete_task(task.id, {"decision": "accept"}, officer(mini))
    assert events(mini, code)[2:5] == ["task_claimed", "task_released", "task_claimed"]


def test_inbox_lists_only_what_the_actor_can_act_on(mini):
    code = receive(mini)
    assert [t.case.code for t in mini.inbox(officer(mini))] == [code]
    assert mini.inbox(mini.actor_for("motcua_phumy")) == []
    assert mini.inbox(leader(mini)) == []


def test_timer_fires_on_the_engine_clock_once(mini, clock):
    code = receive(mini)
    mini.complete_task(only_task(mini, code).id, {"decision": "accept"}, officer(mini))
    assert mini.fire_due_timers() == 0
    clock.set(datetime(2026, 3, 4, 9, 0, tzinfo=VN_TZ))
    assert mini.fire_due_timers() == 1
    assert mini.fire_due_timers() == 0
    assert events(mini, code).count("timer_fired") == 1
    assert mini.case_data(code)["reminded"] is True
    assert only_task(mini, code).element_id == "approve"  # non-interrupting
    assert case_row(mini, code).wake_at is None


def test_message_delivery_and_refusal_when_nobody_waits(mini):
    code = receive(mini)
    with pytest.raises(InvalidAction):
        mini.deliver_message(code, "poke", {"x": 1})
    mini.complete_task(only_task(mini, code).id, {"decision": "accept"}, officer(mini))
    mini.complete_task(only_task(mini, code).id, {"approved": True}, leader(mini))
    assert case_row(mini, code).status == "processed"
    mini.deliver_message(code, "poke", {"x": 1})
    case = case_row(mini, code)
    assert (case.status, case.completed) == ("returned", True)
    assert case.returned_at is not None
    assert mini.case_data(code)["poke_data"] == {"x": 1}
    assert mini.verify_history(code).ok


def test_state_is_spec_free_and_keeps_vietnamese_readable(mini):
    code = receive(mini)
    blob = case_row(mini, code).state
    state = mini.serializer.text(blob)
    assert "Nguyễn Văn An" in state and len(blob) < len(state.encode()) / 3
    assert "task_specs" not in state and '"spec"' not in state


def test_concurrent_completion_one_wins_one_conflicts(mini):
    code = receive(mini)
    task = only_task(mini, code)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def complete() -> None:
        barrier.wait()
        try:
            mini.complete_task(task.id, {"decision": "accept"}, officer(mini))
            outcomes.append("ok")
        except CaseConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=complete) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert events(mini, code).count("task_completed") == 1
    assert len(mini.open_tasks(code)) == 1
    assert mini.verify_history(code).ok


def test_stale_expected_version_is_a_conflict(mini):
    code = receive(mini)
    task = only_task(mini, code)
    version = case_row(mini, code).version
    mini.claim_task(task.id, officer(mini))
    with pytest.raises(CaseConflict):
        mini.complete_task(task.id, {"decision": "accept"}, officer(mini), expected_version=version)


def test_signals_are_sent_after_commit(mini):
    from engine import signals

    seen: list[tuple[str, list[str]]] = []

    def on_change(sender, case_code, events, **_):
        with transaction(sender.sessions) as session:
            assert session.scalars(select(Case).where(Case.code == case_code)).first() is not None
        seen.append((case_code, events))

    signals.case_changed.connect(on_change)
    try:
        code = receive(mini)
    finally:
        signals.case_changed.disconnect(on_change)
    assert seen == [(code, ["case_started", "task_created"])]


def test_next_day_codes_restart_the_sequence(mini, clock):
    receive(mini)
    clock.advance(timedelta(days=1))
    assert receive(mini) == "000.01.01.H99-260303-0001"


def test_leader_assigns_only_to_colleagues_who_can_do_the_work(mini):
    code = receive(mini)
    task = only_task(mini, code)
    with pytest.raises(PermissionDenied, match="only a leader"):
        mini.assign_task(task.id, "motcua_anbinh", officer(mini))
    with pytest.raises(PermissionDenied, match="only a leader"):
        mini.assign_task(task.id, "motcua_anbinh", mini.actor_for("lanhdao_phumy"))
    with pytest.raises(PermissionDenied, match="cannot work"):
        mini.assign_task(task.id, "motcua_phumy", leader(mini))
    mini.assign_task(task.id, "motcua_anbinh", leader(mini))
    assert only_task(mini, code).assignee == "motcua_anbinh"
    assert events(mini, code)[-1] == "task_assigned"


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ("while True:\n    pass", "ScriptTimeout"),
        ("x = [1][5]", "ScriptFailed"),
        (  # a dossier is re-appointed at most once
            "a = reschedule('2026-03-10T09:00:00+07:00', 'x')\n"
            "b = reschedule('2026-03-11T09:00:00+07:00', 'y')",
            "InvalidAction",
        ),
    ],
)
def test_failing_script_leaves_the_case_intact(database_url, clock, settings, tmp_path, script, error):
    procs = tmp_path / "procs"
    shutil.copytree(FIXTURES, procs)
    bpmn = procs / "mini.bpmn"
    bpmn.write_text(bpmn.read_text().replace("appointment_at = schedule_appointment()", script))
    m = mini_engine(replace(settings, script_time_limit=0.3), clock, database_url, procs)
    code = receive(m)
    task = only_task(m, code)
    before = case_row(m, code)
    with pytest.raises(MotcuaError) as err:
        m.complete_task(task.id, {"decision": "accept"}, officer(m))
    assert type(err.value).__name__ == error
    after = case_row(m, code)
    assert (after.version, after.state, after.status) == (before.version, before.state, before.status)
    assert only_task(m, code).id == task.id
    assert events(m, code) == ["case_started", "task_created"]
    m.db.dispose()


def test_two_workers_never_fire_a_timer_twice(mini, clock):
    codes = [receive(mini) for _ in range(6)]
    for code in codes:
        mini.complete_task(only_task(mini, code).id, {"decision": "accept"}, officer(mini))
    clock.set(datetime(2026, 3, 4, 9, 0, tzinfo=VN_TZ))
    fired: list[int] = []
    errors: list[Exception] = []

    def work() -> None:
        try:
            fired.append(mini.fire_due_timers())
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert sum(fired) == 6
    for code in codes:
        assert events(mini, code).count("timer_fired") == 1
