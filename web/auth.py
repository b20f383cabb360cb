"""Staff sign-in (Flask-Login sessions, CSRF-protected form, lockout in the engine) and bearer
tokens for integrators. Whatever the way in, a request ends up with an engine Actor."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from engine.access import AccountLocked, authenticate_token
from engine.access import login as engine_login
from engine.actors import Actor
from engine.errors import NotFound, PermissionDenied

from .extensions import limiter, login_manager
from .services import motcua

bp = Blueprint("auth", __name__)


@dataclass
class StaffUser(UserMixin):
    actor: Actor

    def get_id(self) -> str:
        return self.actor.username


@login_manager.user_loader
def load_user(username: str) -> StaffUser | None:
    try:
        return StaffUser(motcua().actor_for(username))
    except NotFound:
        return None


class Unauthenticated(PermissionDenied):
    """No valid credentials: answered 401 (with WWW-Authenticate on the API), not 403."""


def current_actor() -> Actor | None:
    """The Actor of this request: a bearer token on the API, the signed-in staff member on pages.
    The API never accepts the session cookie: it is CSRF-exempt, so a cookie there could be
    ridden by another site."""
    if "actor" in g:
        return g.actor
    header = request.headers.get("Authorization", "")
    actor: Actor | None = None
    if request.path.startswith("/api/"):
        if header:
            scheme, _, token = header.partition(" ")
            if scheme != "Bearer" or not token.strip():
                raise Unauthenticated("use an Authorization: Bearer <token> header")
            try:
                actor = authenticate_token(motcua(), token.strip())
            except PermissionDenied as err:
                raise Unauthenticated(str(err)) from None
    elif current_user.is_authenticated:
        actor = current_user.actor
    g.actor = actor
    return actor


def require_actor() -> Actor:
    actor = current_actor()
    if actor is None:
        raise Unauthenticated("sign in first")
    return actor


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():  # type: ignore[no-untyped-def]
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        try:
            actor = engine_login(motcua(), username, password)
        except AccountLocked:
            flash(_("Too many failed attempts: the account is locked for a while."), "error")
            return render_template("login.html", username=username), 403
        except PermissionDenied:
            flash(_("Wrong username or password."), "error")
            return render_template("login.html", username=username), 401
        login_user(StaffUser(actor))
        return redirect(_safe_next(request.args.get("next")) or url_for("staff.inbox"))
    return render_template("login.html", username="")


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    return redirect(url_for("public.home"))


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: an open redirect would help phishing."""
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") else None
