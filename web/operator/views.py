"""The operator page (/operator): deliveries by receiver and state, dead letters with their
attempts, replay (one or many), pause and resume a receiver with a reason.

Administrators only: anyone else signed in gets 403, an anonymous visitor the sign-in page. The
page calls `adapters.operations`, which checks the role again and logs every action."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from adapters import operations
from engine.actors import Actor
from engine.errors import FormInvalid, InvalidAction

from ..auth import require_actor
from ..services import motcua
from . import bp

PAGE_SIZE = 50
STATE_LABELS = {
    "pending": _l("Waiting"),
    "sending": _l("Sending"),
    "delivered": _l("Delivered"),
    "dead": _l("Dead letters"),
    "skipped": _l("Skipped"),
}
ACTION_LABELS = {
    "replay": _l("Replay"),
    "pause": _l("Pause"),
    "resume": _l("Resume"),
}


def _operator() -> Actor:
    actor = require_actor()
    if operations.OPERATOR_ROLE not in actor.roles:
        abort(403, description=_("Only administrators may open the delivery operator page."))
    return actor


@bp.get("/")
@login_required
def index() -> Any:
    _operator()
    m = motcua()
    receiver = request.args.get("receiver", "").strip() or None
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    letters = operations.dead_letters(m, receiver, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    return render_template(
        "operator/index.html",
        overview=operations.outbox_overview(m),
        letters=letters,
        receiver=receiver or "",
        page=page,
        pages=max((letters.total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        states=operations.STATES,
        state_labels=STATE_LABELS,
        action_labels=ACTION_LABELS,
        log=operations.operator_log(m),
    )


@bp.post("/replay")
@login_required
def replay() -> Any:
    actor = _operator()
    ids = [int(i) for i in request.form.getlist("delivery") if i.isdigit()]
    if not ids:
        flash(_("Choose at least one dead letter to replay."), "error")
    else:
        count = operations.replay_deliveries(motcua(), ids, actor)
        flash(_("%(n)s delivery(ies) queued again.", n=count), "info")
    return redirect(url_for(".index", receiver=request.form.get("receiver") or None))


@bp.post("/pause")
@login_required
def pause() -> Any:
    actor = _operator()
    receiver = request.form.get("receiver", "").strip()
    reason = request.form.get("reason", "").strip()
    try:
        operations.pause(motcua(), receiver, actor, reason)
    except FormInvalid as err:
        if "reason" in err.errors:
            flash(_("Say why the receiver is paused."), "error")
        if "receiver" in err.errors:
            flash(_("Name the receiver to pause (at most 64 characters)."), "error")
    except InvalidAction:
        flash(_("%(receiver)s is already paused.", receiver=receiver), "error")
    else:
        flash(_("%(receiver)s paused: its deliveries wait until it is resumed.", receiver=receiver), "info")
    return redirect(url_for(".index"))


@bp.post("/resume")
@login_required
def resume() -> Any:
    actor = _operator()
    receiver = request.form.get("receiver", "").strip()
    try:
        operations.resume(motcua(), receiver, actor)
    except InvalidAction:
        flash(_("%(receiver)s is not paused.", receiver=receiver), "error")
    else:
        flash(_("%(receiver)s resumed.", receiver=receiver), "info")
    return redirect(url_for(".index"))
