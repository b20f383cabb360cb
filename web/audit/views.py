"""Auditor pages."""

from __future__ import annotations

from flask import render_template
from flask_login import login_required

from . import bp


@bp.get("/")
@login_required
def search() -> str:
    return render_template("audit/search.html")
