"""Notifications to applicants: e-mail over SMTP (`email`) and SMS through an HTTP gateway
(`sms`), for five moments of a case — receipt with the appointment, supplement requested,
apology with a new appointment, result ready, feedback answer published.

Contacts never travel in outbox rows: at send time the adapter asks the engine
(`Motcua.applicant_contact`) for the applicant's or sender's name, e-mail and phone as the case
holds them then. So portals and webhooks never receive them, a corrected address is used, and
the ID number is never read. A case without an address for a channel is "delivered, nothing to
send" for that channel: a missing contact is not a failure and must not block the case's later
messages the way a dead letter does.

Texts are Vietnamese templates in `templates/notify/` (string.Template: `$code`, `$name`, …):
`<event>.txt` (first line the subject, then a blank line, then the body) for e-mail and
`<event>.sms.txt` for SMS. Mail is built with EmailMessage, so case data can never add headers."""

from __future__ import annotations

import email.policy
import hashlib
import smtplib
import ssl
import string
from collections.abc import Callable, Mapping
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from typing import Any

from engine.calendar import VN_TZ

from .registry import (
    DirectAdapter,
    Message,
    MessageRejected,
    Outcome,
    Reader,
    register,
)

TEMPLATES = Path(__file__).resolve().parent / "templates" / "notify"
EVENTS = ("receipt", "supplement", "apology", "result", "answered")
TOPICS = ("case.status_changed", "case.appointment_changed")
# Placeholders an SMS gateway body may use in its string values.
SMS_PLACEHOLDERS = frozenset({"to", "text", "code", "event", "key"})
DEFAULT_SMS_BODY = {"to": "$to", "message": "$text"}

# Headers are not folded below 998 characters: the standard library's folding of RFC 2047
# encoded words drops the space that falls on a fold ("trả kết" arrives as "trảkết"). Our
# subjects are short; encoded words longer than 75 characters are read by every mail client.
MAIL_POLICY = email.policy.SMTP.clone(max_line_length=998)

Contacts = Callable[[int], Mapping[str, str]]


class NotificationError(Exception):
    """A notification template is missing or uses a placeholder we do not fill."""


def notification_event(message: Message) -> str | None:
    """Which applicant notification, if any, an outbox message calls for."""
    payload = message.payload
    change = payload.get("change") or {}
    kind = payload.get("kind")
    if message.topic == "case.status_changed":
        to = change.get("to")
        if kind == "dossier":
            return {"received": "receipt", "supplement_requested": "supplement", "processed": "result"}.get(
                to or ""
            )
        if kind == "feedback" and to == "published":
            return "answered"
    if message.topic == "case.appointment_changed" and change.get("extension"):
        # Only a re-appointment comes with an apology (Form 04); a clock pause moves the date
        # silently, the supplement request already told the applicant.
        return "apology"
    return None


def render(event: str, message: Message, contact: Mapping[str, str], *, sms: bool) -> tuple[str, str]:
    """(subject, text) of a notification; for SMS the subject is empty."""
    name = f"{event}.sms.txt" if sms else f"{event}.txt"
    template = _template(name)
    text = template.substitute(_values(message, contact))
    if sms:
        return "", " ".join(text.split())
    subject, _, body = text.partition("\n\n")
    return _one_line(subject), body.strip() + "\n"


@cache
def _template(name: str) -> string.Template:
    path = TEMPLATES / name
    if not path.is_file():
        raise NotificationError(f"notification template {name} is missing")
    return string.Template(path.read_text(encoding="utf-8"))


def _values(message: Message, contact: Mapping[str, str]) -> dict[str, str]:
    payload = message.payload
    change = payload.get("change") or {}
    answer = payload.get("answer") or {}
    return {
        "name": _one_line(contact.get("name", "")) or "Ông/Bà",
        "code": str(payload.get("code", "")),
        "procedure_code": str(payload.get("procedure_code") or ""),
        "received_at": _when(payload.get("received_at")),
        "appointment": _when(change.get("appointment_at") or payload.get("appointment_at")),
        "previous_appointment": _when(change.get("previous")),
        "reason": _one_line(str(change.get("reason") or "")),
        "answer": str(answer.get("text") or ""),
    }


def _when(value: Any) -> str:
    """An instant as Vietnamese forms write it: 09 giờ 00 phút, ngày 05/03/2026 (Hà Nội time)."""
    if not value:
        return "(chưa có)"
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    local = instant.astimezone(VN_TZ)
    return f"{local:%H} giờ {local:%M} phút, ngày {local:%d/%m/%Y}"


