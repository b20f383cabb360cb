"""Portal pages."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from engine.db import transaction
from engine.models import Procedure

from ..services import motcua
from . import bp


@bp.get("/")
def home() -> str:
    with transaction(motcua().sessions) as session:
        procedures = session.scalars(select(Procedure).order_by(Procedure.code, Procedure.version)).all()
    return render_template("public/home.html", procedures=procedures)
