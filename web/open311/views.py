"""The GeoReport v2 routes. Reads are public; creating a request needs an `api_key`: an API
token (`motcua token issue NAME AGENCY officer`) whose role takes feedback in (`officer`)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from flask import Response, current_app, request, url_for

from engine.access import authenticate_token
from engine.actors import Actor
from engine.errors import FormInvalid, MotcuaError, PermissionDenied
from engine.portal import MAX_TEXT, check_sender

from ..api.common import INTAKE_ROLES
from ..errors import status_of
from ..services import motcua
from . import bp
from . import feedback as fb
from .formats import FORMATS, GeoReportError, bad_request, check_format, error_response, respond

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
MAX_DESCRIPTION = 4000  # GeoReport v2: description is at most 4000 characters
# Engine names of the sender's fields → the GeoReport fields they come from, to name them in errors.
SENDER_FIELDS = {"name": "first_name", "address": "address_string", "phone": "phone", "email": "email"}


# -- discovery and services ------------------------------------------------------------------------


@bp.get("/discovery.<fmt>")
def discovery(fmt: str) -> Response:
    check_format(fmt)
    changed = fb.changeset(motcua())
    body = {
        "changeset": changed,
        "contact": "Bộ phận Một cửa của cơ quan tiếp nhận phản ánh, kiến nghị",
        "key_service": "API keys are issued by an administrator: motcua token issue NAME AGENCY officer",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url_for("open311.discovery", fmt=fmt, _external=True).rsplit("/", 1)[0],
                "changeset": changed,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return respond(fmt, body, "discovery", "endpoint")


@bp.get("/services.<fmt>")
def services(fmt: str) -> Response:
    check_format(fmt)
    return respond(fmt, [s.view() for s in fb.services(motcua())], "services", "service")


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str) -> Response:
    check_format(fmt)
    if fb.service(motcua(), code) is None:
        raise GeoReportError(404, f"service_code: no service {code!r}")
    return respond(fmt, {"service_code": code, "attributes": []}, "service_definition", "")


# -- requests ----------------------------------------------------------------------------------------


@bp.get("/requests.<fmt>")
def requests(fmt: str) -> Response:
    check_format(fmt)
    return respond(fmt, fb.requests(motcua(), _window()), "service_requests", "request")


@bp.get("/requests/<code>.<fmt>")
def one_request(code: str, fmt: str) -> Response:
    check_format(fmt)
    found = fb.request_by_code(motcua(), code)
    if found is None:
        raise GeoReportError(404, f"service_request_id: no request {code!r}")
    return respond(fmt, [found], "service_requests", "request")


@bp.get("/tokens/<token>.<fmt>")
def token(token: str, fmt: str) -> Response:
    """Requests get their id at once, so a token is the request id itself."""
    check_format(fmt)
    if fb.request_by_code(motcua(), token) is None:
        raise GeoReportError(404, f"token: no request for token {token!r}")
    return respond(fmt, [{"service_request_id": token, "token": token}], "service_requests", "request")


@bp.post("/requests.<fmt>")
def create_request(fmt: str) -> Response:
    check_format(fmt)
    m = motcua()
    actor = _submitter()
    submission = _submission()
    try:
        code, notice = fb.submit(m, actor, submission)
    except MotcuaError as err:
        status = status_of(err)[0]
        raise GeoReportError(403 if status == 403 else 400, str(err)) from None
    body = [{"service_request_id": code, "service_notice": notice, "account_id": None}]
    return respond(fmt, body, "service_requests", "request")  # 200, as the community swagger says


@bp.get("/servicerequestupdates.<fmt>")
def service_request_updates(fmt: str) -> Response:
    check_format(fmt)
    start, end = _range()
    return respond(fmt, fb.updates(motcua(), start, end), "service_request_updates", "request_update")


# -- input -------------------------------------------------------------------------------------------


def _field(name: str) -> str:
    # GeoReport puts POST fields in the form body; some clients send them in the query string.
    return (request.values.get(name) or "").strip()


def _submitter() -> Actor:
    key = _field("api_key")
    if not key:
        raise GeoReportError(403, "api_key: required to create a request")
    try:
        actor = authenticate_token(motcua(), key)
    except PermissionDenied:
        raise GeoReportError(403, "api_key: invalid or revoked") from None
    if not actor.roles & INTAKE_ROLES:
        roles = " or ".join(sorted(INTAKE_ROLES))
        raise GeoReportError(403, f"api_key: this key's role may not take feedback in (needs {roles})")
    return actor


def _submission() -> fb.Submission:
    code = _field("service_code")
    if not code:
        raise bad_request("service_code", "required")
    if fb.service(motcua(), code) is None:
        raise bad_request("service_code", f"no service {code!r}; see services.json")
    description = _field("description")
    if not description:
        raise bad_request("description", "required")
    if len(description) > MAX_DESCRIPTION:
        raise bad_request("description", f"at most {MAX_DESCRIPTION} characters")
    _check_location()
    name = " ".join(p for p in (_field("first_name"), _field("last_name")) if p)
    values = {"name": name, "address": _field("address_string"), "phone": _field("phone")}
    values["email"] = _field("email")
    try:
        sender = check_sender(values)
    except FormInvalid as err:
        field, problems = next(iter(err.errors.items()))
        raise bad_request(SENDER_FIELDS.get(field, field), "; ".join(problems)) from None
    if len(name) > MAX_TEXT:
        raise bad_request("last_name", f"first and last name together at most {MAX_TEXT} characters")
    return fb.Submission(code, description, sender)


def _check_location() -> None:
    """Feedback on regulations has no place, so lat/long are optional and not kept; when given
    they must still be a valid WGS84 position, or the client has a bug worth hearing about."""
    given = {k: _field(k) for k in ("lat", "long") if _field(k)}
    if not given:
        return
    for key, limit in (("lat", 90.0), ("long", 180.0)):
        if key not in given:
            raise bad_request(key, "required when the other coordinate is given")
        try:
            value = float(given[key])
        except ValueError:
            raise bad_request(key, "must be a number (WGS84 degrees)") from None
        if not math.isfinite(value) or abs(value) > limit:
            raise bad_request(key, f"must be between -{limit:g} and {limit:g}")


def _window() -> fb.Window:
    ids = request.args.get("service_request_id", "")
    if ids.strip():
        codes = tuple(dict.fromkeys(c.strip() for c in ids.split(",") if c.strip()))
        if len(codes) > fb.MAX_RESULTS:
            raise bad_request("service_request_id", f"at most {fb.MAX_RESULTS} ids")
        return fb.Window(codes=codes)
    status = request.args.get("status", "").strip()
    statuses = {s.strip() for s in status.split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        raise bad_request("status", "must be open, closed or both (comma separated)")
    start, end = _range()
    one = next(iter(statuses)) if len(statuses) == 1 else None
    return fb.Window(service_code=request.args.get("service_code") or None, start=start, end=end, status=one)


def _range() -> tuple[datetime, datetime]:
    """start_date/end_date; missing ends make a 90-day window (the last 90 days by default)."""
    start, end = _instant("start_date"), _instant("end_date")
    if start and end:
        if end < start:
            raise bad_request("end_date", "must not be before start_date")
        if end - start > fb.DEFAULT_WINDOW:
            raise bad_request("end_date", "the range may not span more than 90 days")
        return start, end
    if start:
        return start, start + fb.DEFAULT_WINDOW
    end = end or motcua().clock.now()
    return end - fb.DEFAULT_WINDOW, end


def _instant(name: str) -> datetime | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(name, "must be a W3C date-time, e.g. 2026-03-01T00:00:00+07:00") from None
    # Without an offset, a time is read where the agencies are.
    return value if value.tzinfo else value.replace(tzinfo=motcua().calendar.tz)


# -- errors ------------------------------------------------------------------------------------------


def _requested_format() -> str:
    fmt = request.path.rsplit(".", 1)[-1] if "." in request.path.rsplit("/", 1)[-1] else "json"
    return fmt if fmt in FORMATS else "json"


@bp.errorhandler(GeoReportError)
def georeport_error(err: GeoReportError) -> Response:
    return error_response(_requested_format(), err.status, err.description)


@bp.errorhandler(MotcuaError)
def engine_error(err: MotcuaError) -> Response:
    status = status_of(err)[0]
    return error_response(_requested_format(), status if status in (403, 404) else 400, str(err))


@bp.errorhandler(Exception)
def unexpected(err: Exception) -> Response:
    from werkzeug.exceptions import HTTPException

    if isinstance(err, HTTPException):
        code = err.code or 400
        return error_response(_requested_format(), code, err.description or err.name)
    current_app.logger.exception("unexpected error in the Open311 endpoint")
    return error_response(_requested_format(), 500, "internal error; it has been logged")


@bp.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(anything: str) -> Any:
    """Any other path under the endpoint: a GeoReport 404, not the portal's error page."""
    raise GeoReportError(404, f"no such GeoReport resource: {anything}")