def _one_line(value: str) -> str:
    # Names and reasons typed by people: control characters (CR, LF, …) become spaces, so
    # they can neither break a header nor forge lines in an SMS.
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())


class NotifyReader(Reader):
    """Reader with the value types SMTP settings need."""

    def text(self, key: str, *, required: bool = True, default: str = "") -> str:
        value = self._get(key, None)
        if value is None:
            if required:
                self.problems.append(f"{self._key(key)}: is required")
            return default
        if not isinstance(value, str) or not value.strip() or _one_line(value) != value:
            self.problems.append(f"{self._key(key)}: must be a non-empty single-line string")
            return default
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            self.problems.append(f"{self._key(key)}: must be true or false")
            return default
        return value

    def address(self, key: str) -> str:
        value = self.text(key)
        if value and _address(value) is None:
            self.problems.append(f"{self._key(key)}: must be an e-mail address")
            return ""
        return value


def _address(value: str, display_name: str = "") -> Address | None:
    if value.count("@") != 1 or any(c.isspace() or c in ",;<>" for c in value):
        return None
    try:
        return Address(display_name=display_name, addr_spec=value)
    except (ValueError, IndexError):
        return None


class _Notifier(DirectAdapter):
    """What both channels share: the events, the contact lookup, the rendering."""

    contact_key: str  # "email" or "phone"

    def __init__(self, *, events: list[str], **kwargs: Any):
        super().__init__(topics=TOPICS, **kwargs)
        self.events = frozenset(events)
        self.contacts: Contacts | None = None

    def bind(self, m: Any) -> None:
        self.contacts = m.applicant_contact

    def takes(self, message: Message) -> bool:
        return super().takes(message) and notification_event(message) in self.events

    def deliver(self, message: Message) -> Outcome:
        event = notification_event(message)
        if event is None or message.case_id is None:
            raise MessageRejected("this message calls for no applicant notification")
        if self.contacts is None:
            # Retried, not dead: the deployment forgot to bind the engine; fixing it delivers.
            return Outcome("retry", "adapter not bound to the engine (call adapter.bind(m))")
        contact = self.contacts(message.case_id)
        recipient = str(contact.get(self.contact_key) or "").strip()
        if not recipient:
            return Outcome("delivered", f"nothing sent: the case has no {self.contact_key}")
        return self.send(event, message, contact, recipient)

    def send(self, event: str, message: Message, contact: Mapping[str, str], recipient: str) -> Outcome:
        raise NotImplementedError


def _events(reader: Reader) -> list[str]:
    return reader.string_list("events", list(EVENTS), allowed=EVENTS)


@register
class EmailAdapter(_Notifier):
    """Mail through one SMTP relay (the province's mail server)."""

    name = "email"
    contact_key = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str,
        password: str,
        starttls: bool,
        **kwargs: Any,
    ):
        super().__init__(url=f"smtp://{host}:{port}", secret="", **kwargs)
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls = username, password, starttls

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], path: str, problems: list[str]) -> list[Any]:
        reader = NotifyReader(raw, path, problems)
        username = reader.text("username", required=False)
        password = reader.text("password", required=False)
        if bool(username) != bool(password):
            problems.append(f"{path}.password: username and password go together")
        adapter = cls(
            instance="email",
            host=reader.text("host"),
            port=int(reader.number("port", 587, minimum=1, maximum=65535)),
            sender=reader.address("from"),
            username=username,
            password=password,
            starttls=reader.flag("starttls", True),
            timeout=reader.number("timeout", 10, minimum=0.05, maximum=120),
            events=_events(reader),
        )
        reader.no_other_keys()
        return [adapter]

    def send(self, event: str, message: Message, contact: Mapping[str, str], recipient: str) -> Outcome:
        to = _address(recipient, _one_line(contact.get("name", "")))
        if to is None:
            # An address typed wrongly at the desk will never work; retrying cannot help, and a
            # dead letter would hold back the case's portal messages.
            return Outcome("delivered", "nothing sent: the case's e-mail address is not valid")
        mail = self.compose(event, message, contact, to)
        return self._transmit(mail)

    def compose(self, event: str, message: Message, contact: Mapping[str, str], to: Address) -> EmailMessage:
        subject, body = render(event, message, contact, sms=False)
        mail = EmailMessage(policy=MAIL_POLICY)
        mail["From"] = self.sender
        mail["To"] = to
        mail["Subject"] = subject
        mail["Date"] = format_datetime(message.created_at)
        # Derived from the outbox key: a retry after a lost answer carries the same Message-ID,
        # so mail clients show the duplicate once.
        digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
        mail["Message-ID"] = f"<{digest}@{self.sender.rpartition('@')[2]}>"
        # Quoted-printable keeps the body 7-bit, so no relay needs 8BITMIME.
        mail.set_content(body, charset="utf-8", cte="quoted-printable")
        return mail

    def _transmit(self, mail: EmailMessage) -> Outcome:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as err:
            code, reply = next(iter(err.recipients.values()))
            return _smtp_outcome(code, reply)
        except smtplib.SMTPResponseException as err:
            return _smtp_outcome(err.smtp_code, err.smtp_error)
        except smtplib.SMTPNotSupportedError as err:
            # The server lacks STARTTLS or AUTH: a configuration problem, not a passing one.
            return Outcome("dead", f"SMTP: {err}")
        except (smtplib.SMTPException, OSError) as err:
            # Refused, reset, timed out, disconnected: the relay may be back soon.
            return Outcome("retry", f"{type(err).__name__}: {err}" if str(err) else type(err).__name__)
        return Outcome("delivered", "accepted by the SMTP server", code=250)


