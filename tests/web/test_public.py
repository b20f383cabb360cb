"""The public portal through the Flask test client, on a real database with real files under a
temporary MOTCUA_HOME: catalogue, online filing, lookup by code and PIN, supplement, withdrawal,
rating, feedback and published answers."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from engine import portal
from engine.calendar import VN_TZ
from engine.catalogue import ProcedureSpec, publish_procedure
from engine.db import transaction
from engine.errors import InvalidAction
from engine.models import Case, CaseAccess, CaseEvent, FeedbackPublication, SatisfactionRating, Upload
from engine.uploads import upload_path
from tests.test_processes import ACCEPT, APPROVE, PASS, RETURN, Desk

HOUSEHOLD_BUSINESS = "2.000720"  # filed at communes, full online service
ID_NUMBER = "001203004567"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64
APPLICANT = {
    "name": "Trần Thị Hạnh",
    "id_number": ID_NUMBER,
    "address": "Thôn 2, xã An Bình",
    "phone": "0987654321",
    "email": "hanh@example.vn",
    "agency": "XA_AN_BINH",
}
SENDER = {"name": "Phạm Văn Đức", "address": "Thôn 3, xã Phú Mỹ", "phone": "0911222333"}


@pytest.fixture
def desk(motcua):
    return Desk(motcua)


def text(response) -> str:
    return response.get_data(as_text=True)


def file_dossier(client, files=None, **overrides):
    data = {**APPLICANT, **overrides}
    for field, (content, name) in (
        files if files is not None else {"file_0": (PDF, "don-de-nghi.pdf")}
    ).items():
        data[field] = (io.BytesIO(content), name)
    return client.post(
        f"/procedures/{HOUSEHOLD_BUSINESS}/file", data=data, content_type="multipart/form-data"
    )


def filed(client) -> tuple[str, str]:
    """File a dossier through the portal; the receipt's code and PIN."""
    response = file_dossier(client)
    assert response.status_code == 200, text(response)
    page = text(response)
    code = re.search(r'class="code">([^<]+)<', page).group(1)
    pin = re.search(r'class="pin">(\d{6})<', page).group(1)
    return code, pin


def look_up(client, code: str, pin: str):
    return client.post("/lookup", data={"code": code, "pin": pin})


def count_cases(motcua) -> int:
    with transaction(motcua.sessions) as session:
        return session.scalar(select(func.count()).select_from(Case))


def stored_files(motcua) -> list:
    root = motcua.settings.home / "uploads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# -- catalogue ---------------------------------------------------------------------------------


def test_catalogue_search_by_name_field_and_agency(client):
    # Without diacritics, as citizens often type.
    page = text(client.get("/?q=dang ky ho kinh doanh"))
    assert "Đăng ký thành lập hộ kinh doanh" in page
    assert "Thủ tục đăng ký khai sinh" not in page
    page = text(client.get("/?field=Hộ tịch"))
    assert "Thủ tục đăng ký khai sinh" in page and "Đăng ký thành lập hộ kinh doanh" not in page
    # The province files the procedures resolved at province level only.
    page = text(client.get("/?agency=TINH_AP"))
    assert "Cấp Phiếu lý lịch tư pháp" in page and "Đăng ký thành lập hộ kinh doanh" not in page
    assert "Không có thủ tục nào phù hợp" in text(client.get("/?q=khong-ton-tai"))


def test_procedure_page(client):
    page = text(client.get(f"/procedures/{HOUSEHOLD_BUSINESS}"))
    assert "Giấy đề nghị đăng ký hộ kinh doanh" in page  # a component
    assert "100.000" in page and "Lệ phí đăng ký hộ kinh doanh" in page  # the fee
    assert "3 ngày làm việc" in page  # the time limit
    assert "Trung tâm Phục vụ hành chính công xã An Bình" in page  # where to file
    assert "toàn trình" in page and f"/procedures/{HOUSEHOLD_BUSINESS}/file" in page
    assert client.get("/procedures/9.999999").status_code == 404


# -- online filing -----------------------------------------------------------------------------


