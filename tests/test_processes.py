"""Scenario tests: the shipped processes driven end to end through the engine API, every path
of docs/processes/*, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from engine.calendar import VN_TZ
from engine.db import transaction
from engine.errors import FormInvalid, InvalidAction
from engine.models import Case, CaseEvent, CasePause, FeedbackPublication, OutboxMessage

USERS = {
    ("officer", "XA_AN_BINH"): "motcua_anbinh",
    ("specialist", "XA_AN_BINH"): "chuyenvien_anbinh",
    ("leader", "XA_AN_BINH"): "lanhdao_anbinh",
    ("specialist", "CA_XA_AN_BINH"): "congan_anbinh",
    ("leader", "CA_XA_AN_BINH"): "congan_anbinh",
}
HOUSEHOLD_BUSINESS = "2.000720"  # 3 working days
INTERAGENCY = "1.013157"  # birth + residence + health insurance, 5 working days


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)


class Desk:
    """Drives cases the way the staff of commune An Bình would."""

    def __init__(self, m):
        self.m = m

    def receive(self, procedure: str = HOUSEHOLD_BUSINESS) -> str:
        officer = self.m.actor_for("motcua_anbinh")
        return self.m.receive_dossier(
            procedure, "XA_AN_BINH", actor=officer, applicant={"name": "Trần Thị Hạnh", "phone": "0987654321"}
        ).case_code

    def feedback(self, category: str) -> str:
        officer = self.m.actor_for("motcua_anbinh")
        return self.m.submit_feedback(
            "XA_AN_BINH",
            actor=officer,
            category=category,
            sender={"name": "Phạm Văn Đức", "address": "Thôn 3", "phone": "0911222333"},
            content="Đề nghị giảm thành phần hồ sơ đăng ký hộ kinh doanh",
        ).case_code

    def open(self, code: str) -> list[str]:
        return sorted(t.element_id for t in self.m.open_tasks(code))

    def work(self, code: str, element_id: str, data: dict) -> None:
        task = next(t for t in self.m.open_tasks(code) if t.element_id == element_id)
        with transaction(self.m.sessions) as session:
            from engine.models import Agency

            agency = session.get(Agency, task.agency_id).code
        actor = self.m.actor_for(USERS[(task.role, agency)])
        self.m.complete_task(task.id, data, actor)

    def case(self, code: str) -> Case:
        with transaction(self.m.sessions) as session:
            return session.scalars(select(Case).where(Case.code == code)).one()

    def statuses(self, code: str) -> list[str]:
        with transaction(self.m.sessions) as session:
            case_id = session.scalars(select(Case.id).where(Case.code == code)).one()
            rows = session.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == case_id, CaseEvent.type == "status_changed")
                .order_by(CaseEvent.seq)
            )
            return [e.data["to"] for e in rows]

    def pushed_codes(self, code: str) -> list[int]:
        with transaction(self.m.sessions) as session:
            case_id = session.scalars(select(Case.id).where(Case.code == code)).one()
            rows = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.case_id == case_id, OutboxMessage.topic == "case.status_changed")
                .order_by(OutboxMessage.id)
            )
            return [r.payload["national_status_code"] for r in rows]


@pytest.fixture
def desk(motcua):
    return Desk(motcua)


ACCEPT = {"reception_decision": "accept"}
PASS = {"appraisal_outcome": "pass", "appraisal_opinion": "Hồ sơ hợp lệ, đủ điều kiện"}
APPROVE = {"approval_decision": "approve", "result_reference": "GCN-123"}
RETURN = {"delivery_method": "desk", "receiver_name": "Trần Thị Hạnh"}


def test_standard_happy_path_with_rating(desk, motcua, clock):
    code = desk.receive()
    assert desk.open(code) == ["UT_Check"]
    desk.work(code, "UT_Check", ACCEPT)
    assert desk.case(code).appointment_at == at(2026, 3, 5, 9, 0)
    clock.advance(timedelta(hours=2))
    desk.work(code, "UT_Appraise", PASS)
    desk.work(code, "UT_Approve", APPROVE)
    assert desk.case(code).status == "processed"
    clock.advance(timedelta(hours=1))
    desk.work(code, "UT_Return", RETURN)
    case = desk.case(code)
    assert (case.status, case.completed) == ("returned", False)  # waits for the rating
    motcua.deliver_message(code, "satisfaction_rated", {"level": "very_satisfied"})
    case = desk.case(code)
    assert case.completed and case.finished_at < case.returned_at
    assert desk.statuses(code) == ["received", "processing", "processed", "returned"]
    assert desk.pushed_codes(code) == [2, 4, 9, 10]
    assert motcua.calendar.classify(case.finished_at, case.appointment_at) == "early"
    assert motcua.verify_history(code).ok


def test_rating_window_closes_by_timer(desk, motcua, clock):
    code = desk.receive()
    for element, data in (
        ("UT_Check", ACCEPT),
        ("UT_Appraise", PASS),
        ("UT_Approve", APPROVE),
        ("UT_Return", RETURN),
    ):
        desk.work(code, element, data)
    clock.set(at(2026, 3, 17, 9, 0))  # > 10 working days later
    motcua.fire_due_timers()
    case = desk.case(code)
    assert case.completed and case.status == "returned"


def test_reception_refusal(desk):
    code = desk.receive()
    desk.work(
        code, "UT_Check", {"reception_decision": "refuse", "reception_reasons": "Không thuộc thẩm quyền"}
    )
    case = desk.case(code)
    assert desk.statuses(code) == ["not_received"]
    assert desk.pushed_codes(code) == [3]
    assert case.completed and case.appointment_at is None


def test_supplement_at_reception_is_asked_once(desk, motcua, clock):
    code = desk.receive()
    with pytest.raises(FormInvalid) as err:
        desk.work(code, "UT_Check", {"reception_decision": "supplement"})
    assert "missing_items" in err.value.errors
    desk.work(
        code,
        "UT_Check",
        {
            "reception_decision": "supplement",
            "missing_items": ["Giấy đề nghị"],
            "reception_reasons": "Thiếu giấy đề nghị",
        },
    )
    assert desk.case(code).status == "supplement_requested"
    assert desk.open(code) == []
    clock.set(at(2026, 3, 4, 10, 0))
    motcua.deliver_message(code, "supplement_received", {"items": ["Giấy đề nghị"]})
    assert desk.open(code) == ["UT_Recheck"]
    with pytest.raises(FormInvalid):  # a second supplement request is not offered
        desk.work(code, "UT_Recheck", {"reception_decision": "supplement"})
    desk.work(code, "UT_Recheck", ACCEPT)
    # counting starts when the dossier is complete: Wed 4 March 10:00 + 3 working days
    assert desk.case(code).appointment_at == at(2026, 3, 9, 10, 0)
    assert desk.statuses(code)[:2] == ["supplement_requested", "received"]


def test_supplement_after_appraisal_pauses_the_clock(desk, motcua, clock):
    code = desk.receive()
    desk.work(code, "UT_Check", ACCEPT)
    clock.set(at(2026, 3, 3, 9, 0))
    desk.work(
        code,
        "UT_Appraise",
        {
            "appraisal_outcome": "supplement",
            "appraisal_opinion": "Thiếu bản vẽ",
            "supplement_items": ["Bản vẽ"],
            "appraisal_reasons": "Thiếu bản vẽ",
        },
    )
    assert desk.case(code).status == "supplement_requested"
    clock.set(at(2026, 3, 5, 9, 0))  # two working days later (16 working hours)
    motcua.deliver_message(code, "supplement_received", {"items": ["Bản vẽ"]})
    case = desk.case(code)
    assert case.status == "processing"
    assert case.appointment_at == at(2026, 3, 9, 9, 0)  # Thu 5 → Mon 9 March: moved by 2 working days
    with transaction(motcua.sessions) as session:
        pauses = session.scalars(select(CasePause).where(CasePause.case_id == case.id)).all()
    assert [(p.started_at, p.ended_at) for p in pauses] == [(at(2026, 3, 3, 9, 0), at(2026, 3, 5, 9, 0))]
    assert desk.open(code) == ["UT_AppraiseFinal"]
    with pytest.raises(FormInvalid):
        desk.work(code, "UT_AppraiseFinal", {"appraisal_outcome": "supplement", "appraisal_opinion": "x"})
    desk.work(code, "UT_AppraiseFinal", PASS)
    desk.work(code, "UT_Approve", APPROVE)
    case = desk.case(code)
    assert motcua.calendar.classify(case.finished_at, case.appointment_at) == "early"


def test_leader_returns_to_specialist(desk):
    code = desk.receive()
    desk.work(code, "UT_Check", ACCEPT)
    desk.work(code, "UT_Appraise", PASS)
    desk.work(code, "UT_Approve", {"approval_decision": "return", "approval_note": "Bổ sung căn cứ pháp lý"})
    assert desk.open(code) in (["UT_Appraise"], ["UT_AppraiseFinal"])
    element = desk.open(code)[0]
    desk.work(code, element, PASS)
    desk.work(code, "UT_Approve", APPROVE)
    assert desk.case(code).status == "processed"


def test_late_dossier_gets_one_apology_and_extension(desk, motcua, clock):
    code = desk.receive()
    desk.work(code, "UT_Check", ACCEPT)
    assert desk.case(code).wake_at == at(2026, 3, 4, 9, 0)  # one working day before Thu 5 March 09:00
    clock.set(at(2026, 3, 4, 9, 30))
    assert motcua.fire_due_timers() == 1
    assert "UT_Apology" in desk.open(code) and "UT_Appraise" in desk.open(code)
    with pytest.raises(FormInvalid) as err:
        desk.work(code, "UT_Apology", {"extension_reason": "Cần xác minh", "new_appointment_at": "thứ sáu"})
    assert "new_appointment_at" in err.value.errors
    desk.work(
        code,
        "UT_Apology",
        {"extension_reason": "Cần xác minh thực địa", "new_appointment_at": "2026-03-10T16:00:00+07:00"},
    )
    case = desk.case(code)
    assert (case.appointment_at, case.original_appointment_at, case.extension_count) == (
        at(2026, 3, 10, 16, 0),
        at(2026, 3, 5, 9, 0),
        1,
    )
    desk.work(code, "UT_Appraise", PASS)
    clock.set(at(2026, 3, 6, 9, 0))
    desk.work(code, "UT_Approve", APPROVE)
    case = desk.case(code)
    # re-appointed dossiers count as late against the original appointment
    assert motcua.calendar.classify(case.finished_at, case.original_appointment_at) == "late"


def test_withdrawal_until_result_exists(desk, motcua):
    code = desk.receive()
    desk.work(code, "UT_Check", ACCEPT)
    motcua.deliver_message(code, "withdrawal_requested", {"reason": "Không còn nhu cầu"})
    case = desk.case(code)
    assert (case.status, case.completed) == ("withdrawn", True)
    assert desk.open(code) == []
    assert desk.pushed_codes(code)[-1] == 7

    other = desk.receive()
    for element, data in (("UT_Check", ACCEPT), ("UT_Appraise", PASS), ("UT_Approve", APPROVE)):
        desk.work(other, element, data)
    with pytest.raises(InvalidAction, match="withdrawal_requested"):
        motcua.deliver_message(other, "withdrawal_requested", {"reason": "muộn"})
    assert desk.case(other).status == "processed"


def test_refusal_after_appraisal_is_returned_to_the_applicant(desk):
    code = desk.receive()
    desk.work(code, "UT_Check", ACCEPT)
    desk.work(
        code,
        "UT_Appraise",
        {
            "appraisal_outcome": "refuse",
            "appraisal_opinion": "Không đủ điều kiện",
            "appraisal_reasons": "Vi phạm quy hoạch",
        },
    )
    if "UT_Approve" in desk.open(code):
        desk.work(code, "UT_Approve", APPROVE)
    assert desk.case(code).status == "stopped"
    desk.work(code, "UT_ReturnRefusal", RETURN)
    assert desk.case(code).completed


def test_interagency_dossier_passes_to_the_police_and_back(desk, motcua):
    code = desk.receive(INTERAGENCY)
    desk.work(code, "UT_Check", ACCEPT)
    desk.work(code, "UT_Appraise", {**PASS, "handover_note": "Chuyển Công an xã đăng ký thường trú"})
    desk.work(code, "UT_Approve", APPROVE)
    tasks = motcua.open_tasks(code)
    assert [t.element_id for t in tasks] == ["UT_PartnerProcess"]
    with transaction(motcua.sessions) as session:
        from engine.models import Agency

        assert session.get(Agency, tasks[0].agency_id).code == "CA_XA_AN_BINH"
    # a specialist of the commune cannot work the police's step
    with pytest.raises(Exception, match="may not work"):
        motcua.complete_task(tasks[0].id, {}, motcua.actor_for("chuyenvien_anbinh"))
    desk.work(code, "UT_PartnerProcess", {"partner_opinion": "Đã đăng ký thường trú"})
    desk.work(code, "UT_PartnerApprove", {"partner_approval_decision": "approve"})
    desk.work(code, "UT_Finalize", {"result_reference": "Giấy khai sinh số 12/2026"})
    desk.work(code, "UT_Return", RETURN)
    assert desk.case(code).status == "returned"
    assert desk.statuses(code) == ["received", "processing", "processed", "returned"]


FEEDBACK_RECEIVE = {"summary": "Đề nghị giảm thành phần hồ sơ"}


def test_feedback_within_competence_is_answered_and_published(desk, motcua):
    code = desk.feedback("procedure_content")
    desk.work(code, "UT_Receive", {**FEEDBACK_RECEIVE, "category": "procedure_content"})
    assert desk.open(code) == ["UT_Handle"]
    desk.work(code, "UT_Handle", {"answer_draft": "Sẽ kiến nghị sửa đổi", "legal_basis": "Nghị định 20/2008"})
    desk.work(code, "UT_ApproveAnswer", {"answer_decision": "approve"})
    assert desk.case(code).status == "answered"
    desk.work(code, "UT_Publish", {"publication_channels": ["portal"]})
    case = desk.case(code)
    assert (case.status, case.completed) == ("published", True)
    assert desk.statuses(code)[-3:] == ["handling", "answered", "published"]
    with transaction(motcua.sessions) as session:
        publication = session.get(FeedbackPublication, case.id)
    assert publication.answer == "Sẽ kiến nghị sửa đổi"
    assert publication.question.startswith("Đề nghị giảm thành phần hồ sơ")


def test_feedback_not_accepted_is_rejected(desk):
    code = desk.feedback("not_regulation")
    desk.work(code, "UT_Receive", {**FEEDBACK_RECEIVE, "category": "not_regulation"})
    assert desk.open(code) == ["UT_Reject"]
    desk.work(code, "UT_Reject", {"rejection_reason": "Không phải quy định hành chính", "reply_content": "…"})
    assert desk.case(code).status == "rejected" and desk.case(code).completed


def test_feedback_outside_competence_is_transferred(desk):
    code = desk.feedback("outside_competence")
    desk.work(code, "UT_Receive", {**FEEDBACK_RECEIVE, "category": "outside_competence"})
    assert desk.open(code) == ["UT_Transfer"]
    desk.work(code, "UT_Transfer", {"transfer_to": "Sở Tài chính"})
    assert desk.case(code).status == "transferred" and desk.case(code).completed


def test_feedback_handling_reminder_and_escalation_timers(desk, motcua, clock):
    code = desk.feedback("fees")
    desk.work(code, "UT_Receive", {**FEEDBACK_RECEIVE, "category": "fees"})
    assert desk.open(code) == ["UT_Handle"]
    # 15 working days from Mon 2 March 09:00 = Mon 23 March 09:00; reminder 2 days before
    assert desk.case(code).wake_at == at(2026, 3, 19, 9, 0)
    clock.set(at(2026, 3, 19, 9, 0))
    motcua.fire_due_timers()
    assert desk.open(code) == ["UT_Handle"]
    clock.set(at(2026, 3, 23, 9, 0))
    motcua.fire_due_timers()
    assert desk.open(code) == ["UT_Escalation", "UT_Handle"]
    desk.work(code, "UT_Escalation", {"escalation_instruction": "Trả lời trong 2 ngày"})
    desk.work(code, "UT_Handle", {"answer_draft": "Trả lời"})
    desk.work(code, "UT_ApproveAnswer", {"answer_decision": "approve"})
    desk.work(code, "UT_Publish", {"publication_channels": ["portal"]})
    assert desk.case(code).completed
    with transaction(motcua.sessions) as session:
        case_id = session.scalars(select(Case.id).where(Case.code == code)).one()
        fired = session.scalars(
            select(CaseEvent.element_id).where(CaseEvent.case_id == case_id, CaseEvent.type == "timer_fired")
        ).all()
    assert fired == ["BE_Remind", "BE_Escalate"]
    assert motcua.verify_history(code).ok


def test_withdrawal_at_reception(desk, motcua):
    code = desk.receive()
    motcua.deliver_message(code, "withdrawal_requested", {"reason": "Nộp nhầm thủ tục"})
    case = desk.case(code)
    assert (case.status, case.completed) == ("withdrawn", True)
    assert desk.open(code) == []


def test_supplement_then_refusal_at_recheck(desk, motcua):
    code = desk.receive()
    desk.work(
        code,
        "UT_Check",
        {
            "reception_decision": "supplement",
            "missing_items": ["Giấy đề nghị"],
            "reception_reasons": "Thiếu giấy đề nghị",
        },
    )
    motcua.deliver_message(code, "supplement_received", {"items": []})
    desk.work(code, "UT_Recheck", {"reception_decision": "refuse", "reception_reasons": "Vẫn thiếu giấy tờ"})
    case = desk.case(code)
    assert case.completed and case.status == "not_received"
    assert desk.pushed_codes(code) == [5, 3]


def test_refusal_after_the_appraisal_supplement(desk, motcua):
    code = desk.receive()
    desk.work(code, "UT_Check", ACCEPT)
    desk.work(
        code,
        "UT_Appraise",
        {
            "appraisal_outcome": "supplement",
            "appraisal_opinion": "Thiếu",
            "supplement_items": ["Bản vẽ"],
            "appraisal_reasons": "Thiếu bản vẽ",
        },
    )
    motcua.deliver_message(code, "supplement_received", {"items": ["Bản vẽ"]})
    desk.work(
        code,
        "UT_AppraiseFinal",
        {
            "appraisal_outcome": "refuse",
            "appraisal_opinion": "Không đạt",
            "appraisal_reasons": "Bản vẽ không phù hợp quy hoạch",
        },
    )
    desk.work(code, "UT_Approve", APPROVE)
    assert desk.case(code).status == "stopped"
    desk.work(code, "UT_ReturnRefusal", {"delivery_method": "post"})
    assert desk.case(code).completed
    assert desk.pushed_codes(code) == [2, 4, 5, 4, 8]


def test_feedback_answer_sent_back_by_the_leader(desk):
    code = desk.feedback("forms")
    desk.work(code, "UT_Receive", {**FEEDBACK_RECEIVE, "category": "forms"})
    desk.work(code, "UT_Handle", {"answer_draft": "Bản nháp"})
    with pytest.raises(FormInvalid) as err:
        desk.work(code, "UT_ApproveAnswer", {"answer_decision": "return"})
    assert "answer_note" in err.value.errors
    desk.work(code, "UT_ApproveAnswer", {"answer_decision": "return", "answer_note": "Bổ sung căn cứ"})
    assert desk.open(code) == ["UT_Handle"]
    desk.work(code, "UT_Handle", {"answer_draft": "Bản đã sửa", "legal_basis": "Điều 5"})
    desk.work(code, "UT_ApproveAnswer", {"answer_decision": "approve"})
    desk.work(code, "UT_Publish", {"publication_channels": ["portal"]})
    assert desk.case(code).status == "published"


def test_element_states_follow_the_workflow(desk, motcua):
    code = desk.receive()
    assert "UT_Check" in motcua.element_states(code)["current"]
    desk.work(code, "UT_Check", ACCEPT)
    states = motcua.element_states(code)
    assert "UT_Check" in states["completed"] and "UT_Appraise" in states["current"]
    assert "BE_Late" in states["current"]  # the late timer waits on the processing round
    assert "BE_WithdrawRound" in states["current"]
