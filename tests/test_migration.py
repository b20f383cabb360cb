"""Moving running dossiers from version 1 of dossier_standard to a changed version 2, on SQLite
and PostgreSQL: what moves, what is refused and why, and that moved cases keep working."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.db import transaction
from engine.drafts import deploy_draft, save_draft
from engine.errors import InvalidAction, NotFound, PermissionDenied
from engine.migration import migrate_cases, plan_migration
from engine.models import Case, CaseEvent, HumanTask, ProcessDefinition, ProcessEvent
from engine.process_log import process_history, verify_process_log
from tests.test_processes import ACCEPT, APPROVE, PASS, RETURN, Desk

PROCESS = "dossier_standard"
SIGN = {"signed": True}
SIGN_FORM = {
    "type": "object",
    "properties": {"signed": {"type": "boolean", "title": "Đã ký số"}},
    "required": ["signed"],
    "additionalProperties": False,
}
SIGN_TASK = """<bpmn:userTask id="UT_Sign" name="Ký số kết quả">
          <bpmn:extensionElements>
            <spiffworkflow:properties>
              <spiffworkflow:property name="form" value="dossier/sign.json"/>
              <spiffworkflow:property name="budget" value="0.5d"/>
            </spiffworkflow:properties>
          </bpmn:extensionElements>
          <bpmn:incoming>Flow_UT_Approve_to_UT_Sign</bpmn:incoming>
          <bpmn:outgoing>Flow_UT_Sign_to_GW_Approve</bpmn:outgoing>
        </bpmn:userTask>
        """
SIGN_SHAPE = """<bpmndi:BPMNShape id="UT_Sign_di" bpmnElement="UT_Sign">
        <dc:Bounds x="3160" y="1040" width="100" height="80"/>
      </bpmndi:BPMNShape>
      """


class Edit:
    """Text edits on the shipped BPMN, each of which must apply exactly once."""

    def __init__(self, xml: str):
        self.xml = xml

    def sub(self, old: str, new: str) -> Edit:
        assert self.xml.count(old) == 1, old
        self.xml = self.xml.replace(old, new)
        return self


def flow(source: str, target: str, flow_id: str | None = None) -> str:
    flow_id = flow_id or f"Flow_{source}_to_{target}"
    return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>'


def lane_ref(element_id: str) -> str:
    return f"<bpmn:flowNodeRef>{element_id}</bpmn:flowNodeRef>"


def add_sign_task(xml: str) -> str:
    """Version 2's main change: the leader's approval is followed by a new signing task."""
    return (
        Edit(xml)
        .sub(lane_ref("GW_Approve"), lane_ref("GW_Approve") + lane_ref("UT_Sign"))
        .sub(
            "<bpmn:outgoing>Flow_UT_Approve_to_GW_Approve</bpmn:outgoing>",
            "<bpmn:outgoing>Flow_UT_Approve_to_UT_Sign</bpmn:outgoing>",
        )
        .sub(
            "<bpmn:incoming>Flow_UT_Approve_to_GW_Approve</bpmn:incoming>",
            "<bpmn:incoming>Flow_UT_Sign_to_GW_Approve</bpmn:incoming>",
        )
        .sub(flow("UT_Approve", "GW_Approve"), flow("UT_Approve", "UT_Sign") + flow("UT_Sign", "GW_Approve"))
        .sub('<bpmn:exclusiveGateway id="GW_Approve"', SIGN_TASK + '<bpmn:exclusiveGateway id="GW_Approve"')
        .sub('bpmnElement="Flow_UT_Approve_to_GW_Approve"', 'bpmnElement="Flow_UT_Approve_to_UT_Sign"')
        .sub('<bpmndi:BPMNShape id="GW_Approve_di"', SIGN_SHAPE + '<bpmndi:BPMNShape id="GW_Approve_di"')
        .xml
    )


def shorter_appraisal(xml: str) -> str:
    """The appraisal's own budget goes from 5 to 4 working days."""
    return (
        Edit(xml)
        .sub(
            '<spiffworkflow:property name="budget" value="5d"/>',
            '<spiffworkflow:property name="budget" value="4d"/>',
        )
        .xml
    )


def shipped_xml(m) -> str:
    return (m.settings.processes_dir / "dossier_standard.bpmn").read_text(encoding="utf-8")


def deploy(m, xml: str, note: str = "Thêm bước ký số sau phê duyệt") -> int:
    designer = m.actor_for("thietke")
    draft, problems = save_draft(m, designer, xml=xml, forms={"dossier/sign.json": SIGN_FORM})
    assert problems == []
    return deploy_draft(m, designer, draft.id, note).version