def test_online_filing_with_a_pdf(client, motcua):
    code, pin = filed(client)
    with transaction(motcua.sessions) as session:
        case = session.scalars(select(Case).where(Case.code == code)).one()
        uploads = session.scalars(select(Upload).where(Upload.case_id == case.id)).all()
        access = session.get(CaseAccess, case.id)
        actors = set(session.scalars(select(CaseEvent.actor).where(CaseEvent.case_id == case.id)))
    assert (case.channel, case.kind, case.receiving_agency_id) == (
        "online",
        "dossier",
        case.resolving_agency_id,
    )
    assert case.facts["components"][0]["name"] == "Giấy đề nghị đăng ký hộ kinh doanh"
    assert [(u.label, u.purpose, u.content_type, u.size) for u in uploads] == [
        ("don-de-nghi.pdf", "component", "application/pdf", len(PDF))
    ]
    stored = upload_path(motcua, uploads[0])
    assert stored.read_bytes() == PDF and uploads[0].sha256 == hashlib.sha256(PDF).hexdigest()
    assert stored.name == uploads[0].stored_name and "don-de-nghi" not in str(stored)  # generated name
    assert (stored.stat().st_mode & 0o777) == 0o600
    # The ID number is kept encrypted, out of the workflow data; the applicant is the actor.
    assert access.id_number_last4 == "4567" and ID_NUMBER not in access.id_number_encrypted
    assert ID_NUMBER not in str(motcua.case_data(code))
    assert motcua.case_data(code)["applicant"]["email"] == "hanh@example.vn"
    assert actors == {"applicant"}
    assert [t.element_id for t in motcua.open_tasks(code)] == ["UT_Check"]
    assert look_up(client, code, pin).status_code == 200


def test_an_executable_renamed_pdf_is_refused_naming_the_file(client, motcua):
    response = file_dossier(client, {"file_0": (PDF, "don.pdf"), "file_1": (EXE, "bien-ban.pdf")})
    assert response.status_code == 422
    page = text(response)
    assert "bien-ban.pdf" in page and "không phải tệp PDF, JPEG hoặc PNG" in page
    assert count_cases(motcua) == 0
    assert stored_files(motcua) == []  # the good file accepted first is removed as well
    assert APPLICANT["address"] in page  # nothing typed is lost


def test_an_oversized_file_is_refused_naming_the_file(client, motcua, monkeypatch):
    monkeypatch.setenv("MOTCUA_MAX_UPLOAD_MB", "1")
    big = PDF + b"0" * (1024 * 1024)
    response = file_dossier(client, {"file_0": (big, "ban-ve-lon.pdf")})
    assert response.status_code == 422
    page = text(response)
    assert "ban-ve-lon.pdf" in page and "1 MB" in page
    assert count_cases(motcua) == 0 and stored_files(motcua) == []
    # Just under the limit goes through.
    assert file_dossier(client, {"file_0": (PDF + b"0" * (1000 * 1024), "vua-du.pdf")}).status_code == 200


def test_a_filing_that_fails_after_the_files_were_accepted_leaves_no_file(client, motcua, monkeypatch):
    def broken(*args, **kwargs):
        raise InvalidAction("the desk is closed")

    monkeypatch.setattr(motcua, "receive_dossier", broken)
    assert file_dossier(client).status_code == 409
    assert stored_files(motcua) == []
    with transaction(motcua.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Upload)) == 0


def test_a_request_over_the_servers_cap_gets_a_clear_page(client, app, motcua):
    app.config["MAX_CONTENT_LENGTH"] = 4096
    response = file_dossier(client, {"file_0": (PDF + b"0" * 8192, "lon.pdf")})
    assert response.status_code == 413 and "Tổng dung lượng các tệp" in text(response)
    assert count_cases(motcua) == 0


def test_missing_applicant_fields_are_named(client, motcua):
    response = file_dossier(client, name="", phone="", id_number="12345")
    assert response.status_code == 422
    page = text(response)
    for label in ("Họ và tên", "Số điện thoại", "Số định danh cá nhân"):
        assert re.search(rf"<strong>{label}</strong>: [^<]+", page), label
    assert "bắt buộc" in page and "12 chữ số" in page
    assert 'value="Thôn 2, xã An Bình"' in page and 'value="hanh@example.vn"' in page
    assert count_cases(motcua) == 0


def test_at_least_one_component_file_is_required(client, motcua):
    response = file_dossier(client, files={})
    assert response.status_code == 422 and "ít nhất một tệp" in text(response)
    assert count_cases(motcua) == 0


