"""The staff workspace through the Flask test client on a real database (SQLite, and PostgreSQL
when configured): inbox, task forms rendered from the shipped JSON Schemas, case page, reception
and the printable forms."""

from __future__ import annotations

import json
import re
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from engine.access import check_case_pin
from engine.calendar import VN_TZ
from engine.db import transaction
from engine.inbox import InboxFilter, query_inbox
from engine.models import Case, CaseAccess, CaseEvent, HumanTask, OutboxMessage
from web.staff.forms import build_fields, local_to_iso, parse

HOUSEHOLD_BUSINESS = "2.000720"  # 3 working days, no 15:00 cut-off
BUILDING_PERMIT = "1.009994"  # 15 working days
ID_NUMBER = "079203001234"
ACCEPT = {"reception_decision": "accept"}
PASS = {"appraisal_outcome": "pass", "appraisal_opinion": "Đủ điều kiện"}
APPROVE = {"approval_decision": "approve", "result_reference": "123/GCN"}
FORMS = Path(__file__).resolve().parents[2] / "processes" / "forms"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)


def receive(
    m, name: str = "Trần Thị Hạnh", procedure: str = HOUSEHOLD_BUSINESS, commune: str = "anbinh"
) -> str:
    agency = {"anbinh": "XA_AN_BINH", "phumy": "XA_PHU_MY"}[commune]
    officer = m.actor_for(f"motcua_{commune}")
    return m.receive_dossier(
        procedure, agency, actor=officer, applicant={"name": name, "address": "Thôn 2"}
    ).case_code


def feedback(m, name: str = "Phạm Văn Đức") -> str:
    return m.submit_feedback(
        "XA_AN_BINH",
        actor=m.actor_for("motcua_anbinh"),
        category="procedure_content",
        sender={"name": name, "address": "Thôn 3", "phone": "0911222333"},
        content="Đề nghị giảm thành phần hồ sơ",
    ).case_code


def task_of(m, code: str, element_id: str) -> HumanTask:
    return next(t for t in m.open_tasks(code) if t.element_id == element_id)


def work(m, code: str, element_id: str, data: dict, username: str) -> None:
    m.complete_task(task_of(m, code, element_id).id, data, m.actor_for(username))


def text(response) -> str:
    return response.get_data(as_text=True)


def rows(page: str) -> dict[int, str]:
    """Inbox rows: task id -> class attribute of the row."""
    return {int(t): c for c, t in re.findall(r'<tr class="([^"]*)" data-task="(\d+)">', page)}


def count(page: str, key: str) -> int:
    return int(re.search(rf'data-count="{key}">(\d+)<', page).group(1))


def field_block(page: str, name: str) -> str:
    """The HTML of one rendered form field, up to the next field."""
    start = page.index(f'id="field-{name}"')
    end = page.find('<div class="field', start + 1)
    return page[start : end if end != -1 else len(page)]


def assignee(m, task_id: int) -> str | None:
    with transaction(m.sessions) as session:
        return session.get(HumanTask, task_id).assignee


def events(m, code: str, type_: str) -> list[CaseEvent]:
    with transaction(m.sessions) as session:
        case_id = session.scalars(select(Case.id).where(Case.code == code)).one()
        return list(
            session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.type == type_))
        )


# -- the inbox query ------------------------------------------------------------------------


