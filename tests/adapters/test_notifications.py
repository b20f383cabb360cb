"""Notifications to applicants against a real SMTP server (aiosmtpd on 127.0.0.1) and a real
HTTP server playing the SMS gateway, driven by real cases, on both databases."""

from __future__ import annotations

import email
import email.policy
import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from adapters.delivery import deliver_due
from adapters.registry import ConfigError, RetryPolicy, load_config, verify
from engine.calendar import VN_TZ
from engine.db import transaction
from engine.models import DeliveryAttempt, OutboxMessage

from .portal import Portal

SECRET = "sms-gateway-secret-0123"
EMAIL = "hanh@example.vn"


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def parsed(self) -> Any:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def subject(self) -> str:
        return str(self.parsed["Subject"])

    @property
    def text(self) -> str:
        return self.parsed.get_content()


class Recorder:
    """An aiosmtpd handler that keeps every message, or refuses recipients when told to."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.refuse_with = ""

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if self.refuse_with:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"


class SmtpServer:
    def __init__(self, port: int = 0) -> None:
        self.port = port or _free_port()
        self.recorder = Recorder()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def mails(self) -> list[Mail]:
        return self.recorder.mails

    def stop(self) -> None:
        if self.controller.loop.is_running():
            self.controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def gateway() -> Iterator[Portal]:
    server = Portal()
    yield server
    server.stop()


def email_config(port: int) -> dict:
    return {
        "host": "127.0.0.1",
        "port": port,
        "from": "motcua@anbinh.example.vn",
        "starttls": False,
        "timeout": 5,
    }


def adapters_for(m, **section: dict) -> list:
    adapters = load_config({"adapters": section}).adapters
    for adapter in adapters:
        adapter.bind(m)  # the contact lookup reads the case at send time
    return adapters


def deliver(m, adapters, minutes: float = 0) -> int:
    now = m.clock.now() + timedelta(minutes=minutes)
    return deliver_due(m, adapters, 100, now, policy=RetryPolicy(max_attempts=4), rng=random.Random(5))


def work(m, code: str, element_id: str, data: dict, username: str) -> None:
    task = next(t for t in m.open_tasks(code) if t.element_id == element_id)
    m.complete_task(task.id, data, m.actor_for(username))


def receive(m, applicant: dict) -> str:
    officer = m.actor_for("motcua_anbinh")
    code = m.receive_dossier("2.000720", "XA_AN_BINH", applicant=applicant, actor=officer).case_code
    work(m, code, "UT_Check", {"reception_decision": "accept"}, "motcua_anbinh")
    return code


def attempts(m, adapter: str) -> list[DeliveryAttempt]:
    with transaction(m.sessions) as session:
        query = select(DeliveryAttempt).where(DeliveryAttempt.adapter == adapter).order_by(DeliveryAttempt.id)
        return list(session.scalars(query))


def outbox_states(m) -> set[str]:
    with transaction(m.sessions) as session:
        return set(session.scalars(select(OutboxMessage.state)))


def test_receipt_mail_in_vietnamese_with_code_and_appointment(motcua, smtp):
    adapters = adapters_for(motcua, email=email_config(smtp.port))
    code = receive(motcua, {"name": "Trần Thị Hạnh", "email": EMAIL, "id_number": "001088012345"})
    deliver(motcua, adapters)

    (mail,) = smtp.mails
    assert mail.sender == "motcua@anbinh.example.vn" and mail.recipients == [EMAIL]
    assert mail.subject == f"Biên nhận hồ sơ {code}"
    # Non-ASCII headers travel encoded (RFC 2047); the body is UTF-8.
    raw_headers = mail.raw.split(b"\r\n\r\n", 1)[0]
    assert b"Bi\xc3\xaan" not in raw_headers and b"=?utf-8?" in raw_headers
    assert mail.parsed.get_content_charset() == "utf-8"
    assert str(mail.parsed["To"]) == f"Trần Thị Hạnh <{EMAIL}>"
    assert f"Mã hồ sơ: {code}" in mail.text
    assert "Ngày hẹn trả kết quả: 09 giờ 00 phút, ngày 05/03/2026" in mail.text
    assert "Kính gửi Ông/Bà Trần Thị Hạnh" in mail.text
    assert "001088012345" not in mail.raw.decode("utf-8", "replace")
    (attempt,) = attempts(motcua, "email")
    assert (attempt.outcome, attempt.status_code) == ("delivered", 250)


def test_supplement_apology_and_result_mails(motcua, smtp, clock):
    adapters = adapters_for(motcua, email=email_config(smtp.port))
    late = receive(motcua, {"name": "Trần Thị Hạnh", "email": EMAIL})
    clock.set(datetime(2026, 3, 4, 9, 30, tzinfo=VN_TZ))
    motcua.fire_due_timers()  # one working day before the appointment: the apology task
    work(
        motcua,
        late,
        "UT_Apology",
        {"extension_reason": "Cần xác minh thực địa", "new_appointment_at": "2026-03-10T16:00:00+07:00"},
        "lanhdao_anbinh",
    )
    work(
        motcua,
        late,
        "UT_Appraise",
        {"appraisal_outcome": "pass", "appraisal_opinion": "Hợp lệ"},
        "chuyenvien_anbinh",
    )
    work(
        motcua,
        late,
        "UT_Approve",
        {"approval_decision": "approve", "result_reference": "GCN-1"},
        "lanhdao_anbinh",
    )
    short = receive(motcua, {"name": "Lê Văn An", "email": "an@example.vn"})
    work(
        motcua,
        short,
        "UT_Appraise",
        {
            "appraisal_outcome": "supplement",
            "appraisal_opinion": "Thiếu bản vẽ",
            "supplement_items": ["Bản vẽ"],
            "appraisal_reasons": "Thiếu bản vẽ",
        },
        "chuyenvien_anbinh",
    )
    deliver(motcua, adapters)

    def subjects(address: str) -> list[str]:  # in order per case; cases may interleave
        return [m.subject for m in smtp.mails if m.recipients == [address]]

    assert subjects(EMAIL) == [
        f"Biên nhận hồ sơ {late}",
        f"Thư xin lỗi và hẹn lại ngày trả kết quả hồ sơ {late}",
        f"Hồ sơ {late} đã có kết quả",
    ]
    assert subjects("an@example.vn") == [f"Biên nhận hồ sơ {short}", f"Yêu cầu bổ sung hồ sơ {short}"]
    apology = next(m.text for m in smtp.mails if m.subject.startswith("Thư xin lỗi"))
    assert "Lý do: Cần xác minh thực địa" in apology
    assert "Ngày hẹn trước đây: 09 giờ 00 phút, ngày 05/03/2026" in apology
    assert "Ngày hẹn trả kết quả mới: 16 giờ 00 phút, ngày 10/03/2026" in apology
    supplement = next(m.text for m in smtp.mails if m.subject.startswith("Yêu cầu bổ sung"))
    assert "Đề nghị Ông/Bà bổ sung, hoàn thiện hồ sơ" in supplement


def test_published_feedback_answer_is_mailed_to_the_sender(motcua, smtp):
    adapters = adapters_for(motcua, email=email_config(smtp.port))
    officer = motcua.actor_for("motcua_anbinh")
    sender = {"name": "Phạm Văn Đức", "address": "Thôn 3", "phone": "0911222333", "email": "duc@example.vn"}
    code = motcua.submit_feedback(
        "XA_AN_BINH", actor=officer, category="fees", sender=sender, content="Đề nghị giảm lệ phí"
    ).case_code
    work(motcua, code, "UT_Receive", {"summary": "Giảm lệ phí", "category": "fees"}, "motcua_anbinh")
    work(motcua, code, "UT_Handle", {"answer_draft": "Lệ phí sẽ được xem xét giảm"}, "chuyenvien_anbinh")
    work(motcua, code, "UT_ApproveAnswer", {"answer_decision": "approve"}, "lanhdao_anbinh")
    work(motcua, code, "UT_Publish", {"publication_channels": ["portal"]}, "motcua_anbinh")
    deliver(motcua, adapters)
    (mail,) = smtp.mails
    assert mail.recipients == ["duc@example.vn"]
    assert mail.subject == f"Trả lời phản ánh, kiến nghị {code}"
    assert "Lệ phí sẽ được xem xét giảm" in mail.text


def test_a_header_injection_in_the_applicant_name_adds_no_header(motcua, smtp):
    adapters = adapters_for(motcua, email=email_config(smtp.port))
    receive(motcua, {"name": "Hạnh\r\nBcc: attacker@evil.example\r\nX-Injected: yes", "email": EMAIL})
    deliver(motcua, adapters)
    (mail,) = smtp.mails
    assert mail.recipients == [EMAIL]
    parsed = mail.parsed
    assert parsed["Bcc"] is None and parsed["X-Injected"] is None
    assert b"\r\nBcc:" not in mail.raw and b"\r\nX-Injected:" not in mail.raw


def test_smtp_down_then_back_is_retried_and_delivered(motcua, smtp):
    adapters = adapters_for(motcua, email=email_config(smtp.port))
    receive(motcua, {"name": "Trần Thị Hạnh", "email": EMAIL})
    port = smtp.port
    smtp.stop()
    deliver(motcua, adapters)
    (refused,) = attempts(motcua, "email")
    assert refused.outcome == "retry" and "ConnectionRefused" in refused.error

    back = SmtpServer(port)
    try:
        deliver(motcua, adapters, minutes=5)
        assert len(back.mails) == 1
        assert [a.outcome for a in attempts(motcua, "email")] == ["retry", "delivered"]
    finally:
        back.stop()


def test_a_permanent_smtp_refusal_is_dead_and_a_transient_one_retried(motcua, smtp):
    adapters = adapters_for(motcua, email=email_config(smtp.port))
    smtp.recorder.refuse_with = "451 4.7.1 Greylisted, try again later"
    receive(motcua, {"name": "Trần Thị Hạnh", "email": EMAIL})
    deliver(motcua, adapters)
    smtp.recorder.refuse_with = "550 5.1.1 Mailbox unavailable"
    deliver(motcua, adapters, minutes=5)
    tries = attempts(motcua, "email")
    assert [(a.outcome, a.status_code) for a in tries] == [("retry", 451), ("dead", 550)]
    assert "Mailbox unavailable" in tries[1].error
    assert smtp.mails == []


def test_sms_goes_to_the_gateway_as_the_configured_json(motcua, gateway):
    body = {"so_dien_thoai": "$to", "noi_dung": "$text", "tham_chieu": {"ma_ho_so": "$code"}}
    adapters = adapters_for(
        motcua, sms={"url": gateway.url, "secret": SECRET, "body": body, "events": ["receipt"]}
    )
    code = receive(motcua, {"name": "Trần Thị Hạnh", "phone": "0987654321"})
    deliver(motcua, adapters)
    (request,) = gateway.requests
    assert verify(SECRET, request.body, request.headers["X-Motcua-Signature"])
    sent = request.json()
    assert sent["so_dien_thoai"] == "0987654321" and sent["tham_chieu"] == {"ma_ho_so": code}
    assert (
        sent["noi_dung"]
        == f"Ho so {code} da duoc tiep nhan. Hen tra ket qua: 09 giờ 00 phút, ngày 05/03/2026."
    )
    assert "Trần Thị Hạnh" not in request.body.decode()
    assert [(a.outcome, a.status_code) for a in attempts(motcua, "sms")] == [("delivered", 200)]


def test_a_case_without_contact_sends_nothing_and_is_not_dead(motcua, smtp, gateway):
    adapters = adapters_for(motcua, email=email_config(smtp.port), sms={"url": gateway.url, "secret": SECRET})
    receive(motcua, {"name": "Trần Thị Hạnh"})
    deliver(motcua, adapters)
    assert smtp.mails == [] and gateway.requests == []
    for channel, missing in (("email", "email"), ("sms", "phone")):
        (attempt,) = attempts(motcua, channel)
        assert attempt.outcome == "delivered" and f"no {missing}" in attempt.response_excerpt
    assert "dead" not in outbox_states(motcua)


def test_notification_configuration_errors_name_their_keys():
    with pytest.raises(ConfigError) as err:
        load_config(
            {
                "adapters": {
                    "email": {"port": 70000, "from": "not an address", "starttls": "yes", "username": "u"},
                    "sms": {"url": "http://sms.example.vn", "secret": SECRET, "body": {"to": "$phone"}},
                }
            }
        )
    problems = err.value.problems
    assert "adapters.email.host: is required" in problems
    assert "adapters.email.port: must be between 1 and 65535" in problems
    assert "adapters.email.from: must be an e-mail address" in problems
    assert "adapters.email.starttls: must be true or false" in problems
    assert "adapters.email.password: username and password go together" in problems
    assert "adapters.sms.url: must be an https:// or http://127.0.0.1 URL" in problems
    assert any(p.startswith("adapters.sms.body.to: unknown placeholder $phone") for p in problems)
    assert "adapters.sms.body: must use $text somewhere" in problems
