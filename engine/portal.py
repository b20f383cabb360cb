"""What the public may see and do without an account: the procedure catalogue, online filing,
looking a case up with its code and PIN, supplementing, withdrawing, rating, feedback and the
published answers. Used by the portal pages and by the API, so both apply the same rules.

The applicant proves who they are with the dossier code and the PIN issued at filing (argon2
hash, lockout after repeated failures: `engine.access`). What a citizen is shown is a
whitelist: statuses, appointments, and the texts the law says are for the applicant (missing
items and reasons of Form 02/03, the extension reason of Form 04); never internal notes, staff
names, the applicant's own personal data or ID number."""

from __future__ import annotations

import ast
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from .access import check_case_pin
from .actors import APPLICANT, Actor
from .catalogue import agency_by_code
from .catalogue import procedures_in_force as catalogue_in_force
from .errors import FormInvalid, InvalidAction, NotFound
from .models import (
    Agency,
    Case,
    CaseEvent,
    FeedbackPublication,
    Procedure,
    ProcessDefinition,
    SatisfactionRating,
    Upload,
)
from .motcua import Motcua
from .runtime import waiting_definitions
from .statuses import get_status
from .uploads import IncomingFile, attach_uploads, discard_uploads, save_all
from .xml_safety import parse_xml

ONLINE_LEVELS = ("full", "partial")
CRITERIA_PATH = Path(__file__).resolve().parent / "data" / "satisfaction_criteria.json"
REQUIRED = "this field is required"
# Field limits: generous for real names and addresses, small enough to keep abuse cheap.
MAX_TEXT = 255
MAX_CONTENT = 5000
MAX_COMMENT = 2000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 .\-]{7,18}[0-9]$")


# -- the catalogue ------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case without diacritics: citizens often type "dang ky ho kinh doanh" for
    "Đăng ký hộ kinh doanh", and SQLite's LIKE folds ASCII only."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()


def procedures_in_force(m: Motcua, on: date | None = None) -> list[Procedure]:
    """The version in force of every procedure (the catalogue a citizen sees), today by default."""
    day = on or m.clock.now().astimezone(m.calendar.tz).date()
    with m._transaction() as session:
        return catalogue_in_force(session, day)


def catalogue(m: Motcua, name: str = "", field_: str = "", agency_code: str = "") -> list[Procedure]:
    """Procedures in force matching a name (or code) fragment, a field and an agency. A procedure
    is filed at the agencies of its resolving level, so the agency filter keeps that level."""
    level = None
    if agency_code:
        with m._transaction() as session:
            level = agency_by_code(session, agency_code).level
    # Every word must appear, in any order: "dang ky ho kinh doanh" finds
    # "Đăng ký thành lập hộ kinh doanh".
    words = fold(name).split()
    found = []
    for procedure in procedures_in_force(m):
        folded = fold(procedure.name)
        if words and not all(w in folded for w in words) and name.strip() not in procedure.code:
            continue
        if field_ and procedure.field != field_:
            continue
        if level and procedure.resolving_level != level:
            continue
        found.append(procedure)
    return sorted(found, key=lambda p: (p.field, p.name))


def catalogue_fields(m: Motcua) -> list[str]:
    return sorted({p.field for p in procedures_in_force(m)})


def desk_agencies(m: Motcua, levels: Iterable[str] | None = None) -> list[Agency]:
    """Agencies with a one-stop desk (where the public files and sends feedback)."""
    with m._transaction() as session:
        query = select(Agency).where(Agency.desk_name.is_not(None)).order_by(Agency.level, Agency.name)
        if levels is not None:
            query = query.where(Agency.level.in_(list(levels)))
        return list(session.scalars(query))


def public_procedure(m: Motcua, code: str) -> Procedure:
    for procedure in procedures_in_force(m):
        if procedure.code == code:
            return procedure
    raise NotFound(f"procedure {code!r} is not in force")