def test_query_inbox_scope_counts_filters_and_pages(motcua, clock):
    m = motcua
    first = receive(m, "Đỗ Thị Hà")
    clock.advance(timedelta(minutes=10))
    second = receive(m, "Nguyễn Văn Bình", procedure=BUILDING_PERMIT)
    clock.advance(timedelta(minutes=10))
    fb = feedback(m, "Lê Văn Cường")
    receive(m, "Phạm Thị Phú Mỹ", commune="phumy")  # another commune: never in An Bình's inbox
    officer = m.actor_for("motcua_anbinh")

    page = query_inbox(m, officer)
    assert [r.case_code for r in page.rows] == [first, second, fb]  # by due time
    assert page.total == 3 and {r.due_state for r in page.rows} == {"soon"}
    assert page.counts == {"all": 3, "mine": 0, "unclaimed": 3, "overdue": 0, "soon": 3}
    assert query_inbox(m, m.actor_for("chuyenvien_anbinh")).total == 0  # nothing accepted yet

    # Case-insensitive on Vietnamese letters outside ASCII (Đ/đ, Ỗ/ỗ), on SQLite too.
    assert [r.case_code for r in query_inbox(m, officer, InboxFilter(applicant="đỗ thị")).rows] == [first]
    assert [r.case_code for r in query_inbox(m, officer, InboxFilter(applicant="ĐỖ")).rows] == [first]
    assert [r.case_code for r in query_inbox(m, officer, InboxFilter(code=second[-6:])).rows] == [second]
    assert [r.case_code for r in query_inbox(m, officer, InboxFilter(kind="feedback")).rows] == [fb]
    by_procedure = query_inbox(m, officer, InboxFilter(procedure_code=BUILDING_PERMIT))
    assert [r.case_code for r in by_procedure.rows] == [second]
    assert query_inbox(m, officer, InboxFilter(status="received")).total == 1  # the feedback
    assert query_inbox(m, officer, InboxFilter(due="overdue")).total == 0
    assert query_inbox(m, officer, InboxFilter(applicant="100%_")).total == 0  # LIKE wildcards escaped

    one, two = query_inbox(m, officer, per_page=2), query_inbox(m, officer, page=2, per_page=2)
    assert [len(one.rows), len(two.rows), one.pages, one.total] == [2, 1, 2, 3]
    assert {r.task_id for r in one.rows}.isdisjoint({r.task_id for r in two.rows})

    m.claim_task(one.rows[0].task_id, officer)
    page = query_inbox(m, officer)
    assert page.counts["mine"] == 1 and page.counts["unclaimed"] == 2
    assert [r.case_code for r in query_inbox(m, officer, InboxFilter(mine=True)).rows] == [first]

    clock.set(at(2026, 3, 2, 16, 0))  # the checks were due at 15:00-ish
    page = query_inbox(m, officer)
    assert page.counts["overdue"] == 3 and {r.due_state for r in page.rows} == {"overdue"}
    assert query_inbox(m, officer, InboxFilter(due="soon")).total == 0


# -- inbox page -----------------------------------------------------------------------------


def test_inbox_page_shows_actionable_tasks_counts_and_highlights(motcua, clock, as_user):
    m = motcua
    codes = [receive(m, f"Người nộp {i}") for i in range(3)]
    other = receive(m, "Người Phú Mỹ", commune="phumy")
    officer = as_user("motcua_anbinh")
    page = text(officer.get("/staff/"))
    assert all(code in page for code in codes) and other not in page
    assert count(page, "all") == 3 and count(page, "soon") == 3 and count(page, "overdue") == 0
    assert set(rows(page).values()) == {"near-due"}  # due at 15:00 today, within a working day
    assert "Tiếp nhận và kiểm tra hồ sơ" in page and "Trần" not in page

    clock.set(at(2026, 3, 2, 15, 30))
    page = text(officer.get("/staff/"))
    assert set(rows(page).values()) == {"overdue"} and count(page, "overdue") == 3

    # Filters are GET parameters; pagination keeps them.
    page = text(officer.get("/staff/?per_page=10&applicant=ng%C6%B0%E1%BB%9Di+n%E1%BB%99p+1"))
    assert list(rows(page)) == [task_of(m, codes[1], "UT_Check").id]
    page = text(officer.get(f"/staff/?code={codes[2]}"))
    assert list(rows(page)) == [task_of(m, codes[2], "UT_Check").id]
    assert rows(text(officer.get("/staff/?kind=feedback"))) == {}
    assert len(rows(text(officer.get("/staff/?due=overdue")))) == 3
    assert rows(text(officer.get("/staff/?due=later"))) == {}
    assert len(rows(text(officer.get(f"/staff/?procedure={HOUSEHOLD_BUSINESS}")))) == 3
    assert rows(text(officer.get(f"/staff/?procedure={BUILDING_PERMIT}"))) == {}
    assert rows(text(officer.get("/staff/?status=processing"))) == {}

    # Pages of 10 (the smallest size offered): 13 tasks make two pages.
    for i in range(10):
        receive(m, f"Thêm {i}")
    page1 = text(officer.get("/staff/?per_page=10"))
    assert len(rows(page1)) == 10 and "Trang 1/2" in page1
    next_link = re.search(r'href="([^"]+)" rel="next"', page1).group(1).replace("&amp;", "&")
    assert "per_page=10" in next_link and "page=2" in next_link
    page2 = text(officer.get(next_link))
    assert len(rows(page2)) == 3 and set(rows(page1)).isdisjoint(rows(page2))

    # The specialist has nothing until a dossier is accepted.
    specialist = as_user("chuyenvien_anbinh")
    assert rows(text(specialist.get("/staff/"))) == {}
    work(m, codes[0], "UT_Check", ACCEPT, "motcua_anbinh")
    page = text(specialist.get("/staff/"))
    assert list(rows(page)) == [task_of(m, codes[0], "UT_Appraise").id] and count(page, "all") == 1