def _smtp_outcome(code: int, reply: bytes | str) -> Outcome:
    """SMTP replies: 4xx is transient (mailbox busy, greylisting), 5xx is permanent."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    reason = f"SMTP {code} {text}".strip()
    if 500 <= code < 600:
        return Outcome("dead", reason, code=code)
    return Outcome("retry", reason, code=code if code > 0 else None)


@register
class SmsAdapter(_Notifier):
    """SMS through an HTTP gateway: a signed JSON POST whose body is a configurable template
    (string values may use $to, $text, $code, $event, $key)."""

    name = "sms"
    contact_key = "phone"

    def __init__(self, *, body: Mapping[str, Any], **kwargs: Any):
        super().__init__(**kwargs)
        self.body = body

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], path: str, problems: list[str]) -> list[Any]:
        reader = NotifyReader(raw, path, problems)
        body = reader._get("body", DEFAULT_SMS_BODY)
        _check_body(body, f"{path}.body", problems)
        adapter = cls(
            instance="sms",
            url=reader.url(),
            secret=reader.secret(),
            timeout=reader.number("timeout", 10, minimum=0.05, maximum=120),
            events=_events(reader),
            body=body if isinstance(body, Mapping) else DEFAULT_SMS_BODY,
        )
        reader.no_other_keys()
        return [adapter]

    def send(self, event: str, message: Message, contact: Mapping[str, str], recipient: str) -> Outcome:
        from .delivery import send  # the worker's HTTP exchange (imported late: it imports us)

        _, text = render(event, message, contact, sms=True)
        values = {
            "to": recipient,
            "text": text,
            "code": str(message.payload.get("code", "")),
            "event": event,
            "key": message.idempotency_key,
        }
        request = self.json_request(message, _fill(self.body, values))
        try:
            status, answer = send(request, self.timeout)
        except OSError as err:
            return Outcome("retry", f"{type(err).__name__}: {err}" if str(err) else type(err).__name__)
        except Exception as err:  # http.client.HTTPException and kin: a broken answer
            return Outcome("retry", f"{type(err).__name__}: {err}")
        outcome = self.read_response(status, answer)
        return Outcome(outcome.result, outcome.reason or f"HTTP {status}", code=status)


def _check_body(body: Any, path: str, problems: list[str]) -> None:
    if not isinstance(body, Mapping) or not body:
        problems.append(f"{path}: must be a non-empty JSON object")
        return
    used: set[str] = set()
    for key, value in _strings(body, path):
        template = string.Template(value)
        if not template.is_valid():
            problems.append(f"{key}: is not a valid template (write $$ for a dollar sign)")
            continue
        for name in template.get_identifiers():
            if name not in SMS_PLACEHOLDERS:
                problems.append(
                    f"{key}: unknown placeholder ${name} (known: {', '.join(sorted(SMS_PLACEHOLDERS))})"
                )
            used.add(name)
    for needed in ("to", "text"):
        if needed not in used:
            problems.append(f"{path}: must use ${needed} somewhere")


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, Mapping):
        return [item for k, v in value.items() for item in _strings(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in _strings(v, f"{path}[{i}]")]
    return []


def _fill(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return string.Template(value).substitute(values)
    if isinstance(value, Mapping):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value