def deploy_version_two(m) -> int:
    return deploy(m, shorter_appraisal(add_sign_task(shipped_xml(m))))


@pytest.fixture
def desk(motcua):
    return Desk(motcua)


@pytest.fixture
def designer(motcua):
    return motcua.actor_for("thietke")


def definition_version(m, code: str) -> int:
    with transaction(m.sessions) as session:
        return session.scalars(
            select(ProcessDefinition.version)
            .join(Case, Case.definition_id == ProcessDefinition.id)
            .where(Case.code == code)
        ).one()


def events_of(m, code: str, type_: str) -> list[CaseEvent]:
    with transaction(m.sessions) as session:
        return list(
            session.scalars(
                select(CaseEvent)
                .join(Case, Case.id == CaseEvent.case_id)
                .where(Case.code == code, CaseEvent.type == type_)
                .order_by(CaseEvent.seq)
            )
        )


def test_case_at_an_unchanged_task_moves_and_finishes_through_the_new_task(motcua, desk, designer):
    code = desk.receive()
    task = motcua.open_tasks(code)[0]
    motcua.claim_task(task.id, motcua.actor_for("motcua_anbinh"))
    assert deploy_version_two(motcua) == 2

    [check] = plan_migration(motcua, designer, PROCESS, 1, 2)
    assert (check.case_code, check.can_move, check.reasons) == (code, True, [])
    assert "UT_Check" in check.current_elements

    report = migrate_cases(motcua, designer, PROCESS, 1, 2, [code], note="Áp dụng quy trình ký số")
    assert (report.moved, report.refused) == ([code], {})
    assert definition_version(motcua, code) == 2
    [row] = motcua.open_tasks(code)  # the officer's claimed task is the same row
    assert (row.id, row.assignee, row.element_id) == (task.id, "motcua_anbinh", "UT_Check")

    [moved] = events_of(motcua, code, "case_migrated")
    assert moved.actor == "thietke"
    assert moved.data["from_version"] == 1 and moved.data["to_version"] == 2
    assert moved.data["note"] == "Áp dụng quy trình ký số"

    desk.work(code, "UT_Check", ACCEPT)
    desk.work(code, "UT_Appraise", PASS)
    desk.work(code, "UT_Approve", APPROVE)
    assert desk.open(code) == ["UT_Sign"]  # the element version 2 added
    [sign] = motcua.open_tasks(code)
    assert sign.role == "leader" and sign.form == "dossier/sign.json"
    desk.work(code, "UT_Sign", SIGN)
    assert desk.case(code).status == "processed"
    desk.work(code, "UT_Return", RETURN)
    motcua.deliver_message(code, "satisfaction_rated", {"level": "satisfied"})
    assert desk.case(code).completed
    assert motcua.verify_history(code).ok


def test_case_at_a_changed_task_is_refused_and_finishes_on_its_version(motcua, desk, designer):
    waiting = desk.receive()
    appraising = desk.receive()
    desk.work(appraising, "UT_Check", ACCEPT)
    deploy_version_two(motcua)

    checks = {c.case_code: c for c in plan_migration(motcua, designer, PROCESS, 1, 2)}
    assert checks[waiting].can_move
    refused = checks[appraising]
    assert not refused.can_move
    assert any(
        "UT_Appraise (Thẩm định hồ sơ) is open" in r and "changed in version 2" in r for r in refused.reasons
    ), refused.reasons

    report = migrate_cases(motcua, designer, PROCESS, 1, 2, [waiting, appraising], note="Ký số")
    assert report.moved == [waiting]
    assert report.refused[appraising] == refused.reasons
    assert definition_version(motcua, appraising) == 1
    assert events_of(motcua, appraising, "case_migrated") == []

    desk.work(appraising, "UT_Appraise", PASS)
    desk.work(appraising, "UT_Approve", APPROVE)
    assert desk.case(appraising).status == "processed"  # no signing step on version 1
    assert motcua.verify_history(appraising).ok

    [log] = [e for e in process_history(motcua, designer, PROCESS) if e.type == "cases_migrated"]
    assert log.actor == "thietke"
    assert log.data["moved"] == [waiting]
    assert log.data["refused"] == {appraising: refused.reasons}
    assert (log.data["from_version"], log.data["to_version"], log.data["note"]) == (1, 2, "Ký số")
    assert verify_process_log(motcua, PROCESS).ok