def test_a_procedure_not_offered_online_is_refused(client, motcua):
    with transaction(motcua.sessions) as session:
        publish_procedure(
            session,
            ProcedureSpec(
                code="9.000001",
                name="Thủ tục chỉ nộp trực tiếp",
                field="Thử nghiệm",
                resolving_level="commune",
                time_limit=5,
                time_unit="working_days",
                process_id="dossier_standard",
                valid_from=date(2025, 7, 1),
                online_level="none",
            ),
            motcua.clock.now(),
        )
    page = text(client.get("/procedures/9.000001"))
    assert "Thủ tục chỉ nộp trực tiếp" in page and "/procedures/9.000001/file" not in page
    assert client.get("/procedures/9.000001/file").status_code == 409
    response = client.post("/procedures/9.000001/file", data=APPLICANT)
    assert response.status_code == 409 and "không được cung cấp trực tuyến" in text(response)
    with pytest.raises(InvalidAction, match="not offered online"):
        portal.file_online(motcua, "9.000001", "XA_AN_BINH", APPLICANT, ID_NUMBER, [], [])
    assert count_cases(motcua) == 0


# -- lookup ------------------------------------------------------------------------------------


def test_lookup_with_the_right_pin_a_wrong_pin_and_an_unknown_code(client, app):
    code, pin = filed(client)
    fresh = app.test_client()
    form = fresh.get(f"/lookup?code={code}")
    assert form.status_code == 200 and f'value="{code}"' in text(form)  # prefilled, nothing shown
    assert "Mới tiếp nhận" not in text(form)
    wrong = look_up(fresh, code, "000000" if pin != "000000" else "111111")
    unknown = look_up(fresh, "000.01.01.H99-260302-9999", pin)
    for response in (wrong, unknown):
        page = text(response)
        assert response.status_code == 403
        assert "Mã hồ sơ hoặc mã tra cứu không đúng" in page
        assert "Đăng ký thành lập hộ kinh doanh" not in page and "Mới tiếp nhận" not in page
    # The same answer apart from the code the visitor typed in.
    assert text(wrong).replace(code, "X") == text(unknown).replace("000.01.01.H99-260302-9999", "X")
    right = look_up(fresh, code, pin)
    assert right.status_code == 200
    page = text(right)
    assert "Đăng ký thành lập hộ kinh doanh" in page and "Mới tiếp nhận" in page
    assert pin not in page  # the PIN is never echoed
    # Verified in this browser session: follow-up pages need no PIN (and it is never in a URL).
    assert "Mới tiếp nhận" in text(fresh.get(f"/lookup?code={code}"))
    assert "Mới tiếp nhận" not in text(app.test_client().get(f"/lookup?code={code}"))


def test_lookup_never_shows_id_numbers_staff_or_internal_notes(client, motcua, desk):
    code, pin = filed(client)
    note = "Ghi chú nội bộ: đã gọi điện xác minh"
    desk.work(code, "UT_Check", {**ACCEPT, "reception_note": note})
    desk.work(code, "UT_Appraise", {**PASS, "appraisal_opinion": "Ý kiến thẩm định nội bộ"})
    page = text(look_up(client, code, pin))
    assert "Đang xử lý" in page and "Đã tiếp nhận" in page  # statuses in the timeline
    assert "05/03/2026" in page  # the appointment (3 working days)
    for secret in (
        note,
        "Ý kiến thẩm định nội bộ",
        ID_NUMBER,
        "4567",
        "motcua_anbinh",
        "chuyenvien_anbinh",
        "Nguyễn Thị Lan",
        "Trần Văn Minh",
        APPLICANT["phone"],
        APPLICANT["email"],
    ):
        assert secret not in page, secret


def test_an_extension_shows_its_reason_and_the_new_appointment(client, motcua, desk, clock):
    code, pin = filed(client)
    desk.work(code, "UT_Check", ACCEPT)
    clock.set(datetime(2026, 3, 4, 9, 30, tzinfo=VN_TZ))  # one working day before the appointment
    motcua.fire_due_timers()
    desk.work(
        code,
        "UT_Apology",
        {"extension_reason": "Cần xác minh thực địa", "new_appointment_at": "2026-03-10T16:00:00+07:00"},
    )
    page = text(look_up(client, code, pin))
    assert "Cần xác minh thực địa" in page and "16:00 10/03/2026" in page and "đã gia hạn" in page


