"""The feedback-system adapter (pakn) and the richer national-portal body, against a real HTTP
server on 127.0.0.1, driven by real cases, on both databases."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters.delivery import deliver_due
from adapters.registry import ConfigError, RetryPolicy, load_config, verify
from engine.db import transaction
from engine.models import DeliveryAttempt

from .portal import Portal

SECRET = "pakn-secret-0123456789"
SENDER = {
    "name": "Phạm Văn Đức",
    "address": "Thôn 3, xã An Bình",
    "phone": "0911222333",
    "email": "duc@example.vn",
}
ANSWER = "Sẽ kiến nghị sửa đổi thành phần hồ sơ"


@pytest.fixture
def portal() -> Iterator[Portal]:
    server = Portal()
    yield server
    server.stop()


def deliver(m, adapters, minutes: float = 0) -> int:
    now = m.clock.now() + timedelta(minutes=minutes)
    return deliver_due(m, adapters, 100, now, policy=RetryPolicy(max_attempts=4), rng=random.Random(3))


def work(m, code: str, element_id: str, data: dict, username: str) -> None:
    task = next(t for t in m.open_tasks(code) if t.element_id == element_id)
    m.complete_task(task.id, data, m.actor_for(username))


def feedback_answered_and_published(m) -> str:
    officer = m.actor_for("motcua_anbinh")
    code = m.submit_feedback(
        "XA_AN_BINH",
        actor=officer,
        category="procedure_content",
        sender=SENDER,
        content="Đề nghị giảm thành phần hồ sơ đăng ký hộ kinh doanh",
    ).case_code
    work(
        m,
        code,
        "UT_Receive",
        {"summary": "Đề nghị giảm thành phần hồ sơ", "category": "procedure_content"},
        "motcua_anbinh",
    )
    work(
        m,
        code,
        "UT_Handle",
        {"answer_draft": ANSWER, "legal_basis": "Nghị định 20/2008"},
        "chuyenvien_anbinh",
    )
    work(m, code, "UT_ApproveAnswer", {"answer_decision": "approve"}, "lanhdao_anbinh")
    work(m, code, "UT_Publish", {"publication_channels": ["portal"]}, "motcua_anbinh")
    return code


def outcomes(m, adapter: str) -> list[str]:
    with transaction(m.sessions) as session:
        query = select(DeliveryAttempt.outcome).where(DeliveryAttempt.adapter == adapter)
        return list(session.scalars(query.order_by(DeliveryAttempt.id)))


def test_feedback_changes_and_the_published_answer_reach_the_feedback_system(motcua, portal):
    adapters = load_config({"adapters": {"pakn": {"url": portal.url, "secret": SECRET}}}).adapters
    code = feedback_answered_and_published(motcua)
    deliver(motcua, adapters)

    bodies = [r.json() for r in portal.requests]
    assert [(b["MaPAKN"], b["TrangThaiTruoc"], b["TrangThai"]) for b in bodies] == [
        (code, "received", "handling"),
        (code, "handling", "answered"),
        (code, "answered", "published"),
    ]
    handling, answered, published = bodies
    assert handling["PhanLoai"] == "procedure_content"
    assert handling["CoQuanTiepNhan"] == handling["CoQuanXuLy"] == "000.01.01.H99"
    assert handling["HinhThucTiepNhan"] == "online"
    assert handling["NgayTiepNhan"].startswith("2026-03-02")
    # The answer is public only once published.
    assert answered["NoiDungTraLoi"] is None and answered["NgayCongKhai"] is None
    assert published["NoiDungTraLoi"] == ANSWER and published["NgayCongKhai"].startswith("2026-03-02")
    for request in portal.requests:
        assert verify(SECRET, request.body, request.headers["X-Motcua-Signature"])
        assert request.key.startswith(f"{code}:") and request.key.endswith(":case.status_changed")
        text = request.body.decode()
        for personal in SENDER.values():
            assert personal not in text  # never the sender's name, address, phone or e-mail
    assert outcomes(motcua, "pakn") == ["delivered"] * 3


def test_the_feedback_system_takes_no_dossiers_and_field_names_are_configurable(motcua, portal):
    adapters = load_config(
        {"adapters": {"pakn": {"url": portal.url, "secret": SECRET, "fields": {"answer": "answer"}}}}
    ).adapters
    officer = motcua.actor_for("motcua_anbinh")
    motcua.receive_dossier("2.000720", "XA_AN_BINH", applicant={"name": "Trần Thị Bình"}, actor=officer)
    code = feedback_answered_and_published(motcua)
    deliver(motcua, adapters)
    assert {r.json()["MaPAKN"] for r in portal.requests} == {code}
    assert portal.requests[-1].json()["answer"] == ANSWER


def test_a_4xx_from_the_feedback_system_is_a_dead_letter(motcua, portal):
    adapters = load_config({"adapters": {"pakn": {"url": portal.url, "secret": SECRET}}}).adapters
    feedback_answered_and_published(motcua)
    portal.answer("400")
    deliver(motcua, adapters)
    deliver(motcua, adapters, minutes=60)
    # The refused first change is dead; the later ones wait behind it rather than arrive out of order.
    assert outcomes(motcua, "pakn") == ["dead"]
    assert len(portal.requests) == 1


def test_pakn_configuration_errors_name_their_keys():
    with pytest.raises(ConfigError) as err:
        load_config(
            {
                "adapters": {
                    "pakn": {
                        "url": "http://feedback.example.vn/api",
                        "secret": "short",
                        "fields": {"x": "y"},
                        "colour": "blue",
                    }
                }
            }
        )
    problems = err.value.problems
    assert "adapters.pakn.url: must be an https:// or http://127.0.0.1 URL" in problems
    assert "adapters.pakn.secret: must be a string of at least 16 characters" in problems
    assert "adapters.pakn.fields.x: unknown field" in problems
    assert "adapters.pakn.colour: unknown key" in problems


# -- the national public-service portal's richer body -------------------------------------------


def test_dvcqg_body_has_status_history_result_link_and_vneid(motcua, portal):
    config = {
        "url": portal.url,
        "secret": SECRET,
        "result_url_base": "https://ketqua.anbinh.example.vn/hoso/",
    }
    adapters = load_config({"adapters": {"dvcqg": config}}).adapters
    officer = motcua.actor_for("motcua_anbinh")
    code = motcua.receive_dossier(
        "2.000720",
        "XA_AN_BINH",
        applicant={"name": "Trần Thị Hạnh"},
        actor=officer,
        channel="online",
        extra={"vneid": True},
    ).case_code
    plain = motcua.receive_dossier(
        "2.000720", "XA_AN_BINH", applicant={"name": "Lê Văn An"}, actor=officer
    ).case_code
    work(motcua, code, "UT_Check", {"reception_decision": "accept"}, "motcua_anbinh")
    work(motcua, plain, "UT_Check", {"reception_decision": "accept"}, "motcua_anbinh")
    motcua.clock.advance(timedelta(hours=2))
    work(
        motcua,
        code,
        "UT_Appraise",
        {"appraisal_outcome": "pass", "appraisal_opinion": "Hợp lệ"},
        "chuyenvien_anbinh",
    )
    work(
        motcua,
        code,
        "UT_Approve",
        {"approval_decision": "approve", "result_reference": "GCN-1"},
        "lanhdao_anbinh",
    )
    deliver(motcua, adapters)

    bodies = [b for b in portal.applied_bodies() if b["MaHoSo"] == code]
    assert [b["TrangThaiHoSo"] for b in bodies] == [2, 4, 9]
    history = [
        [(h["TrangThaiHoSo"], h["ThoiDiemCapNhat"][:16]) for h in b["LichSuTrangThai"]] for b in bodies
    ]
    assert history == [
        [(2, "2026-03-02T02:00")],
        [(2, "2026-03-02T02:00"), (4, "2026-03-02T02:00")],
        [(2, "2026-03-02T02:00"), (4, "2026-03-02T02:00"), (9, "2026-03-02T04:00")],
    ]
    # No result before "processed"; then the link names the dossier.
    assert [b["DuongDanKetQua"] for b in bodies] == [
        None,
        None,
        f"https://ketqua.anbinh.example.vn/hoso/{code}",
    ]
    assert all(b["XacThucVNeID"] is True for b in bodies)
    assert [b["XacThucVNeID"] for b in portal.applied_bodies() if b["MaHoSo"] == plain] == [False, False]


def test_dvcqg_without_a_result_base_sends_no_link(motcua, portal):
    adapters = load_config({"adapters": {"dvcqg": {"url": portal.url, "secret": SECRET}}}).adapters
    officer = motcua.actor_for("motcua_anbinh")
    code = motcua.receive_dossier(
        "2.000720", "XA_AN_BINH", applicant={"name": "Trần Thị Hạnh"}, actor=officer
    ).case_code
    work(motcua, code, "UT_Check", {"reception_decision": "accept"}, "motcua_anbinh")
    deliver(motcua, adapters)
    body = portal.applied_bodies()[-1]
    assert body["DuongDanKetQua"] is None and body["XacThucVNeID"] is False
    with pytest.raises(ConfigError) as err:
        load_config(
            {"adapters": {"dvcqg": {"url": portal.url, "secret": SECRET, "result_url_base": "ftp://x"}}}
        )
    assert err.value.problems == [
        "adapters.dvcqg.result_url_base: must be an https:// or http://127.0.0.1 URL"
    ]
