"""REST API under /api/v1 (flask-smorest, OpenAPI 3): procedures, dossiers, tasks, feedback.

The OpenAPI document is served at /api/v1/openapi.json and rendered, without any script from
elsewhere, at /api/v1/docs. Its committed copy, docs/openapi.json, is regenerated with
`python -m web.api.openapi > docs/openapi.json`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from ..extensions import csrf
from .schemas import ErrorSchema

DESCRIPTION = """REST API of motcua, the one-stop workflow engine for administrative procedures and
feedback on regulations.

Every operation except the procedure catalogue and the list of published feedback answers needs
a bearer token (`Authorization: Bearer <token>`), issued by an administrator for one agency and
one role. A token reads the cases of its agency and of the agencies below it, and acts only in its
own agency with its own role. Errors are always `{"code", "message", "errors"}`; `errors` names the
fields at fault."""

# Error responses the operations refer to by name; every one carries the same body.
RESPONSES = {
    "BadRequest": "The request is malformed (e.g. the body is not valid JSON).",
    "Unauthorized": "No API token, or an invalid or revoked one.",
    "Forbidden": "The token's role or agency does not allow this.",
    "NotFound": "No such resource within the token's reach.",
    "Conflict": "The case changed meanwhile, or is not in a state that allows this.",
    "InvalidData": "The data is invalid: `errors` lists the problems per field.",
    "Error": "Any other error.",
}


class MotcuaApi(Api):
    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = "Error"

    def _register_error_handlers(self) -> None:
        """web.errors answers every error, of the API too, in one shape."""

    def _register_responses(self) -> None:
        for name, description in RESPONSES.items():
            response: dict[str, Any] = {"description": description, "schema": ErrorSchema}
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(name, response, lazy=True)


def register_api(app: Flask) -> Api:
    from .dossiers import blp as dossiers
    from .feedback import blp as feedback
    from .procedures import blp as procedures
    from .tasks import blp as tasks

    api = MotcuaApi(app, spec_kwargs={"info": {"description": DESCRIPTION}})
    api.spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token issued for one agency and one role (`mct_...`).",
        },
    )
    for blueprint in (procedures, dossiers, tasks, feedback):
        csrf.exempt(blueprint)  # bearer tokens, not cookies: no CSRF exposure
        api.register_blueprint(blueprint, url_prefix=f"/api/v1{blueprint.url_prefix or ''}")
    app.register_blueprint(_docs_blueprint(api))
    return api


def _docs_blueprint(api: Api) -> Blueprint:
    docs = Blueprint("api_docs", __name__)

    @docs.get("/api/v1/docs")
    def reference() -> str:
        """The API reference, rendered on the server from the OpenAPI document (works offline)."""
        from .openapi import operations, prose, schemas

        spec = api.spec.to_dict()
        return render_template(
            "api/docs.html",
            spec=spec,
            intro=prose(spec["info"]["description"]),
            groups=operations(spec),
            schemas=schemas(spec),
        )

    return docs
