"""The process diagram of the staff case page: the BPMN XML of the version a case runs on, the
state (current and completed elements) as the engine reads it from the workflow, the
same 404 as the case page for a case the actor may not read, and the panel on the page."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from engine.calendar import VN_TZ

STANDARD = "2.000720"  # household business registration: dossier_standard, 3 working days
PROCESSES = Path(__file__).resolve().parents[2] / "processes"
OLD_NAME = "Tiếp nhận và kiểm tra hồ sơ"
NEW_NAME = "Tiếp nhận, kiểm tra và số hoá hồ sơ"
ACCEPT = {"reception_decision": "accept"}
PASS = {"appraisal_outcome": "pass", "appraisal_opinion": "Đủ điều kiện"}
APPROVE = {"approval_decision": "approve", "result_reference": "123/GCN"}
RETURN = {"delivery_method": "desk", "receiver_name": "Trần Thị Hạnh"}
SUPPLEMENT = {
    "reception_decision": "supplement",
    "missing_items": ["Giấy đề nghị"],
    "reception_reasons": "Thiếu giấy đề nghị",
}
STAFF_OF = {"officer": "motcua_anbinh", "specialist": "chuyenvien_anbinh", "leader": "lanhdao_anbinh"}


def receive(m, commune: str = "anbinh") -> str:
    agency = {"anbinh": "XA_AN_BINH", "phumy": "XA_PHU_MY"}[commune]
    officer = m.actor_for(f"motcua_{commune}")
    return m.receive_dossier(
        STANDARD, agency, actor=officer, applicant={"name": "Trần Thị Hạnh", "address": "Thôn 2"}
    ).case_code


def work(m, code: str, element_id: str, data: dict) -> None:
    task = next(t for t in m.open_tasks(code) if t.element_id == element_id)
    m.complete_task(task.id, data, m.actor_for(STAFF_OF[task.role]))


def state(client, code: str) -> dict:
    response = client.get(f"/staff/cases/{code}/diagram-state.json")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def test_the_xml_is_the_version_the_case_runs_on(motcua, as_user, tmp_path):
    started_before = receive(motcua)
    # A new version of dossier_standard: the reception check renamed.
    copy = tmp_path / "processes"
    shutil.copytree(PROCESSES, copy)
    bpmn = copy / "dossier_standard.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace(OLD_NAME, NEW_NAME), encoding="utf-8")
    motcua.settings = replace(motcua.settings, processes_dir=copy)
    assert motcua.deploy_file(bpmn).version == 2
    started_after = receive(motcua)

    officer = as_user("motcua_anbinh")
    old = officer.get(f"/staff/cases/{started_before}/diagram.bpmn")
    assert old.status_code == 200
    assert old.mimetype == "application/xml"
    assert old.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in old.headers["Content-Security-Policy"]
    xml = old.get_data(as_text=True)
    assert xml.startswith("<?xml") and 'id="UT_Check"' in xml
    assert f'name="{OLD_NAME}"' in xml and NEW_NAME not in xml
    assert xml == (PROCESSES / "dossier_standard.bpmn").read_text(encoding="utf-8")

    new = officer.get(f"/staff/cases/{started_after}/diagram.bpmn").get_data(as_text=True)
    assert f'name="{NEW_NAME}"' in new and OLD_NAME not in new


def nodes(elements: list[str]) -> set[str]:
    """Flow nodes among the marked elements (running sub-processes are marked as well)."""
    return {e for e in elements if not e.startswith("Sub_")}


def test_check_is_current_after_reception_and_completed_after_acceptance(motcua, as_user):
    code = receive(motcua)
    officer = as_user("motcua_anbinh")

    received = state(officer, code)
    # The open check, and the withdrawal the reception sub-process listens for meanwhile.
    assert nodes(received["current"]) == {"UT_Check", "BE_WithdrawReception"}
    assert "Sub_Std_Reception" in received["current"]  # the running sub-process is marked too
    assert "UT_Check" not in received["completed"]
    assert received["status"] == motcua.open_tasks(code)[0].case.status

    work(motcua, code, "UT_Check", ACCEPT)
    accepted = state(officer, code)
    assert "UT_Check" in accepted["completed"]
    # Completed in the order they completed: the check, then the appointment script, the hand-over.
    order = accepted["completed"]
    assert order.index("UT_Check") < order.index("ST_Schedule") < order.index("IE_StartProcessing")
    assert nodes(accepted["current"]) == {"UT_Appraise", "BE_Late", "BE_WithdrawRound"}
    assert accepted["status"] == "processing"


def test_awaited_messages_and_timers_are_current(motcua, as_user, clock):
    code = receive(motcua)
    officer = as_user("motcua_anbinh")
    work(motcua, code, "UT_Check", SUPPLEMENT)
    waiting = state(officer, code)
    assert waiting["status"] == "supplement_requested"
    assert nodes(waiting["current"]) == {"BE_WithdrawReception", "ICE_ReceptionSupplement"}
    assert {"UT_Check", "IE_SupplementRequested"} <= set(waiting["completed"])

    motcua.deliver_message(code, "supplement_received", {"items": ["Giấy đề nghị"]})
    supplemented = state(officer, code)
    assert nodes(supplemented["current"]) == {"UT_Recheck", "BE_WithdrawReception"}
    assert "ICE_ReceptionSupplement" in supplemented["completed"]  # the message's target

    for element, data in (("UT_Recheck", ACCEPT), ("UT_Appraise", PASS), ("UT_Approve", APPROVE)):
        work(motcua, code, element, data)
    work(motcua, code, "UT_Return", RETURN)
    returned = state(officer, code)
    # The event-based gateway waits for the rating or the end of the rating window (a timer).
    assert nodes(returned["current"]) == {"ICE_Rated", "ICE_RatingClosed"}
    assert returned["status"] == "returned"

    clock.set(datetime(2026, 3, 30, 9, 0, tzinfo=VN_TZ))  # well past 10 working days
    assert motcua.fire_due_timers() == 1
    closed = state(officer, code)
    assert closed["current"] == []
    assert "ICE_RatingClosed" in closed["completed"] and "ICE_Rated" not in closed["completed"]


def test_a_fired_late_warning_no_longer_waits(motcua, as_user, clock):
    code = receive(motcua)
    work(motcua, code, "UT_Check", ACCEPT)  # appointment: Thu 5 March 09:00
    clock.advance(timedelta(days=2))  # the warning fires one working day before
    assert motcua.fire_due_timers() == 1
    after = state(as_user("chuyenvien_anbinh"), code)
    assert "BE_Late" in after["completed"]
    assert nodes(after["current"]) == {"UT_Appraise", "UT_Apology", "BE_WithdrawRound"}


def test_a_withdrawal_interrupts_what_was_awaited(motcua, as_user):
    code = receive(motcua)
    work(motcua, code, "UT_Check", SUPPLEMENT)
    motcua.deliver_message(code, "withdrawal_requested", {"reason": "Không còn nhu cầu"})
    withdrawn = state(as_user("motcua_anbinh"), code)
    assert withdrawn["current"] == [] and withdrawn["status"] == "withdrawn"
    # The message went to the reception's boundary event, not to the awaited supplement.
    assert {"UT_Check", "IE_SupplementRequested", "BE_WithdrawReception", "End_Withdrawn"} <= set(
        withdrawn["completed"]
    )
    assert "ICE_ReceptionSupplement" not in withdrawn["completed"]


def test_other_commune_gets_404_on_both(motcua, as_user, client):
    code = receive(motcua)
    stranger = as_user("motcua_phumy")
    assert stranger.get(f"/staff/cases/{code}/diagram.bpmn").status_code == 404
    assert stranger.get(f"/staff/cases/{code}/diagram-state.json").status_code == 404
    assert stranger.get("/staff/cases/NO-SUCH-CODE/diagram-state.json").status_code == 404
    # Signed out: to the sign-in page, nothing of the case.
    assert client.get(f"/staff/cases/{code}/diagram.bpmn").status_code == 302
    assert client.get(f"/staff/cases/{code}/diagram-state.json").status_code == 302
    # The provincial auditor reads every commune's cases, diagram included.
    assert as_user("kiemtra").get(f"/staff/cases/{code}/diagram-state.json").status_code == 200


def test_case_page_has_the_diagram_panel(motcua, as_user):
    code = receive(motcua)
    page = as_user("motcua_anbinh").get(f"/staff/cases/{code}").get_data(as_text=True)
    assert '<div id="diagram"' in page
    assert f'data-xml-url="/staff/cases/{code}/diagram.bpmn"' in page
    assert f'data-state-url="/staff/cases/{code}/diagram-state.json"' in page
    assert 'data-viewer-url="/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js"' in page
    assert "/static/vendor/bpmn-js/assets/diagram-js.css" in page
    assert '<script src="/static/js/case-diagram.js" defer></script>' in page
    assert "Sơ đồ quy trình" in page  # Vietnamese first
    assert "máy chủ chưa cài đặt trình xem sơ đồ" in page  # the line shown without the viewer


def test_timers_of_a_feedback_wait_until_they_fire(motcua, as_user, clock):
    code = motcua.submit_feedback(
        "XA_AN_BINH",
        actor=motcua.actor_for("motcua_anbinh"),
        category="fees",
        sender={"name": "Phạm Văn Đức", "address": "Thôn 3", "phone": "0911222333"},
        content="Đề nghị giảm lệ phí",
    ).case_code
    officer = as_user("motcua_anbinh")
    assert nodes(state(officer, code)["current"]) == {"UT_Receive"}
    work(motcua, code, "UT_Receive", {"summary": "Đề nghị giảm lệ phí", "category": "fees"})
    # Both timers of the handling sub-process wait: the reminder, then the escalation.
    assert nodes(state(officer, code)["current"]) == {"UT_Handle", "BE_Escalate", "BE_Remind"}
    clock.set(datetime(2026, 3, 19, 9, 0, tzinfo=VN_TZ))
    motcua.fire_due_timers()
    reminded = state(officer, code)
    assert nodes(reminded["current"]) == {"UT_Handle", "BE_Escalate"}
    assert "BE_Remind" in reminded["completed"]
    clock.set(datetime(2026, 3, 23, 9, 0, tzinfo=VN_TZ))
    motcua.fire_due_timers()
    escalated = state(officer, code)
    assert nodes(escalated["current"]) == {"UT_Handle", "UT_Escalation"}
    assert escalated["completed"].index("BE_Remind") < escalated["completed"].index("BE_Escalate")
    # Every id names an element of the diagram the viewer draws.
    xml = officer.get(f"/staff/cases/{code}/diagram.bpmn").get_data(as_text=True)
    assert all(f'id="{element}"' in xml for element in escalated["current"] + escalated["completed"])