def snapshot(m) -> tuple:
    with transaction(m.sessions) as session:
        cases = session.execute(
            select(Case.code, Case.version, Case.definition_id, Case.history_seq, Case.state, Case.wake_at)
        ).all()
        counts = tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (CaseEvent, HumanTask, ProcessEvent)
        )
    return sorted(cases), counts


def test_dry_run_writes_nothing(motcua, desk, designer):
    codes = [desk.receive(), desk.receive()]
    desk.work(codes[1], "UT_Check", ACCEPT)
    deploy_version_two(motcua)
    before = snapshot(motcua)
    checks = plan_migration(motcua, designer, PROCESS, 1, 2)
    assert sorted(c.case_code for c in checks) == sorted(codes)
    assert snapshot(motcua) == before


def test_a_case_changed_between_plan_and_migration_is_checked_again(motcua, desk, designer):
    claimed, advanced = desk.receive(), desk.receive()
    deploy_version_two(motcua)
    checks = {c.case_code: c for c in plan_migration(motcua, designer, PROCESS, 1, 2)}
    assert checks[claimed].can_move and checks[advanced].can_move
    expected = {code: check.case_version for code, check in checks.items()}

    # Meanwhile the desk works: one case only claimed, the other moved on to the changed appraisal.
    motcua.claim_task(motcua.open_tasks(claimed)[0].id, motcua.actor_for("motcua_anbinh"))
    desk.work(advanced, "UT_Check", ACCEPT)

    report = migrate_cases(motcua, designer, PROCESS, 1, 2, [claimed, advanced], expected_versions=expected)
    assert report.moved == []
    assert report.refused[claimed] == ["the case changed since it was checked; check it again"]
    # Without the versions of the plan, each case is judged as it stands now.
    report = migrate_cases(motcua, designer, PROCESS, 1, 2, [claimed, advanced])
    assert report.moved == [claimed]
    assert "UT_Appraise" in report.refused[advanced][0]
    assert definition_version(motcua, advanced) == 1
    desk.work(advanced, "UT_Appraise", PASS)  # still works on version 1


def test_a_waiting_timer_keeps_its_due_instant(motcua, desk, designer, clock):
    code = desk.receive()
    desk.work(code, "UT_Check", ACCEPT)  # appraisal open, "one day before the appointment" timer set
    wake_at = desk.case(code).wake_at
    assert wake_at is not None
    deploy(motcua, add_sign_task(shipped_xml(motcua)))  # appraisal itself unchanged this time
    clock.advance(timedelta(hours=1))

    report = migrate_cases(motcua, designer, PROCESS, 1, 2, [code])
    assert report.moved == [code]
    assert desk.case(code).wake_at == wake_at
    clock.set(wake_at + timedelta(minutes=1))
    motcua.fire_due_timers()
    assert desk.open(code) == ["UT_Apology", "UT_Appraise"]
    assert motcua.verify_history(code).ok


def test_a_case_waiting_for_a_message_moves_and_continues(motcua, desk, designer, clock):
    code = desk.receive()
    desk.work(
        code,
        "UT_Check",
        {"reception_decision": "supplement", "missing_items": ["Bản sao"], "reception_reasons": "Thiếu"},
    )
    deploy_version_two(motcua)
    [check] = plan_migration(motcua, designer, PROCESS, 1, 2, [code])
    assert check.can_move and "ICE_ReceptionSupplement" in check.current_elements
    assert migrate_cases(motcua, designer, PROCESS, 1, 2, [code]).moved == [code]
    motcua.deliver_message(code, "supplement_received", {"items": ["Bản sao"]})
    desk.work(code, "UT_Recheck", ACCEPT)
    desk.work(code, "UT_Appraise", PASS)
    desk.work(code, "UT_Approve", APPROVE)
    assert desk.open(code) == ["UT_Sign"]


