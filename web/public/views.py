"""Portal pages: the catalogue, online filing, looking a case up, supplement / withdrawal /
rating, feedback and published answers. No login: the applicant proves access to a case with
its code and PIN; every rule lives in `engine.portal`, this module only renders and maps errors."""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from engine import portal
from engine.errors import FormInvalid, InvalidAction, NotFound, PermissionDenied
from engine.uploads import IncomingFile, UploadRefused

from ..extensions import limiter
from ..services import motcua
from . import bp

# How long a successful lookup lets the browser act on the case without the PIN again; short,
# because portals are used on shared computers.
VERIFIED_SECONDS = 30 * 60
MAX_VERIFIED = 5

FIELD_LABELS = {
    "name": _l("Full name"),
    "id_number": _l("Personal identification number"),
    "address": _l("Address"),
    "phone": _l("Phone"),
    "email": _l("E-mail"),
    "agency": _l("Agency"),
    "uploads": _l("Dossier components"),
    "files": _l("Files"),
    "category": _l("Category"),
    "content": _l("Content"),
    "reason": _l("Reason"),
    "note": _l("Note"),
    "level": _l("Overall satisfaction"),
    "comment": _l("Comment"),
    "criteria": _l("Criteria"),
}
# The engine's field messages (English), shown translated.
ENGINE_MESSAGES = {
    portal.REQUIRED: _l("this field is required"),
    "not a phone number": _l("not a phone number"),
    "not an e-mail address": _l("not an e-mail address"),
    "must be 12 digits (CCCD) or 9 digits (old ID card)": _l(
        "must be 12 digits (CCCD) or 9 digits (old ID card)"
    ),
    "attach at least one component file": _l("attach at least one component file"),
    "attach at least one file": _l("attach at least one file"),
}
CATEGORY_LABELS = {
    "procedure_content": _l("Content of a procedure regulation"),
    "fees": _l("Fees and charges"),
    "forms": _l("Application forms and declarations"),
    "official_behaviour": _l("Behaviour of an agency or an official"),
    "outside_competence": _l("A regulation issued by another authority"),
    "not_regulation": _l("Not about administrative regulations"),
}
ONLINE_LABELS = {
    "full": _l("Full online service"),
    "partial": _l("Partial online service"),
    "none": _l("Not offered online: file at the one-stop desk or by post"),
}
PUBLIC_LIMIT = lambda: current_app.config["PUBLIC_RATE_LIMIT"]  # noqa: E731 - read per request


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "vi"


def _field_errors(err: FormInvalid) -> dict[str, list[str]]:
    return {k: [str(ENGINE_MESSAGES.get(m, m)) for m in v] for k, v in err.errors.items()}


def _upload_message(err: UploadRefused) -> str:
    if err.reason == "size":
        return _(
            "The file %(file)s is larger than %(mb)s MB.",
            file=err.label,
            mb=f"{err.limit_bytes / (1024 * 1024):g}",
        )
    if err.reason == "empty":
        return _("The file %(file)s is empty.", file=err.label)
    return _("The file %(file)s is not a PDF, JPEG or PNG file.", file=err.label)


def _files(field: str, component: str | None = None) -> list[IncomingFile]:
    """The files posted under `field`, skipping empty inputs (a browser sends a nameless part)."""
    found = []
    for item in request.files.getlist(field):
        if isinstance(item, FileStorage) and item.filename:
            found.append(IncomingFile(item.filename, item.stream, component))
    return found


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_err: RequestEntityTooLarge) -> tuple[str, int]:
    # The whole request is over the server's cap before any single file could be named.
    limit = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) / (1024 * 1024)
    message = _(
        "The files sent together are larger than %(mb)s MB; send fewer or smaller files.", mb=f"{limit:g}"
    )
    return render_template("error.html", status=413, message=message), 413


# -- catalogue ---------------------------------------------------------------------------------


@bp.get("/")
def home() -> str:
    m = motcua()
    name = request.args.get("q", "").strip()
    field_ = request.args.get("field", "").strip()
    agency = request.args.get("agency", "").strip()
    try:
        procedures = portal.catalogue(m, name, field_, agency)
    except NotFound:
        agency, procedures = "", portal.catalogue(m, name, field_)
    return render_template(
        "public/home.html",
        procedures=procedures,
        fields=portal.catalogue_fields(m),
        agencies=portal.desk_agencies(m),
        q=name,
        field=field_,
        agency=agency,
        online_labels=ONLINE_LABELS,
    )