def filing_agencies(m: Motcua, procedure: Procedure) -> list[Agency]:
    """Where a procedure is filed: the desks at its resolving level."""
    return desk_agencies(m, [procedure.resolving_level])


# -- online filing ------------------------------------------------------------------------------


def check_applicant(applicant: Mapping[str, Any], id_number: str) -> dict[str, str]:
    """The applicant block of Form 01, cleaned; FormInvalid names every field that is wrong."""
    clean, errors = _check_contact(applicant)
    number = (id_number or "").strip()
    if not number:
        errors.setdefault("id_number", []).append(REQUIRED)
    elif not (number.isdigit() and len(number) in (9, 12)):
        errors["id_number"] = ["must be 12 digits (CCCD) or 9 digits (old ID card)"]
    if errors:
        raise FormInvalid(errors)
    return clean


def _check_contact(values: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Name, address and phone (required) and e-mail of an applicant or a feedback sender."""
    errors: dict[str, list[str]] = {}
    clean = {k: str(values.get(k) or "").strip() for k in ("name", "address", "phone", "email")}
    for key in ("name", "address", "phone"):
        if not clean[key]:
            errors.setdefault(key, []).append(REQUIRED)
    for key, value in clean.items():
        if len(value) > MAX_TEXT:
            errors.setdefault(key, []).append(f"at most {MAX_TEXT} characters")
    if clean["phone"] and not _PHONE.match(clean["phone"]):
        errors.setdefault("phone", []).append("not a phone number")
    if clean["email"] and not _EMAIL.match(clean["email"]):
        errors.setdefault("email", []).append("not an e-mail address")
    return {k: v for k, v in clean.items() if v}, errors


def file_online(
    m: Motcua,
    procedure_code: str,
    agency_code: str,
    applicant: Mapping[str, Any],
    id_number: str,
    components: Iterable[Mapping[str, Any]],
    uploads: Sequence[IncomingFile],
) -> tuple[str, str]:
    """File a dossier through the portal; returns (dossier code, PIN). The PIN is shown once and
    only its hash is kept; the ID number is stored encrypted, never in the case data.

    Everything is checked before the case exists, so a refused file or a missing field leaves
    no half-filed dossier behind."""
    procedure = public_procedure(m, procedure_code)
    if procedure.online_level not in ONLINE_LEVELS:
        raise InvalidAction(f"procedure {procedure_code} is not offered online; file it at the one-stop desk")
    agency = next((a for a in filing_agencies(m, procedure) if a.code == agency_code), None)
    if agency is None:
        raise FormInvalid({"agency": [f"procedure {procedure_code} is not filed at agency {agency_code!r}"]})
    clean = check_applicant(applicant, id_number)
    known = {str(c.get("name")) for c in procedure.components}
    errors: dict[str, list[str]] = {}
    for item in uploads:
        if item.component is not None and item.component not in known:
            errors.setdefault("uploads", []).append(
                f"{item.component!r} is not a component of this procedure"
            )
    if not uploads:
        errors.setdefault("uploads", []).append("attach at least one component file")
    if errors:
        raise FormInvalid(errors)
    given = {str(c.get("name")): c for c in components}
    with_files = {u.component for u in uploads if u.component}
    received = []
    for component in procedure.components:
        name = str(component.get("name"))
        if name in given or name in with_files:
            received.append(
                {
                    "name": name,
                    "copies": int(given.get(name, component).get("copies", 1)),
                    # Filed online the component arrives as an electronic document: it counts as
                    # digitised for the national indicator, with nothing to scan at the desk.
                    "digitised": name in with_files,
                    "reused": bool(given.get(name, {}).get("reused", False)),
                }
            )
    saved = save_all(m, None, "component", uploads)
    try:
        # The applicant may file at this desk only: the engine checks the actor's agencies.
        actor = Actor("applicant", agency_ids=frozenset({agency.id}))
        result = m.receive_dossier(
            procedure.code,
            agency.code,
            applicant=clean,
            actor=actor,
            channel="online",
            components=received,
            id_number=id_number.strip(),
            issue_pin=True,
        )
    except BaseException:
        discard_uploads(m, [u.id for u in saved])
        raise
    attach_uploads(m, [u.id for u in saved], result.case_id)
    return result.case_code, result.pin


# -- looking a case up --------------------------------------------------------------------------


class _Verified:
    """Marks a call whose caller already checked the PIN (the portal keeps `{code: verified}` in
    its signed session after a successful lookup, so follow-up forms do not resend the PIN)."""

    def __repr__(self) -> str:
        return "VERIFIED"


VERIFIED = _Verified()
Pin = str | _Verified


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # submitted | status | appointment | message
    status: str | None = None
    label_vi: str = ""
    label_en: str = ""
    appointment_at: datetime | None = None
    previous: datetime | None = None
    # For appointments: "scheduled", "clock paused" or "extension" (then `reason` is Form 04's).
    change: str = ""
    reason: str = ""
    items: tuple[str, ...] = ()
    message: str = ""  # supplement_received | withdrawal_requested | satisfaction_rated


@dataclass(frozen=True)
class PublicCase:
    code: str
    kind: str
    procedure_code: str | None
    procedure_name: str | None
    agency_name: str
    status: str
    status_vi: str
    status_en: str
    submitted_at: datetime
    received_at: datetime | None
    appointment_at: datetime | None
    finished_at: datetime | None
    returned_at: datetime | None
    extended: bool
    timeline: tuple[TimelineEntry, ...]
    can_supplement: bool
    can_withdraw: bool
    can_rate: bool
    rated: bool
    # What the open supplement request asks for (Form 02), when one is open.
    supplement_items: tuple[str, ...] = ()
    supplement_reason: str = ""


def _authorise(m: Motcua, code: str, pin: Pin) -> int:
    if isinstance(pin, _Verified):
        with m._transaction() as session:
            case_id = session.scalars(select(Case.id).where(Case.code == code)).first()
        if case_id is None:
            raise NotFound(f"case {code!r} does not exist")
        return case_id
    return check_case_pin(m, code, pin)


def awaited_messages(m: Motcua, session: Session, case: Case) -> set[str]:
    """Names of the messages the case waits for now, found the way `runtime.deliver` finds them."""
    if case.completed:
        return set()
    compiled = m.compiled_for(session, case)
    workflow = m.serializer.load(case.state, compiled.spec, compiled.subprocess_specs, None)
    return {
        definition.name
        for _, definition in waiting_definitions(workflow)
        if isinstance(definition, MessageEventDefinition)
    }


# Events the public timeline is built from (task completions only to quote Form 02/03 texts).
_TIMELINE_SOURCES = (
    "case_started",
    "status_changed",
    "appointment_changed",
    "task_completed",
    "message_received",
)


def public_case(m: Motcua, code: str, pin: Pin) -> PublicCase:
    """The applicant's view of their case; the same PermissionDenied for an unknown code and a
    wrong PIN (from `check_case_pin`), so codes cannot be probed."""
    case_id = _authorise(m, code, pin)
    with m._transaction() as session:
        case = session.get(Case, case_id)
        assert case is not None
        events = session.scalars(
            select(CaseEvent)
            .where(
                CaseEvent.case_id == case_id,
                CaseEvent.type.in_(
                    (
                        "case_started",
                        "status_changed",
                        "appointment_changed",
                        "task_completed",
                        "message_received",
                    )
                ),
            )
            .order_by(CaseEvent.seq)
        ).all()
        agency = session.get(Agency, case.receiving_agency_id)
        awaited = awaited_messages(m, session, case)
        rated = session.get(SatisfactionRating, case.id) is not None
        procedure = case.procedure
        timeline, open_request = _timeline(case.kind, events)
        status = get_status(case.kind, case.status)
        can_supplement = "supplement_received" in awaited
        return PublicCase(
            code=case.code,
            kind=case.kind,
            procedure_code=procedure.code if procedure else None,
            procedure_name=procedure.name if procedure else None,
            agency_name=(agency.desk_name or agency.name) if agency else "",
            status=case.status,
            status_vi=status.vi,
            status_en=status.en,
            submitted_at=case.submitted_at,
            received_at=case.received_at,
            appointment_at=case.appointment_at,
            finished_at=case.finished_at,
            returned_at=case.returned_at,
            extended=case.extension_count > 0,
            timeline=tuple(timeline),
            can_supplement=can_supplement,
            can_withdraw="withdrawal_requested" in awaited,
            can_rate="satisfaction_rated" in awaited and not rated,
            rated=rated,
            supplement_items=open_request[0] if can_supplement else (),
            supplement_reason=open_request[1] if can_supplement else "",
        )


# Which texts of the staff's forms are addressed to the applicant, per status reached. Anything
# not named here (opinions, notes, references, delivery details) stays internal.
def _public_reason(kind: str, status: str, data: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    if kind == "dossier" and status == "supplement_requested":
        if data.get("appraisal_outcome") == "supplement":
            return _strings(data.get("supplement_items")), str(data.get("appraisal_reasons") or "")
        if data.get("reception_decision") == "supplement":
            return _strings(data.get("missing_items")), str(data.get("reception_reasons") or "")
    if kind == "dossier" and status == "not_received" and data.get("reception_decision") == "refuse":
        return (), str(data.get("reception_reasons") or "")
    if kind == "dossier" and status == "stopped" and data.get("appraisal_outcome") == "refuse":
        return (), str(data.get("appraisal_reasons") or "")
    if kind == "feedback" and status == "rejected":
        return (), str(data.get("reply_content") or "")
    if kind == "feedback" and status == "transferred":
        return (), str(data.get("transfer_to") or "")
    return (), ""


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _timeline(
    kind: str, events: Sequence[CaseEvent]
) -> tuple[list[TimelineEntry], tuple[tuple[str, ...], str]]:
    entries: list[TimelineEntry] = []
    # The staff's form data as it stands at each point (the latest value of every field), so a
    # status change can quote the texts that caused it.
    data: dict[str, Any] = {}
    open_request: tuple[tuple[str, ...], str] = ((), "")
    for event in events:
        if event.type == "task_completed":
            data.update(event.data.get("after") or {})
        elif event.type == "case_started":
            entries.append(TimelineEntry(at=event.at, kind="submitted"))
        elif event.type == "status_changed":
            to = str(event.data.get("to"))
            status = get_status(kind, to)
            items, reason = _public_reason(kind, to, data)
            if to == "supplement_requested":
                open_request = (items, reason)
            entries.append(
                TimelineEntry(
                    at=event.at,
                    kind="status",
                    status=to,
                    label_vi=status.vi,
                    label_en=status.en,
                    items=items,
                    reason=reason,
                )
            )
        elif event.type == "appointment_changed":
            extension = bool(event.data.get("extension"))
            raw = str(event.data.get("reason") or "")
            entries.append(
                TimelineEntry(
                    at=event.at,
                    kind="appointment",
                    appointment_at=_instant(event.data.get("appointment_at")),
                    previous=_instant(event.data.get("previous")),
                    change="extension" if extension else raw,
                    # Form 04's reason is addressed to the applicant; the other reasons are codes.
                    reason=raw if extension else "",
                )
            )
        elif event.type == "message_received":
            # Only that it happened: the payload may hold the applicant's own words or files.
            entries.append(TimelineEntry(at=event.at, kind="message", message=str(event.data.get("name"))))
    return entries, open_request


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None


# -- what the applicant may do ------------------------------------------------------------------


def _require_awaited(m: Motcua, case_id: int, message: str, what: str) -> Case:
    with m._transaction() as session:
        case = session.get(Case, case_id)
        assert case is not None
        if message not in awaited_messages(m, session, case):
            raise InvalidAction(f"{what} is not possible for dossier {case.code} now")
        return case


def submit_supplement(m: Motcua, code: str, pin: Pin, files: Sequence[IncomingFile], note: str = "") -> None:
    """The applicant sends what the supplement request (Form 02) asked for."""
    case_id = _authorise(m, code, pin)
    _require_awaited(m, case_id, "supplement_received", "a supplement")
    if not files:
        raise FormInvalid({"files": ["attach at least one file"]})
    if len(note) > MAX_COMMENT:
        raise FormInvalid({"note": [f"at most {MAX_COMMENT} characters"]})
    saved = save_all(m, case_id, "supplement", files)
    payload = {
        "channel": "online",
        "items": [u.label for u in saved],
        "upload_ids": [u.id for u in saved],
        "note": note.strip(),
    }
    try:
        m.deliver_message(code, "supplement_received", payload, APPLICANT)
    except BaseException:
        _forget_uploads(m, [u.id for u in saved])
        raise


def _forget_uploads(m: Motcua, ids: list[int]) -> None:
    """Unlink from the case, then discard: files of a supplement that never arrived."""
    with m._transaction() as session:
        session.execute(update(Upload).where(Upload.id.in_(ids)).values(case_id=None))
    discard_uploads(m, ids)


def request_withdrawal(m: Motcua, code: str, pin: Pin, reason: str) -> None:
    """Stop at the applicant's request (Form 05); possible until a result exists."""
    reason = (reason or "").strip()
    case_id = _authorise(m, code, pin)
    if not reason:
        raise FormInvalid({"reason": [REQUIRED]})
    if len(reason) > MAX_COMMENT:
        raise FormInvalid({"reason": [f"at most {MAX_COMMENT} characters"]})
    _require_awaited(m, case_id, "withdrawal_requested", "a withdrawal")
    m.deliver_message(code, "withdrawal_requested", {"reason": reason, "channel": "online"}, APPLICANT)


@dataclass(frozen=True)
class Criterion:
    key: str
    vi: str
    en: str


@dataclass(frozen=True)
class SatisfactionForm:
    levels: dict[str, dict[str, str]]
    criteria: tuple[Criterion, ...]
    max_points: int


@cache
def satisfaction_form(path: Path = CRITERIA_PATH) -> SatisfactionForm:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return SatisfactionForm(
        levels=raw["levels"],
        criteria=tuple(Criterion(c["key"], c["vi"], c["en"]) for c in raw["criteria"]),
        max_points=int(raw["max_points"]),
    )


def rate(
    m: Motcua, code: str, pin: Pin, level: str, criteria: Mapping[str, int], comment: str = ""
) -> SatisfactionRating:
    """The applicant's evaluation of a returned dossier: a level and the nine criteria."""
    case_id = _authorise(m, code, pin)
    form = satisfaction_form()
    errors: dict[str, list[str]] = {}
    if level not in form.levels:
        errors["level"] = [f"must be one of {', '.join(form.levels)}"]
    scores: dict[str, int] = {}
    for criterion in form.criteria:
        value = criteria.get(criterion.key)
        try:
            points = int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            errors[f"criteria.{criterion.key}"] = [REQUIRED]
            continue
        if not 0 <= points <= form.max_points:
            errors[f"criteria.{criterion.key}"] = [f"must be between 0 and {form.max_points}"]
        scores[criterion.key] = points
    unknown = set(criteria) - {c.key for c in form.criteria}
    if unknown:
        errors["criteria"] = [f"unknown criteria: {', '.join(sorted(unknown))}"]
    if len(comment or "") > MAX_COMMENT:
        errors["comment"] = [f"at most {MAX_COMMENT} characters"]
    if errors:
        raise FormInvalid(errors)
    _require_awaited(m, case_id, "satisfaction_rated", "a rating")
    with m._transaction() as session:
        if session.get(SatisfactionRating, case_id) is not None:
            raise InvalidAction(f"dossier {code} has already been rated")
        rating = SatisfactionRating(
            case_id=case_id,
            level=level,
            criteria=scores,
            comment=(comment or "").strip(),
            created_at=m.clock.now(),
        )
        session.add(rating)
    payload = {"level": level, "criteria": scores, "points": sum(scores.values())}
    try:
        m.deliver_message(code, "satisfaction_rated", payload, APPLICANT)
    except BaseException:
        # The rating window closed in between (timer): the rating must not count.
        with m._transaction() as session:
            session.execute(delete(SatisfactionRating).where(SatisfactionRating.case_id == case_id))
        raise
    return rating


# -- feedback (phản ánh, kiến nghị) -------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackCategory:
    key: str
    label_vi: str


def feedback_categories(m: Motcua) -> list[FeedbackCategory]:
    """The categories the deployed classification table accepts. Categories the table does not
    accept (not about regulations) are not offered: the portal takes feedback on regulations."""
    with m._transaction() as session:
        definition = m.latest_definition(session, "feedback")
        row = session.get(ProcessDefinition, definition.id)
        assert row is not None
        dmn = dict(row.dmn_files)
        titles = _enum_titles(row.forms, "category")
    for name, xml in sorted(dmn.items()):
        keys = _accepted_categories(xml, name)
        if keys:
            return [FeedbackCategory(k, titles.get(k, k)) for k in keys]
    raise NotFound("the deployed feedback process has no classification table")


def _enum_titles(forms: Mapping[str, Any], prop: str) -> dict[str, str]:
    for schema in forms.values():
        spec = (schema or {}).get("properties", {}).get(prop) if isinstance(schema, dict) else None
        if spec and "enum" in spec:
            return dict(zip(spec["enum"], spec.get("x-enumTitles", spec["enum"]), strict=False))
    return {}


@cache
def _accepted_categories(xml: str, filename: str) -> tuple[str, ...]:
    root, _ = parse_xml(xml.encode("utf-8"), filename, 2 * 1024 * 1024)
    if root is None:
        return ()
    ns = {"dmn": root.nsmap.get(None, "")}
    decision = root.find(".//dmn:decision[@id='feedback_classification']", ns)
    if decision is None:
        return ()
    outputs = [o.get("name") for o in decision.iterfind(".//dmn:output", ns)]
    accepted_at = outputs.index("accepted") if "accepted" in outputs else None
    keys: list[str] = []
    for rule in decision.iterfind(".//dmn:rule", ns):
        entry = rule.findtext("dmn:inputEntry/dmn:text", default="", namespaces=ns).strip()
        if entry in ("", "-"):
            continue  # the catch-all rule is not a category
        try:
            key = ast.literal_eval(entry)
        except (ValueError, SyntaxError):
            continue
        if accepted_at is not None:
            cells = [t.strip() for t in rule.xpath("dmn:outputEntry/dmn:text/text()", namespaces=ns)]
            if accepted_at < len(cells) and cells[accepted_at] != "True":
                continue
        if isinstance(key, str):
            keys.append(key)
    return tuple(keys)


def feedback_agencies(m: Motcua) -> list[Agency]:
    """Feedback goes to the province or to a commune (two-level local government since 2025)."""
    return desk_agencies(m, ["province", "commune"])


def check_sender(sender: Mapping[str, Any]) -> dict[str, str]:
    """Decree 20/2008: a feedback carries the sender's name, address and phone."""
    clean, errors = _check_contact(sender)
    if errors:
        raise FormInvalid(errors)
    return clean


def send_feedback(
    m: Motcua,
    agency_code: str,
    sender: Mapping[str, Any],
    category: str,
    content: str,
    attachments: Sequence[IncomingFile] = (),
) -> tuple[str, str]:
    """A citizen's feedback from the portal; returns (feedback code, PIN to follow it up)."""
    errors: dict[str, list[str]] = {}
    try:
        clean = check_sender(sender)
    except FormInvalid as err:
        errors.update(err.errors)
        clean = {}
    if category not in {c.key for c in feedback_categories(m)}:
        errors["category"] = [REQUIRED if not category else "not a feedback category"]
    content = (content or "").strip()
    if not content:
        errors["content"] = [REQUIRED]
    elif len(content) > MAX_CONTENT:
        errors["content"] = [f"at most {MAX_CONTENT} characters"]
    agency = next((a for a in feedback_agencies(m) if a.code == agency_code), None)
    if agency is None:
        errors["agency"] = [REQUIRED if not agency_code else "not an agency that takes feedback"]
    if errors:
        raise FormInvalid(errors)
    assert agency is not None
    saved = save_all(m, None, "feedback", attachments)
    try:
        result = m.submit_feedback(
            agency.code,
            sender=clean,
            category=category,
            content=content,
            actor=Actor("applicant", agency_ids=frozenset({agency.id})),
            issue_pin=True,
        )
    except BaseException:
        discard_uploads(m, [u.id for u in saved])
        raise
    attach_uploads(m, [u.id for u in saved], result.case_id)
    return result.case_code, result.pin


@dataclass(frozen=True)
class PublishedAnswer:
    case_id: int
    code: str
    agency_name: str
    question: str
    answer: str
    published_at: datetime
    likes: int
    dislikes: int


@dataclass(frozen=True)
class AnswersPage:
    items: list[PublishedAnswer]
    page: int
    pages: int
    total: int
    page_size: int = 20


def publish_feedback_list(m: Motcua, page: int = 1, page_size: int = 20) -> AnswersPage:
    """Published answers, newest first (Decree 20/2008: results are made public)."""
    page = max(1, page)
    with m._transaction() as session:
        total = session.scalar(select(func.count()).select_from(FeedbackPublication)) or 0
        rows = session.execute(
            select(FeedbackPublication, Case.code, Agency)
            .join(Case, Case.id == FeedbackPublication.case_id)
            .join(Agency, Agency.id == Case.resolving_agency_id)
            .order_by(FeedbackPublication.published_at.desc(), FeedbackPublication.case_id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        ).all()
        items = [_answer(p, code, agency) for p, code, agency in rows]
    pages = max(1, -(-total // page_size))
    return AnswersPage(items, page, pages, total, page_size)


def _answer(publication: FeedbackPublication, code: str, agency: Agency) -> PublishedAnswer:
    return PublishedAnswer(
        case_id=publication.case_id,
        code=code,
        agency_name=agency.name,
        question=publication.question,
        answer=publication.answer,
        published_at=publication.published_at,
        likes=publication.likes,
        dislikes=publication.dislikes,
    )


def react(m: Motcua, case_id: int, like: bool) -> PublishedAnswer:
    """A citizen likes or dislikes a published answer (an increment in the database, so
    concurrent reactions are not lost)."""
    column = FeedbackPublication.likes if like else FeedbackPublication.dislikes
    with m._transaction() as session:
        updated = session.execute(
            update(FeedbackPublication)
            .where(FeedbackPublication.case_id == case_id)
            .values({column: column + 1})
        ).rowcount
        if not updated:
            raise NotFound(f"published answer {case_id} does not exist")
        publication, code, agency = session.execute(
            select(FeedbackPublication, Case.code, Agency)
            .join(Case, Case.id == FeedbackPublication.case_id)
            .join(Agency, Agency.id == Case.resolving_agency_id)
            .where(FeedbackPublication.case_id == case_id)
        ).one()
        return _answer(publication, code, agency)
