"""What the printable forms of Circular 03/2025 (Annex I) show, computed from the case file and
the case data: Form 01 receipt and appointment, Form 02 supplement request, Form 03 refusal,
Form 04 apology and extension, Form 05 stop notice and Form 06 process-control slip (Form 07,
the register, is a list of dossiers: `register.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import segno
from flask import current_app, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from engine.calendar import VN_TZ
from engine.caseview import CaseFile
from engine.models import Agency, CaseEvent, Procedure
from engine.personal_data import mask


@dataclass(frozen=True)
class LocalTime:
    """An instant split as the forms print it: "... giờ ... phút, ngày ... tháng ... năm ..."."""

    hour: str
    minute: str
    day: str
    month: str
    year: str

    @property
    def date(self) -> str:
        return f"{self.day}/{self.month}/{self.year}"


def local_parts(instant: datetime | None) -> LocalTime | None:
    if instant is None:
        return None
    local = instant.astimezone(VN_TZ)
    return LocalTime(f"{local:%H}", f"{local:%M}", f"{local:%d}", f"{local:%m}", f"{local:%Y}")


def place_name(agency: Agency) -> str:
    """Where a form is signed: "xã An Bình" for "Ủy ban nhân dân xã An Bình"."""
    for prefix in ("Ủy ban nhân dân ", "UBND "):
        if agency.name.startswith(prefix):
            return agency.name[len(prefix) :]
    return agency.name


def desk_name(agency: Agency) -> str:
    return agency.desk_name or agency.name


def receipt_number(code: str) -> str:
    """The register number of the receipt: the daily sequence ending the dossier code."""
    return code.rsplit("-", 1)[-1]


def processing_time(procedure: Procedure | None) -> str:
    if procedure is None:
        return ""
    amount = procedure.time_limit
    number = f"{amount:g}".replace(".", ",")
    if procedure.time_unit == "same_day":
        return _("Within the working day")
    if procedure.time_unit == "working_hours":
        return _("%(n)s working hours", n=number)
    if procedure.time_unit == "calendar_days":
        return _("%(n)s days", n=number)
    return _("%(n)s working days", n=number)


def lookup_url(code: str) -> str:
    """The public address where the applicant follows the dossier (printed as a QR code)."""
    if "public.lookup" in current_app.view_functions:
        return url_for("public.lookup", code=code, _external=True)
    # The portal's lookup page may not be registered (yet); its address is fixed by convention.
    return f"{request.url_root.rstrip('/')}/lookup?code={quote(code, safe='')}"


def qr_svg(text: str) -> Markup:
    # Inline SVG: prints sharply at any size and needs no image route or file. segno writes the
    # markup itself and escapes the title text, so it is safe to insert as is.
    svg = segno.make(text, error="m").svg_inline(scale=3, title=text)
    return Markup(svg)


@dataclass(frozen=True)
class Applicant:
    name: str
    masked_id: str
    address: str
    phone: str
    email: str
    authorised_person: str


def applicant_of(data: dict[str, Any], last4: str | None, fallback_name: str) -> Applicant:
    raw = data.get("applicant") or data.get("sender") or {}
    if not isinstance(raw, dict):
        raw = {}
    return Applicant(
        name=str(raw.get("name") or fallback_name),
        masked_id=mask(None, last4),
        address=str(raw.get("address", "")),
        phone=str(raw.get("phone", "")),
        email=str(raw.get("email", "")),
        authorised_person=str(raw.get("authorised_person", "")),
    )


@dataclass(frozen=True)
class Request:
    """A supplement request or a refusal as decided in a task: what, why, when and by whom."""

    stage: str  # reception | appraisal
    items: list[str] = field(default_factory=list)
    reasons: str = ""
    at: datetime | None = None
    by: str | None = None


def supplement_request(data: dict[str, Any], events: list[CaseEvent]) -> Request | None:
    """Form 02 content. One supplement request per dossier, at reception or after appraisal;
    the items stay in the case data after the supplement has arrived, so the form can be
    reprinted later."""
    if data.get("supplement_items"):
        at, by = _decided(events, "appraisal_outcome", "supplement")
        reasons = str(data.get("appraisal_reasons", ""))
        return Request("appraisal", _strings(data["supplement_items"]), reasons, at, by)
    if data.get("missing_items"):
        at, by = _decided(events, "reception_decision", "supplement")
        reasons = str(data.get("reception_reasons", ""))
        return Request("reception", _strings(data["missing_items"]), reasons, at, by)
    return None


def refusal(data: dict[str, Any], events: list[CaseEvent], status: str) -> Request | None:
    """Form 03 content: a refusal at reception, or a refusal after appraisal once the leader has
    approved it (the dossier is then stopped)."""
    if data.get("reception_decision") == "refuse":
        at, by = _decided(events, "reception_decision", "refuse")
        return Request("reception", [], str(data.get("reception_reasons", "")), at, by)
    if data.get("appraisal_outcome") == "refuse" and status == "stopped":
        at, by = _decided(events, "appraisal_outcome", "refuse")
        return Request("appraisal", [], str(data.get("appraisal_reasons", "")), at, by)
    return None


def _decided(events: list[CaseEvent], key: str, value: str) -> tuple[datetime | None, str | None]:
    """When and by whom the last task completion with `key == value` was made."""
    for event in reversed(events):
        after = (event.data or {}).get("after") or {}
        if event.type == "task_completed" and after.get(key) == value:
            return event.at, event.actor
    return None, None


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def components_of(file: CaseFile) -> list[dict[str, Any]]:
    return [c for c in (file.case.facts or {}).get("components", []) if isinstance(c, dict)]


# -- Form 04 apology and extension, Form 05 stop notice ----------------------------------------


@dataclass(frozen=True)
class Extension:
    """Form 04 content: the one re-appointment of a late dossier, as the engine recorded it."""

    original: datetime | None  # the appointment printed on the receipt (Form 01)
    previous: datetime | None  # the appointment just before the extension (moved by pauses)
    new: datetime | None
    reason: str
    at: datetime
    by: str | None  # the leader who completed the apology task


def extension(file: CaseFile) -> Extension | None:
    """The extension granted to the dossier, from its history; None when there was none.

    The engine writes `appointment_changed` with `extension: true` when the apology task's
    `reschedule()` ran; the law allows one, so the last such event is the one to print."""
    for index in range(len(file.events) - 1, -1, -1):
        event = file.events[index]
        data = event.data or {}
        if event.type != "appointment_changed" or not data.get("extension"):
            continue
        # The apology task completed in the same step, just before the appointment moved.
        by = next(
            (
                e.actor
                for e in reversed(file.events[:index])
                if e.type == "task_completed" and "extension_reason" in ((e.data or {}).get("after") or {})
            ),
            None,
        )
        return Extension(
            original=file.case.original_appointment_at,
            previous=_instant(data.get("previous")),
            new=_instant(data.get("appointment_at")),
            reason=str(data.get("reason") or ""),
            at=event.at,
            by=by,
        )
    return None


@dataclass(frozen=True)
class StopNotice:
    """Form 05 content: why processing of the dossier stopped, when, and who recorded it."""

    kind: str  # withdrawn (the applicant's request) | stopped (refused after appraisal)
    reasons: str
    at: datetime | None
    by: str | None
    channel: str = ""  # how a withdrawal arrived: "direct" at the desk, "online" from the portal


STOPPED_STATUSES = ("withdrawn", "stopped")


def stop_notice(data: dict[str, Any], file: CaseFile) -> StopNotice | None:
    status = file.case.status
    if status not in STOPPED_STATUSES:
        return None
    at = next(
        (
            e.at
            for e in reversed(file.events)
            if e.type == "status_changed" and (e.data or {}).get("to") == status
        ),
        None,
    )
    if status == "withdrawn":
        message = next(
            (
                e
                for e in reversed(file.events)
                if e.type == "message_received" and (e.data or {}).get("name") == "withdrawal_requested"
            ),
            None,
        )
        payload = ((message.data or {}).get("payload") or {}) if message is not None else {}
        if not isinstance(payload, dict):
            payload = {}
        recorded_by = payload.get("recorded_by")
        # A withdrawal recorded at the desk names the officer; one from the portal has no staff.
        return StopNotice(
            kind="withdrawn",
            reasons=str(payload.get("reason") or ""),
            at=at or (message.at if message is not None else None),
            by=str(recorded_by) if recorded_by else None,
            channel="direct" if recorded_by else str(payload.get("channel") or ""),
        )
    found = refusal(data, file.events, status)
    return StopNotice(
        kind="stopped",
        reasons=found.reasons if found else "",
        at=at or (found.at if found else None),
        by=found.by if found else None,
    )


def _instant(value: Any) -> datetime | None:
    """An instant as event data stores it (ISO text after the JSON round trip)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None