@bp.get("/procedures/<code>")
def procedure(code: str) -> str:
    m = motcua()
    proc = portal.public_procedure(m, code)
    return render_template(
        "public/procedure.html",
        procedure=proc,
        agencies=portal.filing_agencies(m, proc),
        online=proc.online_level in portal.ONLINE_LEVELS,
        online_labels=ONLINE_LABELS,
    )


# -- online filing -----------------------------------------------------------------------------


@bp.route("/procedures/<code>/file", methods=["GET", "POST"])
@limiter.limit(PUBLIC_LIMIT, methods=["POST"])
def file(code: str) -> Any:
    m = motcua()
    proc = portal.public_procedure(m, code)
    if proc.online_level not in portal.ONLINE_LEVELS:
        message = _("This procedure is not offered online: file it at the one-stop desk or by post.")
        return render_template("error.html", status=409, message=message), 409
    agencies = portal.filing_agencies(m, proc)
    values: dict[str, str] = {"agency": agencies[0].code if len(agencies) == 1 else ""}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {
            k: request.form.get(k, "").strip()
            for k in ("name", "id_number", "address", "phone", "email", "agency")
        }
        uploads: list[IncomingFile] = []
        for index, component in enumerate(proc.components):
            uploads += _files(f"file_{index}", str(component.get("name")))
        try:
            dossier_code, pin = portal.file_online(
                m,
                proc.code,
                values["agency"],
                {k: values[k] for k in ("name", "address", "phone", "email")},
                values["id_number"],
                [],
                uploads,
            )
        except FormInvalid as err:
            errors = _field_errors(err)
        except UploadRefused as err:
            errors = {"uploads": [_upload_message(err)]}
        else:
            response = make_response(
                render_template("public/receipt.html", procedure=proc, code=dossier_code, pin=pin)
            )
            # The PIN is on this page only: no cache may keep a copy.
            response.headers["Cache-Control"] = "no-store"
            return response
    status = 422 if errors else 200
    return (
        render_template(
            "public/file.html",
            procedure=proc,
            agencies=agencies,
            values=values,
            errors=errors,
            labels=FIELD_LABELS,
        ),
        status,
    )


# -- lookup and what the applicant may do ------------------------------------------------------


def _remember(code: str) -> None:
    verified = {
        k: v for k, v in session.get("verified_cases", {}).items() if v > time.time() - VERIFIED_SECONDS
    }
    verified[code] = time.time()
    # Keep the cookie small: the most recent few cases only.
    session["verified_cases"] = dict(sorted(verified.items(), key=lambda kv: kv[1])[-MAX_VERIFIED:])


def _is_verified(code: str) -> bool:
    at = session.get("verified_cases", {}).get(code)
    return bool(at) and at > time.time() - VERIFIED_SECONDS


def _denied(code: str = "") -> tuple[str, int]:
    # One answer for an unknown code, a wrong PIN and a locked lookup: nothing is revealed.
    return (
        render_template(
            "public/lookup.html",
            code=code,
            error=_("The dossier code or the PIN is wrong."),
        ),
        403,
    )