def test_claim_release_and_assign(motcua, as_user):
    m = motcua
    code = receive(m)
    check = task_of(m, code, "UT_Check").id
    officer = as_user("motcua_anbinh")

    response = officer.post(f"/staff/tasks/{check}/claim", data={"next": "/staff/?mine=1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/?mine=1")
    assert assignee(m, check) == "motcua_anbinh"
    page = text(officer.get("/staff/?mine=1"))
    assert count(page, "mine") == 1 and check in rows(page) and "Trả lại" in page  # release button
    officer.post(f"/staff/tasks/{check}/release")
    assert assignee(m, check) is None

    work(m, code, "UT_Check", ACCEPT, "motcua_anbinh")
    appraise = task_of(m, code, "UT_Appraise").id
    leader = as_user("lanhdao_anbinh")
    # A leader's own inbox holds leader tasks; the team view shows the agency's tasks to hand out.
    assert appraise not in rows(text(leader.get("/staff/")))
    team = text(leader.get("/staff/?team=1"))
    assert appraise in rows(team)
    select_html = re.search(rf'<select id="assign-{appraise}".*?</select>', team, re.S).group(0)
    assert "chuyenvien_anbinh" in select_html and "motcua_anbinh" not in select_html

    follow = leader.post(
        f"/staff/tasks/{appraise}/assign", data={"assignee": "chuyenvien_anbinh"}, follow_redirects=True
    )
    assert assignee(m, appraise) == "chuyenvien_anbinh" and "Đã giao việc cho chuyenvien_anbinh" in text(
        follow
    )
    page = text(as_user("chuyenvien_anbinh").get("/staff/"))
    assert count(page, "mine") == 1 and appraise in rows(page)

    # Someone without the task's role cannot be given it; a specialist cannot assign at all.
    refused = leader.post(
        f"/staff/tasks/{appraise}/assign", data={"assignee": "motcua_anbinh"}, follow_redirects=True
    )
    assert "Bạn không được thực hiện thao tác này" in text(refused)
    as_user("chuyenvien_anbinh").post(f"/staff/tasks/{appraise}/assign", data={"assignee": "lanhdao_anbinh"})
    assert assignee(m, appraise) == "chuyenvien_anbinh"

    # A leader of another commune does not even learn that the task exists.
    other = as_user("lanhdao_phumy")
    assert (
        other.post(f"/staff/tasks/{appraise}/assign", data={"assignee": "chuyenvien_phumy"}).status_code
        == 404
    )
    assert other.post(f"/staff/tasks/{appraise}/release").status_code == 404
    assert as_user("motcua_phumy").post(f"/staff/tasks/{check}/claim").status_code == 404
    assert assignee(m, appraise) == "chuyenvien_anbinh"

    # The leader of the agency may take the task back from the specialist.
    leader.post(f"/staff/tasks/{appraise}/release")
    assert assignee(m, appraise) is None


# -- task page ------------------------------------------------------------------------------


def test_task_page_renders_every_widget_of_the_shipped_forms(motcua, clock, as_user):
    m = motcua
    code = receive(m)
    check = task_of(m, code, "UT_Check").id
    page = text(as_user("motcua_anbinh").get(f"/staff/tasks/{check}"))
    assert code in page and "Đăng ký thành lập hộ kinh doanh" in page and "Trần Thị Hạnh" in page
    decision = field_block(page, "reception_decision")
    assert '<select id="f-reception_decision"' in decision
    assert '<option value="supplement">Yêu cầu bổ sung, hoàn thiện</option>' in decision  # x-enumTitles
    assert 'class="lines"' in field_block(page, "missing_items")  # array of strings: one per line
    assert '<textarea id="f-reception_reasons"' in field_block(page, "reception_reasons")  # maxLength 2000

    work(m, code, "UT_Check", ACCEPT, "motcua_anbinh")
    appraise = task_of(m, code, "UT_Appraise").id
    page = text(as_user("chuyenvien_anbinh").get(f"/staff/tasks/{appraise}"))
    assert 'name="draft_result_reference" type="text"' in field_block(page, "draft_result_reference")
    assert "Tiếp nhận và kiểm tra hồ sơ" in page and "motcua_anbinh" in page  # previous step

    # One working day before the appointment (Thu 09:00) the apology task opens for the leader.
    clock.set(at(2026, 3, 4, 10, 0))
    m.fire_due_timers()
    apology = task_of(m, code, "UT_Apology").id
    leader = as_user("lanhdao_anbinh")
    page = text(leader.get(f"/staff/tasks/{apology}"))
    assert 'type="datetime-local"' in field_block(page, "new_appointment_at")
    bad = leader.post(
        f"/staff/tasks/{apology}",
        data={"extension_reason": "Cần xác minh", "new_appointment_at": "12/03/2026"},
    )
    assert bad.status_code == 422
    block = field_block(text(bad), "new_appointment_at")
    assert "Nhập ngày và giờ" in block and 'value="12/03/2026"' in block
    assert "Cần xác minh" in text(bad)
    ok = leader.post(
        f"/staff/tasks/{apology}",
        data={"extension_reason": "Cần xác minh", "new_appointment_at": "2026-03-12T16:00"},
    )
    assert ok.status_code == 302
    with transaction(m.sessions) as session:
        case = session.scalars(select(Case).where(Case.code == code)).one()
        # The wall-clock time typed is Hà Nội time, sent as +07:00.
        assert case.appointment_at == at(2026, 3, 12, 16, 0) and case.extension_count == 1

    fb = feedback(m)
    work(m, fb, "UT_Receive", {"category": "procedure_content", "summary": "Giảm hồ sơ"}, "motcua_anbinh")
    handle = task_of(m, fb, "UT_Handle").id
    specialist = as_user("chuyenvien_anbinh")
    page = text(specialist.get(f"/staff/tasks/{handle}"))
    assert 'type="checkbox" name="regulation_change_proposed"' in field_block(
        page, "regulation_change_proposed"
    )
    specialist.post(
        f"/staff/tasks/{handle}", data={"answer_draft": "Trả lời", "regulation_change_proposed": "on"}
    )
    after = events(m, fb, "task_completed")[-1].data["after"]
    assert after == {"answer_draft": "Trả lời", "regulation_change_proposed": True}


def test_widgets_and_parsing_for_every_schema_type():
    publish = json.loads((FORMS / "feedback" / "publish.json").read_text(encoding="utf-8"))
    channels = {f.name: f for f in build_fields(publish)}["publication_channels"]
    assert channels.widget == "checkboxes" and ("portal", "Cổng Dịch vụ công") in channels.options
    schema = {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "when": {"type": "string", "format": "date-time"},
            "items": {"type": "array", "items": {"type": "string"}},
            "flag": {"type": "boolean"},
            "note": {"type": "string", "maxLength": 50},
        },
    }
    widgets = {f.name: f.widget for f in build_fields(schema)}
    assert widgets == {
        "count": "integer",
        "ratio": "number",
        "when": "datetime",
        "items": "lines",
        "flag": "checkbox",
        "note": "text",
    }
    form = MultiDict(
        {"count": "12", "ratio": "1,5", "when": "2026-03-10T08:30", "items": " a \n\n b ", "note": " x "}
    )
    data, errors = parse(schema, form)
    assert errors == {}
    assert data == {
        "count": 12,
        "ratio": 1.5,
        "when": "2026-03-10T08:30:00+07:00",
        "items": ["a", "b"],
        "flag": False,
        "note": "x",
    }
    data, errors = parse(schema, MultiDict({"count": "1.5", "ratio": "abc", "when": "mai"}))
    assert set(errors) == {"count", "ratio", "when"} and data["count"] is None and data["when"] is None
    assert local_to_iso("2026-03-10T01:00:00+00:00") == "2026-03-10T08:00:00+07:00"


