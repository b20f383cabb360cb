"""Procedure catalogue endpoints."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from engine.db import transaction
from engine.models import Procedure

from ..services import motcua

blp = Blueprint("procedures", __name__, description="Administrative procedures (thủ tục hành chính)")


class ProcedureSchema(Schema):
    code = fields.String()
    version = fields.Integer()
    name = fields.String()
    field = fields.String()
    time_limit = fields.Float()
    time_unit = fields.String()


@blp.get("/procedures")
@blp.response(200, ProcedureSchema(many=True))
def list_procedures():  # type: ignore[no-untyped-def]
    """Procedures in the catalogue."""
    with transaction(motcua().sessions) as session:
        return session.scalars(select(Procedure).order_by(Procedure.code, Procedure.version)).all()