def _case_page(code: str, errors: dict[str, list[str]] | None = None, values: dict[str, Any] | None = None):
    case = portal.public_case(motcua(), code, portal.VERIFIED)
    response = make_response(
        render_template(
            "public/case.html",
            case=case,
            lang=_lang(),
            form=portal.satisfaction_form(),
            errors=errors or {},
            values=values or {},
            labels=FIELD_LABELS,
        ),
        422 if errors else 200,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/lookup", methods=["GET", "POST"])
@limiter.limit(PUBLIC_LIMIT, methods=["POST"])
def lookup() -> Any:
    if request.method == "GET":
        code = request.args.get("code", "").strip()
        if code and _is_verified(code):
            return _case_page(code)
        return render_template("public/lookup.html", code=code, error=None)
    code = request.form.get("code", "").strip()
    pin = request.form.get("pin", "").strip()
    if not code or not pin:
        return _denied(code)
    try:
        portal.public_case(motcua(), code, pin)
    except PermissionDenied:
        return _denied(code)
    _remember(code)
    return _case_page(code)


def _verified_code() -> str | None:
    code = request.form.get("code", "").strip()
    return code if code and _is_verified(code) else None


def _done(code: str, message: str) -> Response:
    flash(message, "ok")
    return redirect(url_for("public.lookup", code=code))


@bp.post("/lookup/supplement")
@limiter.limit(PUBLIC_LIMIT)
def supplement() -> Any:
    code = _verified_code()
    if code is None:
        return _denied()
    note = request.form.get("note", "").strip()
    try:
        portal.submit_supplement(motcua(), code, portal.VERIFIED, _files("files"), note)
    except FormInvalid as err:
        return _case_page(code, _field_errors(err), {"note": note})
    except UploadRefused as err:
        return _case_page(code, {"files": [_upload_message(err)]}, {"note": note})
    except InvalidAction:
        return _done(code, _("A supplement is not expected for this dossier now."))
    return _done(code, _("Your supplement has been received."))


@bp.post("/lookup/withdraw")
@limiter.limit(PUBLIC_LIMIT)
def withdraw() -> Any:
    code = _verified_code()
    if code is None:
        return _denied()
    reason = request.form.get("reason", "").strip()
    try:
        portal.request_withdrawal(motcua(), code, portal.VERIFIED, reason)
    except FormInvalid as err:
        return _case_page(code, _field_errors(err), {"reason": reason})
    except InvalidAction:
        return _done(code, _("The dossier can no longer be withdrawn."))
    return _done(code, _("Your request to withdraw the dossier has been recorded."))


@bp.post("/lookup/rate")
@limiter.limit(PUBLIC_LIMIT)
def rate() -> Any:
    code = _verified_code()
    if code is None:
        return _denied()
    form = portal.satisfaction_form()
    level = request.form.get("level", "")
    criteria = {c.key: request.form.get(f"criterion_{c.key}", "") for c in form.criteria}
    comment = request.form.get("comment", "").strip()
    try:
        portal.rate(motcua(), code, portal.VERIFIED, level, criteria, comment)  # type: ignore[arg-type]
    except FormInvalid as err:
        values = {"level": level, "comment": comment, **{f"criterion_{k}": v for k, v in criteria.items()}}
        return _case_page(code, _field_errors(err), values)
    except InvalidAction:
        return _done(code, _("The rating period for this dossier is over."))
    return _done(code, _("Thank you for your rating."))


# -- feedback ----------------------------------------------------------------------------------


def _categories() -> list[tuple[str, str]]:
    return [
        (c.key, str(CATEGORY_LABELS.get(c.key, c.label_vi))) for c in portal.feedback_categories(motcua())
    ]


@bp.route("/feedback", methods=["GET", "POST"])
@limiter.limit(PUBLIC_LIMIT, methods=["POST"])
def feedback() -> Any:
    m = motcua()
    agencies = portal.feedback_agencies(m)
    province = next((a for a in agencies if a.level == "province"), None)
    values = {"agency": province.code if province else ""}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {
            k: request.form.get(k, "").strip()
            for k in ("name", "address", "phone", "email", "agency", "category", "content")
        }
        try:
            code, pin = portal.send_feedback(
                m,
                values["agency"],
                {k: values[k] for k in ("name", "address", "phone", "email")},
                values["category"],
                values["content"],
                _files("attachments"),
            )
        except FormInvalid as err:
            errors = _field_errors(err)
        except UploadRefused as err:
            errors = {"files": [_upload_message(err)]}
        else:
            response = make_response(render_template("public/feedback_sent.html", code=code, pin=pin))
            response.headers["Cache-Control"] = "no-store"
            return response
    return (
        render_template(
            "public/feedback.html",
            agencies=agencies,
            categories=_categories(),
            values=values,
            errors=errors,
            labels=FIELD_LABELS,
        ),
        422 if errors else 200,
    )


@bp.get("/feedback/answers")
def answers() -> str:
    page = request.args.get("page", 1, type=int) or 1
    return render_template(
        "public/answers.html",
        answers=portal.publish_feedback_list(motcua(), page),
        reacted=set(session.get("reacted", [])),
    )


@bp.post("/feedback/answers/<int:case_id>/react")
@limiter.limit(PUBLIC_LIMIT)
def react(case_id: int) -> Response:
    reaction = request.form.get("reaction", "")
    page = request.form.get("page", 1, type=int) or 1
    target = url_for("public.answers", page=page) + f"#answer-{case_id}"
    if reaction not in ("like", "dislike"):
        flash(_("Choose like or dislike."), "error")
        return redirect(target)
    reacted = list(session.get("reacted", []))
    if case_id in reacted:
        # One reaction per answer per browser session; a cheap brake on ballot stuffing.
        flash(_("You have already given your opinion on this answer."), "error")
        return redirect(target)
    portal.react(motcua(), case_id, reaction == "like")
    session["reacted"] = (reacted + [case_id])[-200:]
    flash(_("Thank you for your opinion."), "ok")
    return redirect(target)
