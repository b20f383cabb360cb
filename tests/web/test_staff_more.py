"""More of the staff workspace through the Flask test client on a real database: Form 04 after a
late dossier's extension, Form 05 after a withdrawal recorded at the desk and after a refusal,
who may record a withdrawal and when, the Form 07 register (page and CSV), and component files
attached at reception (sniffed type, size limit, refusals named at their field)."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from engine.access import set_password
from engine.calendar import VN_TZ
from engine.catalogue import agency_by_code
from engine.db import transaction
from engine.models import Case, CaseEvent, HumanTask, Staff, Upload
from engine.uploads import upload_path

from .conftest import PASSWORD

HOUSEHOLD_BUSINESS = "2.000720"  # 3 working days; components: request form, family meeting minutes
ID_NUMBER = "079203001234"
ACCEPT = {"reception_decision": "accept"}
PASS = {"appraisal_outcome": "pass", "appraisal_opinion": "Đủ điều kiện"}
REFUSE = {
    "appraisal_outcome": "refuse",
    "appraisal_opinion": "Không đủ điều kiện",
    "appraisal_reasons": "Địa điểm kinh doanh không phù hợp quy hoạch.",
}
APPROVE = {"approval_decision": "approve", "result_reference": "123/GCN"}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)


def text(response) -> str:
    return response.get_data(as_text=True)


def receive(m, name: str = "Trần Thị Hạnh", commune: str = "anbinh") -> str:
    agency = {"anbinh": "XA_AN_BINH", "phumy": "XA_PHU_MY"}[commune]
    return m.receive_dossier(
        HOUSEHOLD_BUSINESS,
        agency,
        actor=m.actor_for(f"motcua_{commune}"),
        applicant={"name": name, "address": "Thôn 2"},
        id_number=ID_NUMBER,
        issue_pin=True,
    ).case_code


def task_of(m, code: str, element_id: str) -> HumanTask:
    return next(t for t in m.open_tasks(code) if t.element_id == element_id)


def work(m, code: str, element_id: str, data: dict, username: str) -> None:
    m.complete_task(task_of(m, code, element_id).id, data, m.actor_for(username))


def case_row(m, code: str) -> Case:
    with transaction(m.sessions) as session:
        return session.scalars(select(Case).where(Case.code == code)).one()


def events(m, code: str, type_: str) -> list[CaseEvent]:
    with transaction(m.sessions) as session:
        case_id = session.scalars(select(Case.id).where(Case.code == code)).one()
        query = select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.type == type_)
        return list(session.scalars(query.order_by(CaseEvent.seq)))


# -- Form 04 --------------------------------------------------------------------------------


def test_form_04_after_the_late_timer_and_the_apology(motcua, clock, as_user):
    m = motcua
    code = receive(m)
    work(m, code, "UT_Check", ACCEPT, "motcua_anbinh")  # appointment Thu 5 March 09:00
    officer = as_user("motcua_anbinh")
    assert officer.get(f"/staff/cases/{code}/apology").status_code == 404  # no extension yet
    assert "/apology" not in text(officer.get(f"/staff/cases/{code}"))

    # One working day before the appointment the timer opens the leader's apology task.
    clock.set(case_row(m, code).wake_at + timedelta(minutes=30))
    assert m.fire_due_timers() == 1
    apology = task_of(m, code, "UT_Apology").id
    leader = as_user("lanhdao_anbinh")
    done = leader.post(
        f"/staff/tasks/{apology}",
        data={
            "extension_reason": "Cần xác minh thực địa địa điểm kinh doanh.",
            "new_appointment_at": "2026-03-10T16:00",
        },
    )
    assert done.status_code == 302, text(done)
    case = case_row(m, code)
    assert (case.appointment_at, case.original_appointment_at) == (
        at(2026, 3, 10, 16, 0),
        at(2026, 3, 5, 9, 0),
    )

    assert "/apology" in text(officer.get(f"/staff/cases/{code}"))
    page = text(officer.get(f"/staff/cases/{code}/apology"))
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in page and "Mẫu số 04" in page
    assert code in page and "Trần Thị Hạnh" in page and "Đăng ký thành lập hộ kinh doanh" in page
    assert "ỦY BAN NHÂN DÂN XÃ AN BÌNH" in page  # the agency that apologises
    assert "Cần xác minh thực địa địa điểm kinh doanh." in page
    original = re.search(r'class="original-appointment">([^<]*)<', page).group(1)
    new = re.search(r'class="new-appointment">([^<]*)<', page).group(1)
    assert original == "09 giờ 00 phút, ngày 05 tháng 03 năm 2026"
    assert new == "16 giờ 00 phút, ngày 10 tháng 03 năm 2026"
    assert "THỦ TRƯỞNG CƠ QUAN" in page and "lanhdao_anbinh" in page
    assert "ngày 04 tháng 03 năm 2026" in page  # dated when the extension was granted
    assert "••••••••1234" in page and ID_NUMBER not in page

    english = text(officer.get(f"/staff/cases/{code}/apology?lang=en"))
    assert "APOLOGY AND NEW APPOINTMENT FOR THE RESULT" in english and "HEAD OF THE AGENCY" in english
    # Readers only: another commune does not learn the dossier exists.
    assert as_user("motcua_phumy").get(f"/staff/cases/{code}/apology").status_code == 404


# -- withdrawal at the desk and Form 05 -------------------------------------------------------


def test_withdrawal_recorded_at_the_desk_then_form_05(motcua, as_user):
    m = motcua
    code = receive(m, "Đỗ Thị Hà")
    work(m, code, "UT_Check", ACCEPT, "motcua_anbinh")
    officer = as_user("motcua_anbinh")
    page = text(officer.get(f"/staff/cases/{code}"))
    assert f"/staff/cases/{code}/withdrawal" in page and 'name="reason"' in page
    assert "/stop-notice" not in page
    assert officer.get(f"/staff/cases/{code}/stop-notice").status_code == 404
    # Only the receiving desk gets the form; the others read the case without it.
    for username in ("chuyenvien_anbinh", "lanhdao_anbinh", "kiemtra"):
        assert "/withdrawal" not in text(as_user(username).get(f"/staff/cases/{code}")), username

    # The reason is required; nothing is recorded without it, and what was typed stays.
    version = case_row(m, code).version
    empty = officer.post(f"/staff/cases/{code}/withdrawal", data={"reason": "   "})
    assert empty.status_code == 422 and "Nhập lý do người nộp đề nghị rút hồ sơ" in text(empty)
    too_long = officer.post(f"/staff/cases/{code}/withdrawal", data={"reason": "x" * 2001})
    assert too_long.status_code == 422 and "x" * 2001 in text(too_long)
    assert case_row(m, code).version == version

    done = officer.post(
        f"/staff/cases/{code}/withdrawal", data={"reason": "  Không còn nhu cầu kinh doanh.  "}
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/staff/cases/{code}")
    case = case_row(m, code)
    assert (case.status, case.completed) == ("withdrawn", True)
    [message] = events(m, code, "message_received")
    assert message.actor == "motcua_anbinh"
    assert message.data == {
        "name": "withdrawal_requested",
        "payload": {"reason": "Không còn nhu cầu kinh doanh.", "recorded_by": "motcua_anbinh"},
    }

    page = text(officer.get(f"/staff/cases/{code}"))
    assert f"/staff/cases/{code}/stop-notice" in page and 'name="reason"' not in page
    assert "Đã ghi nhận rút hồ sơ" in page  # the flash message
    notice = text(officer.get(f"/staff/cases/{code}/stop-notice"))
    assert "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ" in notice and "Mẫu số 05" in notice
    assert code in notice and "Đỗ Thị Hà" in notice and "Không còn nhu cầu kinh doanh." in notice
    assert "Theo đề nghị của người nộp hồ sơ" in notice and "tại Bộ phận Một cửa" in notice
    assert "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG XÃ AN BÌNH" in notice and "motcua_anbinh" in notice
    assert 'class="stopped-at">09 giờ 00 phút, ngày 02 tháng 03 năm 2026<' in notice
    assert as_user("kiemtra").get(f"/staff/cases/{code}/stop-notice").status_code == 200
    assert as_user("motcua_phumy").get(f"/staff/cases/{code}/stop-notice").status_code == 404


def test_form_05_after_a_refusal_after_appraisal(motcua, clock, as_user):
    m = motcua
    code = receive(m)
    work(m, code, "UT_Check", ACCEPT, "motcua_anbinh")
    clock.set(at(2026, 3, 3, 10, 0))
    work(m, code, "UT_Appraise", REFUSE, "chuyenvien_anbinh")
    officer = as_user("motcua_anbinh")
    assert officer.get(f"/staff/cases/{code}/stop-notice").status_code == 404  # not approved yet
    clock.set(at(2026, 3, 3, 14, 0))
    work(m, code, "UT_Approve", APPROVE, "lanhdao_anbinh")
    assert case_row(m, code).status == "stopped"

    assert f"/staff/cases/{code}/stop-notice" in text(officer.get(f"/staff/cases/{code}"))
    notice = text(officer.get(f"/staff/cases/{code}/stop-notice"))
    assert "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ" in notice
    assert "Sau khi thẩm định" in notice and "Địa điểm kinh doanh không phù hợp quy hoạch." in notice
    assert "THỦ TRƯỞNG CƠ QUAN" in notice and "Theo đề nghị của người nộp" not in notice
    assert 'class="stopped-at">14 giờ 00 phút, ngày 03 tháng 03 năm 2026<' in notice


@pytest.fixture
def province_officer(app, motcua) -> str:
    """An officer of the provincial desk (not in the seed): reads the communes' cases (its
    subtree) but did not receive them."""
    with transaction(motcua.sessions) as session:
        agency = agency_by_code(session, "TINH_AP")
        session.add(
            Staff(username="motcua_tinh", full_name="Hà Thị Tỉnh", agency_id=agency.id, roles=["officer"])
        )
    set_password(motcua, "motcua_tinh", PASSWORD)
    return "motcua_tinh"


def test_withdrawal_refused_to_other_roles_and_agencies_and_once_a_result_exists(
    motcua, as_user, province_officer
):
    m = motcua
    code = receive(m)
    work(m, code, "UT_Check", ACCEPT, "motcua_anbinh")
    version = case_row(m, code).version
    reason = {"reason": "Nộp nhầm thủ tục"}
    for username in ("chuyenvien_anbinh", "lanhdao_anbinh", "kiemtra", province_officer):
        refused = as_user(username).post(f"/staff/cases/{code}/withdrawal", data=reason)
        assert refused.status_code == 403, username
    # Phú Mỹ cannot read An Bình's dossier: not found, as for any other action on it.
    assert as_user("motcua_phumy").post(f"/staff/cases/{code}/withdrawal", data=reason).status_code == 404
    assert as_user(province_officer).get(f"/staff/cases/{code}").status_code == 200  # reads it, no form
    assert "/withdrawal" not in text(as_user(province_officer).get(f"/staff/cases/{code}"))
    assert case_row(m, code).version == version and events(m, code, "message_received") == []

    # Once approved a result exists: nothing waits for a withdrawal any more.
    work(m, code, "UT_Appraise", PASS, "chuyenvien_anbinh")
    work(m, code, "UT_Approve", APPROVE, "lanhdao_anbinh")
    officer = as_user("motcua_anbinh")
    assert "/withdrawal" not in text(officer.get(f"/staff/cases/{code}"))
    version = case_row(m, code).version
    late = officer.post(f"/staff/cases/{code}/withdrawal", data=reason)
    assert late.status_code == 409
    page = text(late)
    assert "Không thể ghi nhận việc rút hồ sơ" in page and "nothing in this case waits for message" in page
    case = case_row(m, code)
    assert (case.status, case.version) == ("processed", version)


# -- Form 07 register -------------------------------------------------------------------------


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_form_07_register_lists_the_days_dossiers_of_the_desk(motcua, clock, as_user):
    m = motcua
    first = receive(m, "Nguyễn Văn Một")
    work(m, first, "UT_Check", ACCEPT, "motcua_anbinh")
    clock.set(at(2026, 3, 2, 14, 30))
    second = receive(m, '=HYPERLINK("http://x")')  # typed by people: must stay text in a spreadsheet
    other_commune = receive(m, "Lê Văn Phú", commune="phumy")
    clock.set(at(2026, 3, 3, 8, 0))
    next_day = receive(m, "Người hôm sau")

    officer = as_user("motcua_anbinh")
    page = text(officer.get("/staff/register?day=2026-03-02"))
    assert "SỔ THEO DÕI HỒ SƠ" in page and "Mẫu số 07" in page and "02/03/2026" in page
    assert re.findall(r'<tr data-code="([^"]+)">', page) == [first, second]
    assert "Nguyễn Văn Một" in page and "Đăng ký thành lập hộ kinh doanh" in page
    assert "09:00 05/03/2026" in page  # the first one's appointment
    assert "Đang xử lý" in page and "Mới tiếp nhận" in page  # statuses in Vietnamese
    assert "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG XÃ AN BÌNH" in page
    assert other_commune not in page and next_day not in page

    rows = read_csv(officer.get("/staff/register?day=2026-03-02&format=csv"))
    assert [r["code"] for r in rows] == [first, second]
    assert rows[0]["number"] == first.rsplit("-", 1)[-1]
    assert rows[0]["received_at"] == "2026-03-02 09:00" and rows[0]["appointment_at"] == "2026-03-05 09:00"
    assert rows[0]["applicant"] == "Nguyễn Văn Một" and rows[0]["procedure_code"] == HOUSEHOLD_BUSINESS
    assert (rows[0]["status"], rows[0]["status_label"]) == ("processing", "Đang xử lý")
    assert rows[1]["applicant"] == '\'=HYPERLINK("http://x")' and rows[1]["appointment_at"] == ""

    # Today by default (the clock's day), each desk its own register; leaders too.
    assert re.findall(r'<tr data-code="([^"]+)">', text(officer.get("/staff/register"))) == [next_day]
    phumy = read_csv(as_user("motcua_phumy").get("/staff/register?day=2026-03-02&format=csv"))
    assert [r["code"] for r in phumy] == [other_commune]
    assert as_user("lanhdao_anbinh").get("/staff/register?day=2026-03-02").status_code == 200
    assert as_user("chuyenvien_anbinh").get("/staff/register?day=2026-03-02").status_code == 403
    assert as_user("kiemtra").get("/staff/register?day=2026-03-02&format=csv").status_code == 403
    bad = officer.get("/staff/register?day=02/03/2026")
    assert bad.status_code == 422 and "NNNN-TT-NN" in text(bad) and 'value="02/03/2026"' in text(bad)
    assert "Sổ theo dõi hồ sơ" in text(officer.get("/staff/"))  # linked from the navigation


# -- files at reception -----------------------------------------------------------------------

RECEPTION = {
    "procedure": HOUSEHOLD_BUSINESS,
    "name": "Đỗ Thị Hà",
    "id_number": ID_NUMBER,
    "address": "Thôn 2, xã An Bình",
    "phone": "0987 654 321",
    "email": "ha@example.vn",
    "component_0": "1",
    "copies_0": "1",
    "component_1": "1",
    "copies_1": "2",
    "channel": "direct",
    "accept_now": "1",
}


def post_reception(client, **files: tuple[bytes, str]):
    data = {**RECEPTION, **{field: (io.BytesIO(content), name) for field, (content, name) in files.items()}}
    return client.post("/staff/reception", data=data, content_type="multipart/form-data")


def uploads(m) -> list[Upload]:
    with transaction(m.sessions) as session:
        return list(session.scalars(select(Upload).order_by(Upload.id)))


def test_reception_with_a_scanned_pdf_marks_the_component_digitised(motcua, as_user):
    m = motcua
    officer = as_user("motcua_anbinh")
    form = text(officer.get(f"/staff/reception?procedure={HOUSEHOLD_BUSINESS}"))
    assert 'enctype="multipart/form-data"' in form and 'type="file" name="file_0"' in form

    # No "digitised" box ticked: the attached file is what makes the component digitised. A PNG
    # named .pdf is taken for what its bytes say it is.
    response = post_reception(officer, file_0=(PDF, "giấy đề nghị.pdf"), file_1=(PNG, "bien-ban.pdf"))
    assert response.status_code == 302, text(response)
    code = re.search(r"/staff/cases/([^/]+)/receipt$", response.headers["Location"]).group(1)
    case = case_row(m, code)
    assert [(c["name"], c["digitised"]) for c in case.facts["components"]] == [
        ("Giấy đề nghị đăng ký hộ kinh doanh", True),
        ("Bản sao biên bản họp thành viên hộ gia đình (nếu có)", True),
    ]
    pdf, png = uploads(m)
    assert (pdf.case_id, pdf.label, pdf.content_type, pdf.size) == (
        case.id,
        "giấy đề nghị.pdf",
        "application/pdf",
        len(PDF),
    )
    assert (png.case_id, png.label, png.content_type) == (case.id, "bien-ban.pdf", "image/png")
    assert upload_path(m, pdf).read_bytes() == PDF

    page = text(officer.get(f"/staff/cases/{code}"))
    row = re.search(rf'<tr data-upload="{pdf.id}">.*?</tr>', page, re.S).group(0)
    assert "giấy đề nghị.pdf" in row and "Giấy đề nghị đăng ký hộ kinh doanh" in row
    assert '<td class="file-type">PDF</td>' in row and f"{len(PDF)} B" in row
    row = re.search(rf'<tr data-upload="{png.id}">.*?</tr>', page, re.S).group(0)
    assert '<td class="file-type">PNG</td>' in row and "bien-ban.pdf" in row
    receipt = text(officer.get(f"/staff/cases/{code}/receipt"))
    assert receipt.count("✓") == 2  # both components digitised on Form 01

    # The download is an attachment that a browser may not sniff, for readers of the case only.
    download = officer.get(f"/staff/cases/{code}/files/{pdf.id}")
    assert download.status_code == 200 and download.get_data() == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert as_user("kiemtra").get(f"/staff/cases/{code}/files/{pdf.id}").status_code == 200
    assert as_user("motcua_phumy").get(f"/staff/cases/{code}/files/{pdf.id}").status_code == 404
    other = receive(m, "Người khác")
    assert officer.get(f"/staff/cases/{other}/files/{pdf.id}").status_code == 404  # not this case's file


def test_a_refused_file_is_named_and_every_typed_value_kept(motcua, as_user, monkeypatch):
    m = motcua
    officer = as_user("motcua_anbinh")
    response = post_reception(officer, file_0=(PDF, "don.pdf"), file_1=(b"ghi chu\n", "ghi-chu.txt"))
    assert response.status_code == 422
    page = text(response)
    assert "Tệp ghi-chu.txt không phải là tệp PDF, JPEG hoặc PNG." in page
    assert 'id="err-file_1"' in page and "Chọn lại tệp." in page  # the good file must be chosen again
    for value in ("Đỗ Thị Hà", ID_NUMBER, "Thôn 2, xã An Bình", "0987 654 321", "ha@example.vn"):
        assert f'value="{value}"' in page, value
    assert 'name="copies_1" value="2"' in page
    # Nothing kept: no case, and the accepted file was removed again.
    with transaction(m.sessions) as session:
        assert session.scalars(select(Case)).first() is None
    assert uploads(m) == []
    assert not [p for p in (m.settings.home / "uploads").rglob("*") if p.is_file()]

    # Over the per-file limit (MOTCUA_MAX_UPLOAD_MB): named with the limit.
    monkeypatch.setenv("MOTCUA_MAX_UPLOAD_MB", "0.0001")  # about 100 bytes
    big = post_reception(officer, file_0=(PDF + bytes(200), "ban-quet.pdf"))
    assert big.status_code == 422 and "Tệp ban-quet.pdf vượt quá dung lượng cho phép" in text(big)
    # A typed mistake and a bad file are reported together.
    both = officer.post(
        "/staff/reception",
        data={**RECEPTION, "name": "", "file_0": (io.BytesIO(b""), "trong.pdf")},
        content_type="multipart/form-data",
    )
    assert both.status_code == 422
    assert "Nhập họ và tên" in text(both) and "Tệp trong.pdf không có nội dung." in text(both)
    assert uploads(m) == []
