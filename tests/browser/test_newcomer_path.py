"""A newcomer's path through the product in real Chromium, page by page, with screenshots in
test-artifacts/screenshots/newcomer/: reception and receipt at the desk, appraisal, approval,
result returned, the citizen's lookup and rating, online feedback and its published answer, and
the auditor's verification of the case history."""

from __future__ import annotations

import re

import pytest

from .conftest import CHROMIUM_ARGS, PASSWORD, Shots  # noqa: F401 - CHROMIUM_ARGS documents the launch

pytestmark = pytest.mark.browser


def sign_in(browser, base: str, username: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/"))
    return page


def open_task(page, base: str, code: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/staff/?code={code}")
    page.locator(f"tr:has-text('{code}') a[href*='/staff/tasks/']").first.click()
    page.wait_for_url(re.compile(r"/staff/tasks/\d+"))


def submit_task(page) -> None:  # type: ignore[no-untyped-def]
    page.locator("form[novalidate] button[type=submit]").first.click()
    page.wait_for_load_state()


def test_newcomer_path(live, browser):
    base, motcua, clock = live
    shots = Shots("newcomer")

    # 1. The one-stop officer receives a dossier at the desk and prints the receipt.
    officer = sign_in(browser, base, "motcua_anbinh")
    shots.take(officer, "officer-inbox")
    officer.goto(f"{base}/staff/reception")
    officer.select_option("#r-procedure", "2.000720")
    officer.wait_for_selector("#r-name")
    officer.fill("#r-name", "Nguyễn Thị Mai")
    officer.fill("#r-id", "001190012345")
    officer.fill("#r-address", "Thôn Đông, xã An Bình")
    officer.fill("#r-phone", "0912345678")
    shots.take(officer, "reception-form")
    officer.locator("form:has(#r-name) button[type=submit]").click()
    officer.wait_for_url(re.compile(r"/receipt"))
    receipt = officer.content()
    code = re.search(r"000\.01\.01\.H99-\d{6}-\d{4}", receipt).group(0)
    pin = officer.locator(".pin b").inner_text().strip()
    assert re.fullmatch(r"\d{6}", pin)
    assert "<svg" in receipt and "001190012345" not in receipt  # QR code; ID masked
    shots.take(officer, "receipt")
    officer.emulate_media(media="print")
    assert not officer.locator("header.site").is_visible()  # printing shows the form only
    shots.take(officer, "receipt-print")
    officer.emulate_media(media="screen")

    # 2. The specialist appraises, 3. the leader approves.
    specialist = sign_in(browser, base, "chuyenvien_anbinh")
    open_task(specialist, base, code)
    shots.take(specialist, "appraisal-form")
    specialist.select_option("#f-appraisal_outcome", "pass")
    specialist.fill("#f-appraisal_opinion", "Hồ sơ đầy đủ, hợp lệ")
    submit_task(specialist)
    shots.take(specialist, "after-appraisal")
    leader = sign_in(browser, base, "lanhdao_anbinh")
    open_task(leader, base, code)
    leader.select_option("#f-approval_decision", "approve")
    submit_task(leader)
    shots.take(leader, "after-approval")

    # 4. The officer returns the result.
    open_task(officer, base, code)
    officer.select_option("#f-delivery_method", "desk")
    submit_task(officer)
    officer.goto(f"{base}/staff/cases/{code}")
    assert "Đã trả kết quả" in officer.content()
    shots.take(officer, "case-page")

    # 5. The citizen looks the dossier up and rates it.
    citizen = browser.new_context(locale="vi-VN").new_page()
    citizen.goto(f"{base}/lookup?code={code}")
    citizen.fill("#pin", pin)
    citizen.click("form button[type=submit]")
    citizen.wait_for_load_state()
    assert "Đã trả kết quả" in citizen.content()
    assert "001190012345" not in citizen.content()  # no ID number on the public page
    shots.take(citizen, "lookup")
    citizen.locator("input[name=level]").first.check()
    for radio_group in citizen.locator("input[type=radio][name^=criterion_]").evaluate_all(
        "els => [...new Set(els.map(e => e.name))]"
    ):
        citizen.locator(f"input[name={radio_group}]").last.check()
    citizen.locator("form:has(input[name=level]) button[type=submit]").click()
    citizen.wait_for_load_state()
    shots.take(citizen, "rated")
    assert motcua.verify_history(code).ok
    from engine.db import transaction
    from engine.models import Case, SatisfactionRating

    with transaction(motcua.sessions) as session:
        case = session.query(Case).filter_by(code=code).one()
        assert session.get(SatisfactionRating, case.id) is not None
        assert case.completed

    # 6. A citizen files feedback online and reads the published answer.
    citizen.goto(f"{base}/feedback")
    citizen.fill("#name", "Trần Văn Hùng")
    citizen.fill("#address", "Xóm 2, xã An Bình")
    citizen.fill("#phone", "0987000111")
    citizen.select_option("#agency", "XA_AN_BINH")
    citizen.select_option("#category", "procedure_content")
    citizen.fill("#content", "Đề nghị bỏ yêu cầu nộp bản sao giấy khai sinh khi đăng ký hộ kinh doanh")
    shots.take(citizen, "feedback-form")
    citizen.locator("form:has(#content) button[type=submit]").click()
    citizen.wait_for_load_state()
    feedback_code = citizen.locator("strong.code").inner_text().strip()
    shots.take(citizen, "feedback-sent")
    staff = {"officer": "motcua_anbinh", "specialist": "chuyenvien_anbinh", "leader": "lanhdao_anbinh"}
    steps = {
        "UT_Receive": {"category": "procedure_content", "summary": "Đề nghị cắt giảm thành phần hồ sơ"},
        "UT_Handle": {"answer_draft": "UBND xã sẽ kiến nghị bỏ yêu cầu này từ quý tới."},
        "UT_ApproveAnswer": {"answer_decision": "approve"},
        "UT_Publish": {"publication_channels": ["portal"]},
    }
    for _ in steps:
        task = motcua.open_tasks(feedback_code)[0]
        motcua.complete_task(task.id, steps[task.element_id], motcua.actor_for(staff[task.role]))
    citizen.goto(f"{base}/feedback/answers")
    assert "UBND xã sẽ kiến nghị bỏ yêu cầu này từ quý tới." in citizen.content()
    shots.take(citizen, "published-answers")

    # 7. The auditor verifies the case history.
    auditor = browser.new_context(locale="vi-VN").new_page()
    auditor.goto(f"{base}/login")
    auditor.fill("#username", "kiemtra")
    auditor.fill("#password", PASSWORD)
    auditor.click("form button[type=submit]")
    auditor.wait_for_load_state()
    auditor.goto(f"{base}/audit/cases/{code}")
    shots.take(auditor, "audit-history")
    auditor.locator(".verify button[type=submit], .verify input[type=submit]").first.click()
    auditor.wait_for_load_state()
    shots.take(auditor, "audit-verified")
    assert "Lịch sử nguyên vẹn" in auditor.content()
