"""Staff pages."""

from __future__ import annotations

from flask import render_template
from flask_login import login_required

from ..auth import require_actor
from ..services import motcua
from . import bp


@bp.get("/")
@login_required
def inbox() -> str:
    actor = require_actor()
    return render_template("staff/inbox.html", tasks=motcua().inbox(actor))
