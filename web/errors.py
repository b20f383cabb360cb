"""Domain errors → answers a person or a client can act on. JSON under /api, pages elsewhere;
never a stack trace."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from engine.errors import (
    CaseConflict,
    DefinitionInvalid,
    FormInvalid,
    InvalidAction,
    MotcuaError,
    NotFound,
    PermissionDenied,
)

STATUS = [
    (FormInvalid, 422, "invalid_data"),
    (DefinitionInvalid, 422, "invalid_definition"),
    (NotFound, 404, "not_found"),
    (CaseConflict, 409, "conflict"),
    (PermissionDenied, 403, "forbidden"),
    (InvalidAction, 409, "not_allowed"),
]


def status_of(err: MotcuaError) -> tuple[int, str]:
    for cls, status, code in STATUS:
        if isinstance(err, cls):
            return status, code
    return 400, "bad_request"


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register(app: Flask) -> None:
    @app.errorhandler(MotcuaError)
    def domain_error(err: MotcuaError):  # type: ignore[no-untyped-def]
        from .auth import Unauthenticated

        status, code = status_of(err)
        errors = err.errors if isinstance(err, FormInvalid) else {}
        if isinstance(err, Unauthenticated):
            if not wants_json():
                from flask import redirect, url_for

                return redirect(url_for("auth.login", next=request.full_path))
            response = jsonify(code="unauthorized", message=str(err), errors={})
            return response, 401, {"WWW-Authenticate": 'Bearer realm="motcua"'}
        if wants_json():
            return jsonify(code=code, message=str(err), errors=errors), status
        return render_template("error.html", status=status, message=str(err)), status

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):  # type: ignore[no-untyped-def]
        if wants_json():
            body = {"code": err.name.lower().replace(" ", "_"), "message": err.description, "errors": {}}
            data = getattr(err, "data", None)  # webargs/flask-smorest validation details
            if data and "messages" in data:
                body["errors"] = _flatten(data["messages"])
                body["code"] = "invalid_data"
            return jsonify(body), err.code
        return render_template("error.html", status=err.code, message=err.description), err.code

    @app.errorhandler(Exception)
    def unexpected(err: Exception):  # type: ignore[no-untyped-def]
        app.logger.exception("unexpected error")
        message = _("Something went wrong on our side; the error has been logged.")
        if wants_json():
            return jsonify(code="internal_error", message=message, errors={}), 500
        return render_template("error.html", status=500, message=message), 500


def _flatten(messages: dict, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in messages.items():
        if key in ("json", "form", "query", "files", "headers") and not prefix:
            out.update(_flatten(value, ""))
            continue
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(_flatten(value, path))
        elif key in ("json", "form", "query", "files", "headers"):
            out["_body"] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        else:
            out[path] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return out
