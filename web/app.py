"""Flask application factory. Until the full web layer lands this serves an overview page; it
holds no workflow logic, only reads through the engine."""

from __future__ import annotations

from flask import Flask, render_template
from sqlalchemy import func, select

from engine.db import transaction
from engine.models import Agency, Case, HumanTask, Procedure
from engine.motcua import Motcua
from engine.statuses import get_status


def create_app(motcua: Motcua) -> Flask:
    app = Flask(__name__)
    app.extensions["motcua"] = motcua

    @app.get("/")
    def index() -> str:
        with transaction(motcua.sessions) as session:
            procedures = session.scalars(select(Procedure).order_by(Procedure.code, Procedure.version)).all()
            cases = session.scalars(select(Case).order_by(Case.id.desc()).limit(50)).all()
            agencies = {a.id: a.name for a in session.scalars(select(Agency))}
            open_tasks = dict(
                session.execute(
                    select(HumanTask.case_id, func.count())
                    .where(HumanTask.status == "open")
                    .group_by(HumanTask.case_id)
                ).all()
            )
            rows = [
                {
                    "code": c.code,
                    "kind": c.kind,
                    "title": c.title,
                    "status": get_status(c.kind, c.status).vi if c.status else "",
                    "agency": agencies.get(c.receiving_agency_id, ""),
                    "appointment": c.appointment_at.astimezone(motcua.calendar.tz).strftime("%H:%M %d/%m/%Y")
                    if c.appointment_at
                    else "",
                    "tasks": open_tasks.get(c.id, 0),
                }
                for c in cases
            ]
        return render_template("index.html", procedures=procedures, cases=rows)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