def test_removed_elements_still_ahead_of_a_case_do_not_block_it(motcua, desk, designer):
    code = desk.receive()
    desk.work(code, "UT_Check", ACCEPT)
    # Version 2 drops the "return the refusal notice" task: a stopped dossier just ends.
    refusal = "Flow_IE_Stopped_to_UT_ReturnRefusal"
    xml = (
        Edit(shipped_xml(motcua))
        .sub(flow("IE_Stopped", "UT_ReturnRefusal"), flow("IE_Stopped", "End_RefusalReturned", refusal))
        .sub(
            "<bpmn:incoming>Flow_UT_ReturnRefusal_to_End_RefusalReturned</bpmn:incoming>",
            f"<bpmn:incoming>{refusal}</bpmn:incoming>",
        )
        .sub(flow("UT_ReturnRefusal", "End_RefusalReturned"), "")
        .sub(lane_ref("UT_ReturnRefusal"), "")
        .xml
    )
    start = xml.index('<bpmn:userTask id="UT_ReturnRefusal"')
    xml = xml[:start] + xml[xml.index("</bpmn:userTask>", start) + len("</bpmn:userTask>") :]
    assert deploy(motcua, xml, note="Bỏ bước trả thông báo từ chối") == 2

    assert migrate_cases(motcua, designer, PROCESS, 1, 2, [code]).moved == [code]
    desk.work(
        code,
        "UT_Appraise",
        {"appraisal_outcome": "refuse", "appraisal_opinion": "Không đủ điều kiện", "appraisal_reasons": "x"},
    )
    desk.work(code, "UT_Approve", APPROVE)
    case = desk.case(code)
    assert case.status == "stopped" and case.completed
    assert motcua.verify_history(code).ok


def test_only_newer_versions_and_open_cases_of_the_version(motcua, desk, designer):
    code, done = desk.receive(), desk.receive()
    desk.work(done, "UT_Check", {"reception_decision": "refuse", "reception_reasons": "Sai thẩm quyền"})
    deploy_version_two(motcua)
    with pytest.raises(InvalidAction, match="newer"):
        plan_migration(motcua, designer, PROCESS, 2, 1)
    with pytest.raises(InvalidAction, match="newer"):
        migrate_cases(motcua, designer, PROCESS, 1, 1, [code])
    with pytest.raises(NotFound, match="no version 7"):
        plan_migration(motcua, designer, PROCESS, 1, 7)
    with pytest.raises(NotFound, match="NO-SUCH"):
        migrate_cases(motcua, designer, PROCESS, 1, 2, ["NO-SUCH"])
    with pytest.raises(InvalidAction, match=f"{done} is completed"):
        migrate_cases(motcua, designer, PROCESS, 1, 2, [code, done])
    assert definition_version(motcua, code) == 1  # nothing moved: the list was refused as a whole
    feedback = desk.feedback("procedure_content")
    with pytest.raises(InvalidAction, match=f"{feedback} does not run version 1 of dossier_standard"):
        migrate_cases(motcua, designer, PROCESS, 1, 2, [feedback])
    migrate_cases(motcua, designer, PROCESS, 1, 2, [code])
    with pytest.raises(InvalidAction, match="does not run version 1"):
        migrate_cases(motcua, designer, PROCESS, 1, 2, [code])


def test_only_designers_migrate_and_auditors_may_look(motcua, desk):
    code = desk.receive()
    deploy_version_two(motcua)
    officer, auditor = motcua.actor_for("motcua_anbinh"), motcua.actor_for("kiemtra")
    with pytest.raises(PermissionDenied):
        plan_migration(motcua, officer, PROCESS, 1, 2)
    assert [c.can_move for c in plan_migration(motcua, auditor, PROCESS, 1, 2)] == [True]
    for actor in (officer, auditor):
        with pytest.raises(PermissionDenied):
            migrate_cases(motcua, actor, PROCESS, 1, 2, [code])
    assert definition_version(motcua, code) == 1
    assert migrate_cases(motcua, motcua.actor_for("quantri"), PROCESS, 1, 2, [code]).moved == [code]


def test_a_layout_only_version_blocks_nothing(motcua, desk, designer):
    code = desk.receive()
    desk.work(code, "UT_Check", ACCEPT)  # the gateway after the check is behind the case
    # Moving the "refused" end above its siblings reorders the gateway's flows inside SpiffWorkflow.
    moved = Edit(shipped_xml(motcua)).sub(
        '<dc:Bounds x="1416" y="502" width="36" height="36"/>',
        '<dc:Bounds x="1416" y="100" width="36" height="36"/>',
    )
    assert deploy(motcua, moved.xml, note="Sắp xếp lại sơ đồ") == 2
    [check] = plan_migration(motcua, designer, PROCESS, 1, 2)
    assert (check.can_move, check.reasons) == (True, [])
    assert migrate_cases(motcua, designer, PROCESS, 1, 2, [code]).moved == [code]
    desk.work(code, "UT_Appraise", PASS)
    assert desk.open(code) == ["UT_Approve"]
