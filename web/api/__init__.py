"""REST API under /api/v1 (flask-smorest, OpenAPI 3)."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from ..extensions import csrf


def register_api(app: Flask) -> Api:
    from .procedures import blp as procedures

    api = Api(app)
    for blueprint in (procedures,):
        csrf.exempt(blueprint)  # bearer tokens, not cookies: no CSRF exposure
        api.register_blueprint(blueprint, url_prefix=f"/api/v1{blueprint.url_prefix or ''}")
    return api