def test_bad_input_is_refused_at_the_field_and_nothing_typed_is_lost(motcua, as_user):
    m = motcua
    code = receive(m)
    check = task_of(m, code, "UT_Check").id
    officer = as_user("motcua_anbinh")

    missing = officer.post(f"/staff/tasks/{check}", data={"reception_note": "Ghi chú đã gõ"})
    assert missing.status_code == 422
    assert "Trường này là bắt buộc" in field_block(text(missing), "reception_decision")
    assert "Ghi chú đã gõ" in field_block(text(missing), "reception_note")

    bad_enum = officer.post(
        f"/staff/tasks/{check}",
        data={
            "reception_decision": "bogus",
            "missing_items": "Giấy A\nGiấy B",
            "reception_reasons": "Lý do gõ tay",
        },
    )
    assert bad_enum.status_code == 422
    assert "Chọn một trong các giá trị" in field_block(text(bad_enum), "reception_decision")
    assert "Giấy A\nGiấy B" in field_block(text(bad_enum), "missing_items")
    assert "Lý do gõ tay" in field_block(text(bad_enum), "reception_reasons")

    # The conditional rule of the form (a supplement lists the missing items) lands at its field.
    conditional = officer.post(
        f"/staff/tasks/{check}", data={"reception_decision": "supplement", "reception_reasons": "Thiếu"}
    )
    assert conditional.status_code == 422
    assert "Trường này là bắt buộc" in field_block(text(conditional), "missing_items")
    assert '<option value="supplement" selected>' in text(conditional)
    assert task_of(m, code, "UT_Check").id == check  # nothing was completed


