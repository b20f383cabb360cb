"""Staff pages. Each view authorises, calls the engine and renders; the work is done in
`engine.inbox`, `engine.caseview` and this package's helper modules.

A case or task the actor may not read is answered 404 (docs/web.md: no probing of codes)."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from engine.actors import Actor
from engine.calendar import VN_TZ
from engine.caseview import (
    CaseFile,
    TaskFile,
    agencies,
    colleagues,
    hand_overs,
    load_case_file,
    load_task,
    time_left,
)
from engine.db import transaction
from engine.errors import (
    CaseConflict,
    FormInvalid,
    InvalidAction,
    MotcuaError,
    NotFound,
    PermissionDenied,
)
from engine.inbox import DUE_STATES, KINDS, InboxFilter, query_inbox
from engine.models import Case
from engine.personal_data import ROLES_SEEING_ID_NUMBERS, mask, reveal_id_number
from engine.portal import MAX_COMMENT, awaited_messages, procedures_in_force
from engine.uploads import attach_uploads, get_upload, upload_path, uploads_of

from ..auth import require_actor
from ..services import motcua
from . import bp, diagram, files, once, printing
from .forms import DataLine, build_fields, describe, form_errors, parse
from .labels import status_choices, status_label
from .reception import CHANNELS, parse_reception
from .register import register_lines, to_csv

PER_PAGE_CHOICES = (10, 25, 50, 100)
# Who keeps the dossier register (Form 07): the desk that enters it and the leader who signs it.
REGISTER_ROLES = frozenset({"officer", "leader"})


# -- inbox ---------------------------------------------------------------------------------


@bp.get("/")
@login_required
def inbox() -> str:
    actor = require_actor()
    args = request.args
    flt = InboxFilter(
        procedure_code=args.get("procedure") or None,
        status=args.get("status") or None,
        due=args.get("due") if args.get("due") in DUE_STATES else None,
        code=args.get("code", "").strip() or None,
        applicant=args.get("applicant", "").strip() or None,
        kind=args.get("kind") if args.get("kind") in KINDS else None,
        mine=bool(args.get("mine")),
        team=bool(args.get("team")) and "leader" in actor.roles,
    )
    per_page = args.get("per_page", 25, type=int)
    per_page = per_page if per_page in PER_PAGE_CHOICES else 25
    page = query_inbox(motcua(), actor, flt, page=max(1, args.get("page", 1, type=int)), per_page=per_page)
    return render_template(
        "staff/inbox.html",
        inbox=page,
        flt=flt,
        per_page=per_page,
        assignees=_assignees(actor, page.rows),
        procedures=procedures_in_force(motcua()),
        statuses=status_choices(),
        is_leader="leader" in actor.roles,
        actor=actor,
        here=request.full_path,
        page_url=_page_url,
    )


def _page_url(number: int) -> str:
    args = request.args.to_dict()
    args["page"] = str(number)
    return url_for(".inbox", **args)


def _assignees(actor: Actor, rows: list[Any]) -> dict[int, list[Any]]:
    """For a leader: per task, the colleagues of the task's agency who have the task's role."""
    if "leader" not in actor.roles:
        return {}
    staff = colleagues(motcua(), actor.agency_ids)
    return {
        row.task_id: [s for s in staff if s.agency_id == row.agency_id and row.role in s.roles]
        for row in rows
        if row.agency_id in actor.agency_ids
    }


@bp.post("/tasks/<int:task_id>/claim")
@login_required
def claim(task_id: int) -> Response:
    actor = require_actor()
    _readable_task(actor, task_id)
    return _task_action(lambda: motcua().claim_task(task_id, actor), _("Task claimed: it is now yours."))


@bp.post("/tasks/<int:task_id>/release")
@login_required
def release(task_id: int) -> Response:
    actor = require_actor()
    _readable_task(actor, task_id)
    return _task_action(lambda: motcua().release_task(task_id, actor), _("Task released for colleagues."))


@bp.post("/tasks/<int:task_id>/assign")
@login_required
def assign(task_id: int) -> Response:
    actor = require_actor()
    _readable_task(actor, task_id)
    assignee = request.form.get("assignee", "").strip()
    if not assignee:
        flash(_("Choose a colleague to assign the task to."), "error")
        return redirect(_back())
    return _task_action(
        lambda: motcua().assign_task(task_id, assignee, actor),
        _("Task assigned to %(name)s.", name=assignee),
    )


def _task_action(action: Any, done: str) -> Response:
    try:
        action()
    except CaseConflict:
        flash(_("Someone else changed this task first; the list has been refreshed."), "error")
    except PermissionDenied:
        # A refused write answers 403 (not a redirect that looks like success to a client),
        # with the way back to the page the button was on.
        page = render_template(
            "staff/refused.html", message=_("You may not do this with this task."), back=_back()
        )
        return make_response(page, 403)
    except NotFound:
        flash(_("That colleague or task does not exist."), "error")
    else:
        flash(done, "success")
    return redirect(_back())


def _back() -> str:
    """Back to the page the button was on (same-site staff pages only: no open redirect)."""
    target = request.form.get("next", "")
    return target if target.startswith("/staff") and "//" not in target else url_for(".inbox")


# -- task page -----------------------------------------------------------------------------


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int) -> Any:
    actor = require_actor()
    task_file = _actionable_task(actor, task_id)
    m = motcua()
    schema = task_file.form_schema or {"properties": {}}
    if request.method == "GET":
        if task_file.task.status != "open":
            flash(_("This task has already been completed."), "error")
            return redirect(url_for(".case", code=task_file.case.code))
        if task_file.task.assignee not in (None, actor.username):
            abort(404)  # claimed by a colleague: not this actor's to act on
        return _render_task(actor, task_file, schema, None, {})
    data, local_errors = parse(schema, request.form)
    if local_errors and any("type" not in schema["properties"][name] for name in local_errors):
        # An untyped field would accept the null sent in place of what could not be read.
        return _render_task(actor, task_file, schema, request.form, local_errors), 422
    try:
        result = m.complete_task(task_id, data, actor)
    except FormInvalid as err:
        errors = {**err.errors, **local_errors}
        return _render_task(actor, task_file, schema, request.form, errors), 422
    except CaseConflict:
        flash(_("This task was completed by someone else in the meantime; nothing was saved."), "error")
        return redirect(url_for(".inbox"))
    except PermissionDenied:
        flash(_("This task is claimed by a colleague; nothing was saved."), "error")
        return redirect(url_for(".inbox"))
    except MotcuaError as err:
        # A rule of the process refused the data (e.g. a second extension): show it at the form.
        return _render_task(actor, task_file, schema, request.form, {"_form": [str(err)]}), 422
    flash(
        _("“%(task)s” of %(code)s completed.", task=task_file.task.name, code=task_file.case.code),
        "success",
    )
    return redirect(_next_task_url(actor, result.case_code))


def _render_task(
    actor: Actor, task_file: TaskFile, schema: dict[str, Any], submitted: Any, errors: dict[str, list[str]]
) -> str:
    case_file = load_case_file(motcua(), task_file.case.code)
    return render_template(
        "staff/task.html",
        t=task_file.task,
        c=task_file.case,
        case_file=case_file,
        masked_id=mask(None, task_file.id_number_last4),
        schema=schema,
        fields=build_fields(schema, submitted, errors),
        form_errors=form_errors(errors, schema),
        steps=[e for e in case_file.events if e.type == "task_completed"],
        data_lines=_data_lines(case_file),
        components=printing.components_of(case_file),
        actor=actor,
        here=request.path,
    )


def _next_task_url(actor: Actor, case_code: str) -> str:
    """The next thing to do: a task of the same dossier if it is the actor's, else the top of
    the inbox, else the inbox itself."""
    m = motcua()
    for flt in (InboxFilter(code=case_code), InboxFilter()):
        rows = query_inbox(m, actor, flt, per_page=1).rows
        if rows:
            return url_for(".task", task_id=rows[0].task_id)
    return url_for(".inbox")


# -- case page -----------------------------------------------------------------------------


@bp.get("/cases/<code>")
@login_required
def case(code: str) -> str:
    actor = require_actor()
    return _render_case(actor, _readable_case(actor, code))


@bp.post("/cases/<code>/reveal-id")
@login_required
def reveal_id(code: str) -> str:
    actor = require_actor()
    _readable_case(actor, code)
    # The engine checks the role and writes the personal_data_viewed event; the number is shown
    # in this answer only (never stored in the session or a redirect).
    number = reveal_id_number(motcua(), code, actor)
    return _render_case(actor, load_case_file(motcua(), code), revealed=number)


@bp.get("/cases/<code>/diagram.bpmn")
@login_required
def diagram_xml(code: str) -> Response:
    """The BPMN XML of the process version the case runs on (not the latest one)."""
    actor = require_actor()
    file = _readable_case(actor, code)
    response = Response(diagram.definition_xml(motcua(), file.case.definition_id), mimetype="application/xml")
    # Data for the page's viewer, never a document: opened directly, nothing in it may run.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/cases/<code>/diagram-state.json")
@login_required
def diagram_state(code: str) -> Any:
    """Elements of the diagram that are current (open tasks, awaited events) and completed."""
    actor = require_actor()
    file = _readable_case(actor, code)
    state = diagram.diagram_state(motcua(), file)
    return state, 200, {"Cache-Control": "private, no-cache"}


@bp.get("/cases/<code>/files/<int:upload_id>")
@login_required
def case_file(code: str, upload_id: int) -> Response:
    """One file of the case, always as a download: a citizen's upload is never shown inline
    (nothing in it may run in the workspace's origin)."""
    actor = require_actor()
    file = _readable_case(actor, code)
    m = motcua()
    try:
        upload = get_upload(m, upload_id)
    except NotFound:
        abort(404)
    path = upload_path(m, upload)
    if upload.case_id != file.case.id or not path.is_file():
        abort(404)
    response = send_file(
        path, mimetype=upload.content_type, as_attachment=True, download_name=upload.label, max_age=0
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/cases/<code>/withdrawal")
@login_required
def record_withdrawal(code: str) -> Any:
    """The applicant asks at the desk to stop processing (Form 05): the officer records it with
    the reason given. The engine delivers the message only while the process waits for it."""
    actor = require_actor()
    file = _readable_dossier(actor, code)
    if not _may_record_withdrawal(actor, file.case):
        raise PermissionDenied(
            _("Only officers of the agency that received the dossier record a withdrawal.")
        )
    typed = request.form.get("reason", "")
    reason = unicodedata.normalize("NFC", typed).strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [_("Enter the reason the applicant gives for withdrawing.")]
    elif len(reason) > MAX_COMMENT:
        errors["reason"] = [_("At most %(n)s characters.", n=MAX_COMMENT)]
    if errors:
        return _render_case(actor, file, withdrawal_errors=errors, withdrawal_reason=typed), 422
    try:
        motcua().deliver_message(
            code, "withdrawal_requested", {"reason": reason, "recorded_by": actor.username}, actor
        )
    except CaseConflict:
        flash(
            _("The dossier changed in the meantime; nothing was recorded. Check it and try again."), "error"
        )
        return redirect(url_for(".case", code=code))
    except InvalidAction as err:
        # Nothing waits for the message any more (a result exists, or the case has ended).
        message = _("The withdrawal cannot be recorded: %(reason)s", reason=str(err))
        return render_template("error.html", status=409, message=message), 409
    flash(
        _(
            "Withdrawal of %(code)s recorded: processing has stopped. Print Form 05 for the applicant.",
            code=code,
        ),
        "success",
    )
    return redirect(url_for(".case", code=code))


def _may_record_withdrawal(actor: Actor, case: Case) -> bool:
    """The desk that received the dossier takes the applicant's requests about it (as for
    supplements); other roles and agencies only read."""
    return "officer" in actor.roles and case.receiving_agency_id in actor.agency_ids


def _awaits_withdrawal(case: Case) -> bool:
    """Whether the process waits for `withdrawal_requested` now: the portal's own test
    (`engine.portal.awaited_messages`, the way `runtime.deliver` finds waiting events)."""
    if case.completed:
        return False
    m = motcua()
    with transaction(m.sessions) as session:
        row = session.scalars(select(Case).where(Case.id == case.id)).one()
        return "withdrawal_requested" in awaited_messages(m, session, row)


def _render_case(
    actor: Actor,
    file: CaseFile,
    revealed: str | None = None,
    withdrawal_errors: dict[str, list[str]] | None = None,
    withdrawal_reason: str = "",
) -> str:
    m = motcua()
    dossier = file.case.kind == "dossier"
    data = m.case_data(file.case.code) if dossier else {}
    return render_template(
        "staff/case.html",
        f=file,
        c=file.case,
        masked_id=mask(None, file.id_number_last4),
        revealed=revealed,
        left=time_left(m, file),
        can_reveal=bool(actor.roles & ROLES_SEEING_ID_NUMBERS) and bool(file.id_number_last4),
        supplement=printing.supplement_request(data, file.events) if data else None,
        refusal=printing.refusal(data, file.events, file.case.status) if data else None,
        extension=printing.extension(file) if dossier else None,
        stop=printing.stop_notice(data, file) if dossier else None,
        files=files.rows(uploads_of(m, file.case.id), data),
        can_withdraw=dossier and _may_record_withdrawal(actor, file.case) and _awaits_withdrawal(file.case),
        withdrawal_errors=withdrawal_errors or {},
        withdrawal_reason=withdrawal_reason,
        data_lines=_data_lines(file),
        actor=actor,
    )


def _data_lines(file: CaseFile) -> Any:
    """For templates: what a task completion changed, labelled with the task's form."""

    def lines(event: Any) -> list[DataLine]:
        data = event.data or {}
        return describe(file.form_of_event(event), data.get("after") or {}, data.get("before") or {})

    return lines


# -- printable forms -----------------------------------------------------------------------


@bp.get("/cases/<code>/receipt")
@login_required
def receipt(code: str) -> str:
    actor = require_actor()
    file = _readable_dossier(actor, code)
    data = motcua().case_data(code)
    stashed = once.take("receipt_pin")
    pin = None
    if stashed and stashed.split("\n", 1)[0] == code:
        pin = stashed.split("\n", 1)[1]
    url = printing.lookup_url(code)
    return render_template(
        "staff/receipt.html",
        f=file,
        c=file.case,
        number=printing.receipt_number(code),
        place=printing.place_name(file.receiving),
        unit=printing.desk_name(file.receiving),
        issued=printing.local_parts(file.case.received_at or file.case.submitted_at),
        received=printing.local_parts(file.case.received_at or file.case.submitted_at),
        appointment=printing.local_parts(file.case.appointment_at),
        applicant=printing.applicant_of(data, file.id_number_last4, file.case.applicant_name),
        components=printing.components_of(file),
        processing_time=printing.processing_time(file.procedure),
        result_place=printing.desk_name(file.receiving),
        lookup_url=url,
        qr=printing.qr_svg(url),
        pin=pin,
    )


@bp.get("/cases/<code>/supplement-request")
@login_required
def supplement_request(code: str) -> str:
    return _desk_notice(
        code,
        "staff/supplement_request.html",
        lambda data, file: printing.supplement_request(data, file.events),
        f"dossier {code} has no supplement request",
    )


@bp.get("/cases/<code>/refusal")
@login_required
def refusal(code: str) -> str:
    return _desk_notice(
        code,
        "staff/refusal.html",
        lambda data, file: printing.refusal(data, file.events, file.case.status),
        f"dossier {code} has not been refused",
    )


def _desk_notice(code: str, template: str, find: Any, missing: str) -> str:
    """Forms 02 and 03: a notice the desk hands the applicant, from what the case recorded."""
    actor = require_actor()
    file = _readable_dossier(actor, code)
    data = motcua().case_data(code)
    found = find(data, file)
    if found is None:
        raise NotFound(missing)
    return render_template(
        template,
        f=file,
        c=file.case,
        req=found,
        place=printing.place_name(file.receiving),
        unit=printing.desk_name(file.receiving),
        issued=printing.local_parts(found.at),
        applicant=printing.applicant_of(data, file.id_number_last4, file.case.applicant_name),
    )


@bp.get("/cases/<code>/control-slip")
@login_required
def control_slip(code: str) -> str:
    actor = require_actor()
    file = _readable_dossier(actor, code)
    return render_template(
        "staff/control_slip.html",
        f=file,
        c=file.case,
        rows=hand_overs(motcua(), file),
        place=printing.place_name(file.receiving),
        unit=printing.desk_name(file.receiving),
        masked_id=mask(None, file.id_number_last4),
        received=printing.local_parts(file.case.received_at),
        appointment=printing.local_parts(file.case.appointment_at),
    )


@bp.get("/cases/<code>/apology")
@login_required
def apology(code: str) -> str:
    """Form 04: the agency apologises for the delay and gives the new appointment, signed by its
    head. Issued by the resolving agency, whose leader granted the extension."""
    actor = require_actor()
    file = _readable_dossier(actor, code)
    found = printing.extension(file)
    if found is None:
        raise NotFound(f"dossier {code} has not been extended")
    return render_template(
        "staff/apology.html",
        f=file,
        c=file.case,
        ext=found,
        issuer=file.resolving,
        unit=None,
        place=printing.place_name(file.resolving),
        issued=printing.local_parts(found.at),
        applicant=printing.applicant_of(
            motcua().case_data(code), file.id_number_last4, file.case.applicant_name
        ),
        received=printing.local_parts(file.case.received_at or file.case.submitted_at),
        original=printing.local_parts(found.original or found.previous),
        new=printing.local_parts(found.new),
        processing_time=printing.processing_time(file.procedure),
    )


@bp.get("/cases/<code>/stop-notice")
@login_required
def stop_notice(code: str) -> str:
    """Form 05: processing stopped, at the applicant's request (withdrawn) or because the dossier
    was refused after appraisal (stopped)."""
    actor = require_actor()
    file = _readable_dossier(actor, code)
    data = motcua().case_data(code)
    found = printing.stop_notice(data, file)
    if found is None:
        raise NotFound(f"processing of dossier {code} has not stopped")
    # A withdrawal is taken in and confirmed by the desk; a refusal is the resolving agency's.
    issuer = file.receiving if found.kind == "withdrawn" else file.resolving
    return render_template(
        "staff/stop_notice.html",
        f=file,
        c=file.case,
        stop=found,
        issuer=issuer,
        unit=printing.desk_name(file.receiving) if found.kind == "withdrawn" else None,
        place=printing.place_name(issuer),
        issued=printing.local_parts(found.at),
        applicant=printing.applicant_of(data, file.id_number_last4, file.case.applicant_name),
        received=printing.local_parts(file.case.received_at or file.case.submitted_at),
    )


@bp.get("/register")
@login_required
def register() -> Any:
    """Form 07: the dossiers the actor's desk received on a day; `format=csv` for a spreadsheet."""
    actor = require_actor()
    if not actor.roles & REGISTER_ROLES:
        raise PermissionDenied(_("Only one-stop officers and leaders keep the dossier register."))
    m = motcua()
    today = m.clock.now().astimezone(VN_TZ).date()
    typed = request.args.get("day", "").strip()
    day, errors = today, {}
    if typed:
        try:
            day = date.fromisoformat(typed)
        except ValueError:
            errors["day"] = [_("Enter a date as YYYY-MM-DD, for example %(day)s.", day=today.isoformat())]
    lines = [] if errors else register_lines(m, actor.agency_ids, day)
    if request.args.get("format") == "csv" and not errors:
        response = Response(to_csv(lines, status_label), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="register-{day.isoformat()}.csv"'
        response.headers["Cache-Control"] = "private, no-store"
        return response
    own = agencies(m, actor.agency_ids)
    agency = own[min(own)]
    page = render_template(
        "staff/register.html",
        lines=lines,
        day=day,
        typed=typed,
        errors=errors,
        issuer=agency,
        unit=printing.desk_name(agency),
        place=printing.place_name(agency),
        issued=printing.local_parts(m.clock.now()),
        previous_day=date.fromordinal(day.toordinal() - 1),
        next_day=date.fromordinal(day.toordinal() + 1),
    )
    return page, 422 if errors else 200


# -- reception -----------------------------------------------------------------------------


@bp.route("/reception", methods=["GET", "POST"])
@login_required
def reception() -> Any:
    actor = require_actor()
    if "officer" not in actor.roles:
        raise PermissionDenied(_("Only one-stop officers receive dossiers."))
    m = motcua()
    procedures = procedures_in_force(m)
    chosen_code = request.values.get("procedure", "")
    procedure = next((p for p in procedures if p.code == chosen_code), None)
    if request.method == "GET" or procedure is None:
        status = 422 if request.method == "POST" else 200
        errors = {"procedure": [_("Choose a procedure in force.")]} if request.method == "POST" else {}
        return _render_reception(procedures, procedure, None, errors), status
    receiving = agencies(m, actor.agency_ids)
    agency = receiving[min(receiving)]
    incoming = files.component_files(procedure)
    form = parse_reception(request.form, procedure, with_files=set(incoming))
    # Files are checked even when a typed field is wrong, so one submission reports everything.
    saved, file_errors = files.store(m, incoming)
    errors = {**form.errors, **file_errors}
    if errors:
        files.discard(m, saved)
        return _render_reception(procedures, procedure, request.form, errors, set(incoming)), 422
    names = [str(spec.get("name", "")) for spec in procedure.components or []]
    # Which component each scan is, for the case page (the upload row knows only its file name).
    extra = (
        {"component_files": [{"upload_id": u.id, "component": names[i]} for i, u in saved]} if saved else None
    )
    try:
        result = m.receive_dossier(
            procedure.code,
            agency.code,
            applicant=form.applicant,
            actor=actor,
            channel=form.channel,
            components=form.components,
            extra=extra,
            # Stored encrypted with the PIN in the reception transaction; the PIN is shown once.
            id_number=form.id_number,
            issue_pin=True,
        )
    except MotcuaError as err:
        files.discard(m, saved)
        return _render_reception(
            procedures, procedure, request.form, {"_form": [str(err)]}, set(incoming)
        ), 422
    except BaseException:
        files.discard(m, saved)  # no case: the citizen's documents must not stay behind
        raise
    attach_uploads(m, [u.id for _i, u in saved], result.case_id)
    code, pin = result.case_code, result.pin
    if form.accept_now:
        _accept_at_reception(actor, result.open_tasks)
    once.put("receipt_pin", f"{code}\n{pin}")
    flash(_("Dossier %(code)s received.", code=code), "success")
    return redirect(url_for(".receipt", code=code))


def _accept_at_reception(actor: Actor, open_tasks: list[Any]) -> None:
    """The desk usually checks completeness with the applicant present: accepting right away
    completes the reception check (UT_Check, in both dossier processes), which schedules the
    appointment printed on the receipt. Otherwise the check waits in the officer's inbox."""
    check = next(
        (t for t in open_tasks if t.element_id == "UT_Check" and actor.can_act_in(t.role, t.agency_id)), None
    )
    if check is None:
        flash(_("The completeness check waits in your inbox."), "info")
        return
    try:
        motcua().complete_task(check.id, {"reception_decision": "accept"}, actor)
    except MotcuaError as err:
        flash(_("The dossier could not be accepted at once: %(reason)s", reason=str(err)), "error")


def _render_reception(
    procedures: list[Any],
    procedure: Any,
    submitted: Any,
    errors: dict[str, list[str]],
    attached: set[int] | None = None,
) -> str:
    """`attached`: components a file was sent for. A browser cannot refill a file input, so the
    page says which files to choose again."""
    return render_template(
        "staff/reception.html",
        procedures=procedures,
        procedure=procedure,
        v=submitted,
        errors=errors,
        attached=attached or set(),
        channels=CHANNELS,
        accept=files.ACCEPT,
    )


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_err: RequestEntityTooLarge) -> tuple[str, int]:
    # The request is over the server's cap before any single file can be looked at or named.
    message = _("The files sent together are too large; attach fewer or smaller files and send again.")
    return render_template("error.html", status=413, message=message), 413


# -- authorisation -------------------------------------------------------------------------


def _readable_case(actor: Actor, code: str) -> CaseFile:
    try:
        file = load_case_file(motcua(), code)
    except NotFound:
        abort(404)
    if not actor.can_read(file.case.receiving_agency_id, file.case.resolving_agency_id):
        abort(404)
    return file


def _readable_dossier(actor: Actor, code: str) -> CaseFile:
    file = _readable_case(actor, code)
    if file.case.kind != "dossier":
        abort(404)
    return file


def _readable_task(actor: Actor, task_id: int) -> TaskFile:
    try:
        task_file = load_task(motcua(), task_id)
    except NotFound:
        abort(404)
    case = task_file.case
    if not actor.can_read(case.receiving_agency_id, case.resolving_agency_id, task_file.task.agency_id):
        abort(404)
    return task_file


def _actionable_task(actor: Actor, task_id: int) -> TaskFile:
    task_file = _readable_task(actor, task_id)
    if not actor.can_act_in(task_file.task.role, task_file.task.agency_id):
        abort(404)
    return task_file
