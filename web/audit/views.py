"""Auditor pages: search cases, read a case's full history, verify its hash chain, export CSV.

Read-only: every route is a GET and calls only the read functions of `engine.audit`. Open to
staff with the role `auditor` or `admin` (others get 403); the cases shown are those of the
auditor's agency subtree, a case outside it is answered 404."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from flask import Response, abort, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from engine import audit
from engine.actors import Actor
from engine.calendar import VN_TZ
from engine.errors import FormInvalid

from ..auth import require_actor
from ..services import motcua
from . import bp

EVENT_LABELS = {
    "case_started": _l("Case started"),
    "task_created": _l("Task created"),
    "task_claimed": _l("Task claimed"),
    "task_released": _l("Task released"),
    "task_assigned": _l("Task assigned"),
    "task_completed": _l("Task completed"),
    "task_cancelled": _l("Task cancelled"),
    "timer_fired": _l("Timer fired"),
    "message_received": _l("Message received"),
    "status_changed": _l("Status changed"),
    "appointment_changed": _l("Appointment changed"),
    "clock_paused": _l("Clock paused"),
    "clock_resumed": _l("Clock resumed"),
    "case_finished": _l("Case finished"),
    "personal_data_viewed": _l("Personal data viewed"),
}
FILTER_LABELS = {
    "submitted_from": _l("Submitted from"),
    "submitted_to": _l("Submitted until"),
    "agency": _l("Agency"),
}
SEARCH_COLUMNS = (
    "code",
    "kind",
    "procedure_code",
    "procedure_version",
    "title",
    "status",
    "status_label",
    "channel",
    "receiving_agency",
    "resolving_agency",
    "applicant_name",
    "submitted_at",
    "received_at",
    "appointment_at",
    "original_appointment_at",
    "finished_at",
    "returned_at",
    "extension_count",
    "completed",
    "events",
)
HISTORY_COLUMNS = (
    "case",
    "seq",
    "at",
    "type",
    "actor",
    "actor_name",
    "task_id",
    "element_id",
    "task_name",
    "data",
    "prev_hash",
    "hash",
)


def _auditor() -> Actor:
    actor = require_actor()
    if not (actor.roles & audit.AUDIT_ROLES):
        abort(403, description=_("Only auditors and administrators may open the audit views."))
    return actor


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "vi"


def _filters() -> tuple[audit.AuditFilters, dict[str, list[str]]]:
    try:
        return audit.AuditFilters.parse(request.args), {}
    except FormInvalid as err:
        # Keep the valid filters; name the bad ones.
        clean = {k: v for k, v in request.args.items() if k not in err.errors}
        return audit.AuditFilters.parse(clean), err.errors


@bp.get("/")
@login_required
def search() -> Any:
    actor = _auditor()
    filters, errors = _filters()
    page = request.args.get("page", 1, type=int) or 1
    m = motcua()
    try:
        result = audit.search_cases(m, actor, filters, page)
    except FormInvalid as err:
        errors.update(err.errors)
        filters = replace(filters, agency="")
        result = audit.search_cases(m, actor, filters, page)
    return (
        render_template(
            "audit/search.html",
            filters=filters,
            result=result,
            errors=errors,
            labels=FILTER_LABELS,
            agencies=audit.readable_agencies(m, actor),
            statuses=audit.status_choices(),
            lang=_lang(),
            args=filters.as_args(),
        ),
        422 if errors else 200,
    )


@bp.get("/cases/<code>")
@login_required
def case(code: str) -> str:
    actor = _auditor()
    m = motcua()
    history = audit.case_history(m, actor, code)
    verdict = audit.verify_case(m, actor, code) if request.args.get("verify") else None
    return render_template(
        "audit/case.html",
        history=history,
        verdict=verdict,
        event_labels=EVENT_LABELS,
        lang=_lang(),
        pretty=_pretty,
    )


def _pretty(value: Any) -> str:
    """A data value as an auditor reads it: strings as they are, the rest as compact JSON."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# -- CSV ---------------------------------------------------------------------------------------


def _local(value: datetime | None) -> str:
    return value.astimezone(VN_TZ).isoformat() if value else ""


def _cell(value: Any) -> Any:
    """A spreadsheet would run a cell starting with = + - @ as a formula (CSV injection);
    citizens' text reaches these exports, so such cells get a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv(header: Iterable[str], rows: Iterable[Iterable[Any]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    # The byte-order mark makes Excel read the file as UTF-8 (Vietnamese letters intact).
    body = ("\ufeff" + buffer.getvalue()).encode("utf-8")
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/search.csv")
@login_required
def search_csv() -> Response:
    actor = _auditor()
    filters, errors = _filters()
    if errors:
        abort(422, description="; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
    try:
        result = audit.search_cases(motcua(), actor, filters, page=None)
    except FormInvalid as err:
        abort(422, description="; ".join(f"{k}: {', '.join(v)}" for k, v in err.errors.items()))
    lang = _lang()
    rows = (
        [
            r.code,
            r.kind,
            r.procedure_code or "",
            r.procedure_version or "",
            r.title,
            r.status,
            r.status_vi if lang == "vi" else r.status_en,
            r.channel,
            r.receiving_code,
            r.resolving_code,
            r.applicant_name,
            _local(r.submitted_at),
            _local(r.received_at),
            _local(r.appointment_at),
            _local(r.original_appointment_at),
            _local(r.finished_at),
            _local(r.returned_at),
            r.extension_count,
            int(r.completed),
            r.history_seq,
        ]
        for r in result.rows
    )
    return _csv(SEARCH_COLUMNS, rows, "cases.csv")


@bp.get("/cases/<code>/history.csv")
@login_required
def history_csv(code: str) -> Response:
    actor = _auditor()
    history = audit.case_history(motcua(), actor, code)
    rows = (
        [
            history.case.code,
            e.seq,
            _local(e.at),
            e.type,
            e.actor,
            e.actor_name,
            e.task_id or "",
            e.element_id or "",
            e.task_name,
            json.dumps(e.data, ensure_ascii=False, sort_keys=True),
            e.prev_hash,
            e.hash,
        ]
        for e in history.events
    )
    safe = "".join(ch if ch.isalnum() or ch in ".-_" else "_" for ch in code)
    return _csv(HISTORY_COLUMNS, rows, f"history-{safe}.csv")
