"""A few demo cases in different states, so a newcomer sees a living desk: waiting at reception,
in appraisal, waiting for a supplement, returned, refused, and feedback being handled."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from engine.access import set_password
from engine.db import transaction
from engine.models import Staff
from engine.motcua import Motcua

ACCEPT = {"reception_decision": "accept"}
PASS = {"appraisal_outcome": "pass", "appraisal_opinion": "Hồ sơ đầy đủ, hợp lệ"}
APPROVE = {"approval_decision": "approve", "result_reference": "01/GCN-HKD"}
RETURN = {"delivery_method": "desk", "receiver_name": "Người nộp hồ sơ"}


def create_demo_cases(m: Motcua) -> list[str]:
    officer = m.actor_for("motcua_anbinh")
    lines: list[str] = []

    def receive(procedure: str, name: str, agency: str = "XA_AN_BINH", **kw: object) -> str:
        actor = officer if agency == "XA_AN_BINH" else m.actor_for("motcua_phumy")
        code = m.receive_dossier(
            procedure, agency, applicant={"name": name, "phone": "0912000000"}, actor=actor, **kw
        ).case_code  # type: ignore[arg-type]
        lines.append(f"dossier {code}: {name}")
        return code

    def work(code: str, element_id: str, data: dict) -> None:
        task = next(t for t in m.open_tasks(code) if t.element_id == element_id)
        username = {"officer": "motcua_anbinh", "specialist": "chuyenvien_anbinh", "leader": "lanhdao_anbinh"}
        m.complete_task(task.id, data, m.actor_for(username[task.role]))

    receive("2.000815", "Nguyễn Văn An")  # waiting at the desk
    code = receive("2.000720", "Trần Thị Bình")
    work(code, "UT_Check", ACCEPT)  # with the specialist
    code = receive("1.009994", "Lê Văn Cường")
    work(
        code,
        "UT_Check",
        {
            "reception_decision": "supplement",
            "missing_items": ["Bản vẽ thiết kế"],
            "reception_reasons": "Thiếu hai bộ bản vẽ thiết kế xây dựng",
        },
    )
    code = receive("2.000720", "Phạm Thị Dung")
    for element, data in (
        ("UT_Check", ACCEPT),
        ("UT_Appraise", PASS),
        ("UT_Approve", APPROVE),
        ("UT_Return", RETURN),
    ):
        work(code, element, data)
    code = receive("1.001193", "Hoàng Văn Em")
    work(
        code,
        "UT_Check",
        {"reception_decision": "refuse", "reception_reasons": "Không thuộc thẩm quyền của xã"},
    )
    receive("1.001193", "Vũ Thị Giang", agency="XA_PHU_MY", channel="online")
    feedback = m.submit_feedback(
        "XA_AN_BINH",
        actor=officer,
        category="procedure_content",
        sender={"name": "Đặng Văn Hải", "address": "Thôn Đông, xã An Bình", "phone": "0913000000"},
        content="Đề nghị bỏ yêu cầu nộp bản sao giấy tờ đã có trong cơ sở dữ liệu quốc gia về dân cư",
    ).case_code
    work(
        feedback,
        "UT_Receive",
        {"category": "procedure_content", "summary": "Đề nghị cắt giảm thành phần hồ sơ"},
    )
    lines.append(f"feedback {feedback}")
    return lines


def create_demo_passwords(m: Motcua) -> list[tuple[str, list[str], str]]:
    """A random password per demo staff member; only the hashes are stored."""
    with transaction(m.sessions) as session:
        staff = [(s.username, list(s.roles)) for s in session.scalars(select(Staff).order_by(Staff.id))]
    out = []
    for username, roles in staff:
        password = secrets.token_urlsafe(9)
        set_password(m, username, password)
        out.append((username, roles, password))
    return out