def test_supplement_after_the_officer_requested_one(client, app, motcua, desk):
    code, pin = filed(client)
    desk.work(
        code,
        "UT_Check",
        {
            "reception_decision": "supplement",
            "missing_items": ["Bản sao biên bản họp thành viên hộ gia đình"],
            "reception_reasons": "Thiếu biên bản họp",
            "reception_note": "không hiển thị",
        },
    )
    # Without a verified lookup in this session, nothing can be sent.
    stranger = app.test_client().post(
        "/lookup/supplement", data={"code": code, "files": (io.BytesIO(PDF), "x.pdf")}
    )
    assert stranger.status_code == 403
    page = text(look_up(client, code, pin))
    assert "Bản sao biên bản họp thành viên hộ gia đình" in page and "Thiếu biên bản họp" in page
    assert "/lookup/supplement" in page and "không hiển thị" not in page
    refused = client.post(
        "/lookup/supplement", data={"code": code, "files": (io.BytesIO(EXE), "bien-ban.png")}
    )
    assert refused.status_code == 422 and "bien-ban.png" in text(refused)
    assert [t.element_id for t in motcua.open_tasks(code)] == []
    sent = client.post(
        "/lookup/supplement",
        data={"code": code, "note": "Gửi bổ sung", "files": [(io.BytesIO(PNG), "bien-ban-hop.png")]},
    )
    assert sent.status_code == 302 and pin not in sent.headers["Location"]
    assert [t.element_id for t in motcua.open_tasks(code)] == ["UT_Recheck"]
    with transaction(motcua.sessions) as session:
        case_id = session.scalars(select(Case.id).where(Case.code == code)).one()
        supplements = session.scalars(
            select(Upload).where(Upload.case_id == case_id, Upload.purpose == "supplement")
        ).all()
    assert [(u.label, u.content_type) for u in supplements] == [("bien-ban-hop.png", "image/png")]
    assert motcua.case_data(code)["reception_supplement"]["upload_ids"] == [supplements[0].id]
    page = text(client.get(f"/lookup?code={code}"))
    assert "Đã nhận hồ sơ bổ sung của bạn" in page and "/lookup/supplement" not in page


def test_withdrawal(client, motcua, desk):
    code, pin = filed(client)
    desk.work(code, "UT_Check", ACCEPT)
    page = text(look_up(client, code, pin))
    assert "/lookup/withdraw" in page
    assert client.post("/lookup/withdraw", data={"code": code, "reason": ""}).status_code == 422
    response = client.post("/lookup/withdraw", data={"code": code, "reason": "Không còn nhu cầu"})
    assert response.status_code == 302
    assert desk.case(code).status == "withdrawn"
    page = text(client.get(f"/lookup?code={code}"))
    assert "Công dân yêu cầu rút hồ sơ" in page and "/lookup/withdraw" not in page


def test_withdrawal_is_not_offered_once_processed(client, desk):
    code, pin = filed(client)
    for element, data in (("UT_Check", ACCEPT), ("UT_Appraise", PASS), ("UT_Approve", APPROVE)):
        desk.work(code, element, data)
    page = text(look_up(client, code, pin))
    assert "Đã xử lý xong" in page and "/lookup/withdraw" not in page
    late = client.post("/lookup/withdraw", data={"code": code, "reason": "muộn"})
    assert late.status_code == 302 and desk.case(code).status == "processed"


def rating_form(level: str = "very_satisfied", **scores: str) -> dict[str, str]:
    criteria = {f"criterion_{c.key}": "2" for c in portal.satisfaction_form().criteria}
    return {"level": level, "comment": "Cán bộ nhiệt tình", **criteria, **scores}


def test_rating_after_the_result(client, motcua, desk):
    code, pin = filed(client)
    page = text(look_up(client, code, pin))
    assert "/lookup/rate" not in page  # no rating before the result
    for element, data in (
        ("UT_Check", ACCEPT),
        ("UT_Appraise", PASS),
        ("UT_Approve", APPROVE),
        ("UT_Return", RETURN),
    ):
        desk.work(code, element, data)
    page = text(client.get(f"/lookup?code={code}"))
    assert "Đã trả kết quả" in page and "/lookup/rate" in page
    assert "Rất hài lòng" in page and "Thái độ, tinh thần phục vụ của cán bộ, công chức" in page
    incomplete = rating_form()
    del incomplete["criterion_staff_conduct"]
    response = client.post("/lookup/rate", data={"code": code, **incomplete})
    assert response.status_code == 422 and "Cán bộ nhiệt tình" in text(response)  # kept
    response = client.post("/lookup/rate", data={"code": code, **rating_form(criterion_total_time="1")})
    assert response.status_code == 302
    case = desk.case(code)
    assert case.completed and case.status == "returned"
    with transaction(motcua.sessions) as session:
        rating = session.get(SatisfactionRating, case.id)
    assert rating.level == "very_satisfied" and rating.comment == "Cán bộ nhiệt tình"
    assert rating.criteria["total_time"] == 1 and sum(rating.criteria.values()) == 17
    assert motcua.case_data(code)["satisfaction"]["points"] == 17
    page = text(client.get(f"/lookup?code={code}"))
    assert "/lookup/rate" not in page and "Cảm ơn" in page