def test_completion_goes_to_the_next_task_and_a_second_one_is_a_conflict(motcua, as_user):
    m = motcua
    first, second = receive(m, "Người thứ nhất"), receive(m, "Người thứ hai")
    check1, check2 = task_of(m, first, "UT_Check").id, task_of(m, second, "UT_Check").id
    officer = as_user("motcua_anbinh")
    done = officer.post(f"/staff/tasks/{check1}", data={"reception_decision": "accept"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/staff/tasks/{check2}")
    page = text(officer.get(done.headers["Location"]))
    assert "Đã hoàn thành" in page and first in page  # the flash names the finished task's dossier

    again = officer.post(f"/staff/tasks/{check1}", data={"reception_decision": "refuse"})
    assert again.status_code == 302 and again.headers["Location"].endswith("/staff/")
    assert "đã được người khác hoàn thành" in text(officer.get("/staff/"))
    assert [e.data["after"] for e in events(m, first, "task_completed")] == [ACCEPT]
    # The page of a finished task sends to the case.
    response = officer.get(f"/staff/tasks/{check1}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/staff/cases/{first}")

    # With nothing left to do, the inbox.
    last = officer.post(f"/staff/tasks/{check2}", data={"reception_decision": "accept"})
    assert last.headers["Location"].endswith("/staff/")


def test_other_commune_and_other_roles_get_404(motcua, as_user):
    m = motcua
    code = receive(m)
    check = task_of(m, code, "UT_Check").id
    phumy = as_user("motcua_phumy")
    for url in (
        f"/staff/cases/{code}",
        f"/staff/tasks/{check}",
        f"/staff/cases/{code}/receipt",
        f"/staff/cases/{code}/control-slip",
        "/staff/cases/KHONG-CO-MA-NAY",
        "/staff/tasks/999999",
    ):
        assert phumy.get(url).status_code == 404, url
    assert phumy.post(f"/staff/tasks/{check}", data=ACCEPT).status_code == 404
    assert phumy.post(f"/staff/cases/{code}/reveal-id").status_code == 404
    # Same commune, wrong role: may read the case but not open the officer's task.
    specialist = as_user("chuyenvien_anbinh")
    assert specialist.get(f"/staff/tasks/{check}").status_code == 404
    assert specialist.get(f"/staff/cases/{code}").status_code == 200
    assert task_of(m, code, "UT_Check").id == check


# -- case page ------------------------------------------------------------------------------


def test_case_page_status_time_left_pauses_and_timeline(motcua, clock, as_user):
    m = motcua
    code = receive(m)
    work(m, code, "UT_Check", ACCEPT, "motcua_anbinh")  # appointment Thu 5 Mar 09:00
    officer = as_user("motcua_anbinh")
    page = text(officer.get(f"/staff/cases/{code}"))
    assert "Đang xử lý" in page  # Vietnamese status label from statuses.json
    assert "24 giờ làm việc" in page  # three working days of 8 hours
    assert "Thẩm định hồ sơ" in page  # the open task
    # The check's data, labelled from its form: title and the Vietnamese label of the choice.
    assert "<th>Kết quả kiểm tra hồ sơ</th><td>—</td><td>Tiếp nhận</td>" in page

    clock.set(at(2026, 3, 2, 10, 0))
    work(
        m,
        code,
        "UT_Appraise",
        {
            "appraisal_outcome": "supplement",
            "appraisal_opinion": "Thiếu",
            "supplement_items": ["Bản vẽ"],
            "appraisal_reasons": "Chưa có bản vẽ",
        },
        "chuyenvien_anbinh",
    )
    clock.set(at(2026, 3, 3, 10, 0))
    page = text(officer.get(f"/staff/cases/{code}"))
    assert "Yêu cầu bổ sung" in page and 'class="paused"' in page  # clock paused, time left frozen
    assert "23 giờ làm việc" in page  # 24 h minus the hour of appraisal before the pause
    assert "Mẫu 02" in page

    clock.set(at(2026, 3, 9, 9, 0))
    page = text(officer.get(f"/staff/cases/{code}"))
    assert "23 giờ làm việc" in page  # still frozen during the pause
    m.deliver_message(code, "supplement_received", {"items": ["Bản vẽ"]})
    page = text(officer.get(f"/staff/cases/{code}"))
    assert "Đang xử lý" in page and 'class="paused"' not in page
    assert "10:00 02/03/2026 → 09:00 09/03/2026" in page  # the pause interval
    clock.set(at(2026, 3, 20, 9, 0))
    page = text(officer.get(f"/staff/cases/{code}"))
    assert 'class="overdue-label"' in page and "Quá hạn" in page


def test_reveal_id_number_is_logged_and_refused_to_an_auditor(motcua, as_user):
    m = motcua
    officer = as_user("motcua_anbinh")
    code = _reception(officer, accept_now=True)
    page = text(officer.get(f"/staff/cases/{code}"))
    assert ID_NUMBER not in page and "••••••••1234" in page and "/reveal-id" in page
    revealed = officer.post(f"/staff/cases/{code}/reveal-id")
    assert revealed.status_code == 200 and ID_NUMBER in text(revealed)
    viewed = events(m, code, "personal_data_viewed")
    assert [(e.actor, e.data) for e in viewed] == [("motcua_anbinh", {"field": "id_number"})]
    assert ID_NUMBER not in text(officer.get(f"/staff/cases/{code}"))  # shown once only

    auditor = as_user("kiemtra")
    page = text(auditor.get(f"/staff/cases/{code}"))
    assert "/reveal-id" not in page and "••••••••1234" in page
    refused = auditor.post(f"/staff/cases/{code}/reveal-id")
    assert refused.status_code == 403 and ID_NUMBER not in text(refused)
    assert len(events(m, code, "personal_data_viewed")) == 1


# -- reception ------------------------------------------------------------------------------

RECEPTION = {
    "procedure": HOUSEHOLD_BUSINESS,
    "name": "Đỗ Thị Hà",
    "id_number": ID_NUMBER,
    "address": "Thôn 2, xã An Bình",
    "phone": "0987 654 321",
    "email": "ha@example.vn",
    "authorised_person": "Đỗ Văn Tâm",
    "component_0": "1",
    "copies_0": "1",
    "digitised_0": "1",
    "component_1": "1",
    "copies_1": "2",
    "reused_1": "1",
    "channel": "direct",
}


def _reception(client, accept_now: bool = False, **changes: str) -> str:
    data = {**RECEPTION, **changes}
    if accept_now:
        data["accept_now"] = "1"
    response = client.post("/staff/reception", data=data)
    assert response.status_code == 302, text(response)
    return re.search(r"/staff/cases/([^/]+)/receipt$", response.headers["Location"]).group(1)


def test_reception_end_to_end_receipt_and_no_plain_id_number(motcua, as_user):
    m = motcua
    officer = as_user("motcua_anbinh")
    form = text(officer.get(f"/staff/reception?procedure={HOUSEHOLD_BUSINESS}"))
    assert "Giấy đề nghị đăng ký hộ kinh doanh" in form and 'name="digitised_0"' in form

    code = _reception(officer)
    receipt = text(officer.get(f"/staff/cases/{code}/receipt"))
    assert code in receipt and "<svg" in receipt and "lookup" in receipt
    assert "••••••••1234" in receipt and ID_NUMBER not in receipt
    assert "Đỗ Thị Hà" in receipt and "Thôn 2, xã An Bình" in receipt and "ha@example.vn" in receipt
    assert "Đỗ Văn Tâm" in receipt and "Đăng ký thành lập hộ kinh doanh" in receipt
    assert "Trung tâm Phục vụ hành chính công xã An Bình" in receipt and "3 ngày làm việc" in receipt
    assert "09 giờ 00 phút, ngày 02 tháng 03 năm 2026" in receipt  # time received
    assert "sẽ được hẹn khi hồ sơ được tiếp nhận đầy đủ" in receipt  # no appointment before the check
    pin = re.search(r'class="pin">[^<]*<b>(\d{6})</b>', receipt).group(1)
    assert check_case_pin(m, code, pin)
    assert 'class="pin"' not in text(officer.get(f"/staff/cases/{code}/receipt"))  # once only

    with transaction(m.sessions) as session:
        case = session.scalars(select(Case).where(Case.code == code)).one()
        assert case.channel == "direct" and case.applicant_name == "Đỗ Thị Hà"
        assert case.facts["components"] == [
            {"name": "Giấy đề nghị đăng ký hộ kinh doanh", "copies": 1, "digitised": True, "reused": False},
            {
                "name": "Bản sao biên bản họp thành viên hộ gia đình (nếu có)",
                "copies": 2,
                "digitised": False,
                "reused": True,
            },
        ]
        access = session.get(CaseAccess, case.id)
        assert access.id_number_last4 == "1234" and ID_NUMBER not in (access.id_number_encrypted or "")
        stored = [access.pin_hash, access.id_number_encrypted, zlib.decompress(case.state).decode("utf-8")]
        stored += [json.dumps(case.facts, ensure_ascii=False)]
        stored += [json.dumps(e.data, ensure_ascii=False) for e in session.scalars(select(CaseEvent))]
        stored += [json.dumps(o.payload, ensure_ascii=False) for o in session.scalars(select(OutboxMessage))]
        assert not any(ID_NUMBER in s or pin in s for s in stored)

    # The check from the inbox accepts the dossier; the receipt then carries the appointment.
    check = task_of(m, code, "UT_Check").id
    officer.post(f"/staff/tasks/{check}", data={"reception_decision": "accept"})
    receipt = text(officer.get(f"/staff/cases/{code}/receipt"))
    assert "09 giờ 00 phút, ngày 05 tháng 03 năm 2026" in receipt  # three working days later

    # Accepting at once gives the appointment on the first receipt.
    other = _reception(officer, accept_now=True, name="Lê Thị Mai")
    receipt = text(officer.get(f"/staff/cases/{other}/receipt"))
    assert "ngày 05 tháng 03 năm 2026" in receipt and 'class="pin"' in receipt
    assert query_inbox(m, m.actor_for("chuyenvien_anbinh")).total == 2


def test_reception_validation_names_the_field_and_keeps_the_values(motcua, as_user):
    m = motcua
    officer = as_user("motcua_anbinh")
    data = {**RECEPTION, "id_number": "12345", "name": "", "email": "khong-hop-le"}
    del data["component_0"], data["component_1"]
    response = officer.post("/staff/reception", data=data)
    assert response.status_code == 422
    page = text(response)
    assert "đúng 12 chữ số" in page and "Nhập họ và tên" in page and "Đánh dấu ít nhất một thành phần" in page
    assert "Địa chỉ thư điện tử" in page
    assert 'value="12345"' in page and 'value="Thôn 2, xã An Bình"' in page and 'value="khong-hop-le"' in page
    with transaction(m.sessions) as session:
        assert session.scalars(select(Case)).first() is None

    assert as_user("chuyenvien_anbinh").get("/staff/reception").status_code == 403
    assert as_user("kiemtra").post("/staff/reception", data=RECEPTION).status_code == 403


# -- printable forms ------------------------------------------------------------------------


def test_forms_02_03_and_06(motcua, clock, as_user):
    m = motcua
    officer = as_user("motcua_anbinh")

    supplement = receive(m, "Người bổ sung")
    work(
        m,
        supplement,
        "UT_Check",
        {
            "reception_decision": "supplement",
            "missing_items": ["Giấy đề nghị có chữ ký", "Bản sao biên bản họp"],
            "reception_reasons": "Giấy đề nghị chưa ký.",
        },
        "motcua_anbinh",
    )
    page = text(officer.get(f"/staff/cases/{supplement}/supplement-request"))
    assert (
        "Giấy đề nghị có chữ ký" in page
        and "Bản sao biên bản họp" in page
        and "Giấy đề nghị chưa ký." in page
    )
    assert "YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in page and "Người bổ sung" in page
    assert officer.get(f"/staff/cases/{supplement}/refusal").status_code == 404

    refused = receive(m, "Người bị từ chối")
    work(
        m,
        refused,
        "UT_Check",
        {"reception_decision": "refuse", "reception_reasons": "Không thuộc thẩm quyền."},
        "motcua_anbinh",
    )
    page = text(officer.get(f"/staff/cases/{refused}/refusal"))
    assert "TỪ CHỐI TIẾP NHẬN HỒ SƠ" in page and "Không thuộc thẩm quyền." in page
    assert officer.get(f"/staff/cases/{refused}/supplement-request").status_code == 404

    # Form 06: one late hand-over, one early, one on time.
    code = receive(m, "Người theo dõi")  # check due Mon 15:00
    clock.set(at(2026, 3, 2, 16, 0))
    work(m, code, "UT_Check", ACCEPT, "motcua_anbinh")  # late
    clock.set(at(2026, 3, 3, 9, 0))
    work(m, code, "UT_Appraise", PASS, "chuyenvien_anbinh")  # due a week later: early
    clock.set(at(2026, 3, 4, 8, 0))
    work(m, code, "UT_Approve", APPROVE, "lanhdao_anbinh")  # due Wed 09:00: on time
    page = text(officer.get(f"/staff/cases/{code}/control-slip"))
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in page
    lines = re.findall(r'<tr class="result-([a-z_]+)">', page)
    assert lines == ["late", "early", "on_time", "open"]
    assert "Quá hạn" in page and "Trước hạn" in page and "Đúng hạn" in page and "Đang thực hiện" in page
    assert "Ủy ban nhân dân xã An Bình" in page and "@media print" not in page  # styles live in staff.css
    assert "Trả kết quả" in page  # the open hand-over back to the desk


def test_printable_pages_hide_navigation_when_printed(app, client):
    css = client.get("/static/staff.css").get_data(as_text=True)
    assert "@media print" in css and ".staff-nav" in css and ".print-actions" in css


@pytest.mark.parametrize("lang, label", [("vi", "Việc của tôi"), ("en", "My tasks")])
def test_inbox_in_both_languages(motcua, as_user, lang, label):
    receive(motcua)
    page = text(as_user("motcua_anbinh").get(f"/staff/?lang={lang}"))
    assert label in page and ("Tiếp nhận" if lang == "vi" else "Claim") in page