# -- feedback ----------------------------------------------------------------------------------


def test_feedback_form_validation_and_receipt(client, motcua):
    page = text(client.get("/feedback"))
    assert "Phí, lệ phí" in page or "Phí và lệ phí" in page
    assert 'value="not_regulation"' not in page  # the portal takes feedback on regulations only
    response = client.post(
        "/feedback", data={"category": "fees", "content": "Mức phí quá cao", "agency": "TINH_AP"}
    )
    assert response.status_code == 422
    page = text(response)
    for label in ("Họ và tên", "Địa chỉ", "Số điện thoại"):
        assert re.search(rf"<strong>{label}</strong>: [^<]+", page), label
    assert "Mức phí quá cao" in page and count_cases(motcua) == 0
    response = client.post(
        "/feedback",
        data={
            **SENDER,
            "agency": "XA_PHU_MY",
            "category": "fees",
            "content": "Đề nghị giảm lệ phí đăng ký hộ kinh doanh",
            "attachments": (io.BytesIO(PDF), "anh-chup.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    code = re.search(r'class="code">([^<]+)<', text(response)).group(1)
    pin = re.search(r'class="pin">(\d{6})<', text(response)).group(1)
    assert code.startswith("PAKN-000.02.01.H99")  # received by the chosen commune
    data = motcua.case_data(code)
    assert data["sender"]["phone"] == SENDER["phone"] and data["category"] == "fees"
    with transaction(motcua.sessions) as session:
        case_id = session.scalars(select(Case.id).where(Case.code == code)).one()
        assert session.scalars(select(Upload.label).where(Upload.case_id == case_id)).all() == [
            "anh-chup.pdf"
        ]
    assert "Đã tiếp nhận" in text(look_up(client, code, pin))


def test_a_published_answer_appears_with_working_like_and_dislike(client, app, motcua, desk):
    response = client.post(
        "/feedback",
        data={
            **SENDER,
            "agency": "XA_AN_BINH",
            "category": "procedure_content",
            "content": "Đề nghị bỏ bớt giấy tờ",
        },
    )
    code = re.search(r'class="code">([^<]+)<', text(response)).group(1)
    assert "Đề nghị bỏ bớt giấy tờ" not in text(client.get("/feedback/answers"))
    desk.work(code, "UT_Receive", {"category": "procedure_content", "summary": "Bỏ bớt giấy tờ"})
    desk.work(code, "UT_Handle", {"answer_draft": "Sẽ kiến nghị sửa đổi", "legal_basis": "Nghị định 20/2008"})
    desk.work(code, "UT_ApproveAnswer", {"answer_decision": "approve"})
    desk.work(code, "UT_Publish", {"publication_channels": ["portal"]})
    page = text(client.get("/feedback/answers"))
    assert "Đề nghị bỏ bớt giấy tờ" in page and "Sẽ kiến nghị sửa đổi" in page
    assert SENDER["name"] not in page and SENDER["phone"] not in page
    with transaction(motcua.sessions) as session:
        case_id = session.scalars(select(Case.id).where(Case.code == code)).one()
    assert client.post(f"/feedback/answers/{case_id}/react", data={"reaction": "like"}).status_code == 302
    client.post(f"/feedback/answers/{case_id}/react", data={"reaction": "like"})  # once per session
    other = app.test_client()
    other.post(f"/feedback/answers/{case_id}/react", data={"reaction": "dislike"})
    with transaction(motcua.sessions) as session:
        publication = session.get(FeedbackPublication, case_id)
    assert (publication.likes, publication.dislikes) == (1, 1)
    page = text(client.get("/feedback/answers"))
    assert '<span class="likes">1</span>' in page and '<span class="dislikes">1</span>' in page
    assert client.post("/feedback/answers/999999/react", data={"reaction": "like"}).status_code == 404


def test_public_posts_are_rate_limited(client, app):
    app.config["PUBLIC_RATE_LIMIT"] = "2 per minute"
    codes = [look_up(client, "khong-co", "123456").status_code for _ in range(3)]
    assert codes == [403, 403, 429]
    assert client.get("/lookup").status_code == 200  # reading is not limited


def test_english_pages(client):
    client.get("/?lang=en")
    assert "Look up a dossier" in text(client.get("/lookup"))
    assert "Send feedback on regulations" in text(client.get("/feedback"))
