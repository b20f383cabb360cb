"""Flask application factory. `web/` holds no workflow logic: every read and write goes through
the engine (engine.Motcua and its services)."""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, request, session
from flask_babel import format_datetime

from engine.motcua import Motcua

from . import errors
from .extensions import babel, csrf, limiter, login_manager

WEB_DIR = Path(__file__).resolve().parent
LANGUAGES = ("vi", "en")


def create_app(motcua: Motcua | None = None, config: dict[str, Any] | None = None) -> Flask:
    motcua = motcua or Motcua.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_secret_key(motcua),
        BABEL_DEFAULT_LOCALE="vi",
        BABEL_DEFAULT_TIMEZONE="Asia/Ho_Chi_Minh",
        BABEL_TRANSLATION_DIRECTORIES=";".join(str(p) for p in _translation_dirs()),
        # A whole request may carry several files, each within the per-file limit checked by
        # engine.uploads; the request cap only stops abuse.
        MAX_CONTENT_LENGTH=int(os.environ.get("MOTCUA_MAX_REQUEST_MB", "60")) * 1024 * 1024,
        LOGIN_RATE_LIMIT=os.environ.get("MOTCUA_LOGIN_RATE_LIMIT", "10 per minute"),
        PUBLIC_RATE_LIMIT=os.environ.get("MOTCUA_PUBLIC_RATE_LIMIT", "20 per minute"),
        # One process: memory. Several web processes: a shared store, e.g. redis://127.0.0.1:6379.
        RATELIMIT_STORAGE_URI=os.environ.get("MOTCUA_RATELIMIT_STORAGE", "memory://"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        API_TITLE="motcua API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.config.update(config or {})
    app.json.ensure_ascii = False  # Vietnamese as text, not \\uXXXX escapes
    app.extensions["motcua"] = motcua

    babel.init_app(app, locale_selector=_select_locale)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    limiter.init_app(app)

    from . import auth
    from .api import register_api
    from .audit import bp as audit_bp
    from .designer import bp as designer_bp
    from .open311 import bp as open311_bp
    from .operator import bp as operator_bp
    from .public import bp as public_bp
    from .staff import bp as staff_bp

    app.register_blueprint(auth.bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(staff_bp, url_prefix="/staff")
    app.register_blueprint(audit_bp, url_prefix="/audit")
    app.register_blueprint(designer_bp, url_prefix="/designer")
    app.register_blueprint(operator_bp, url_prefix="/operator")
    app.register_blueprint(open311_bp, url_prefix="/open311/v2")
    register_api(app)
    errors.register(app)  # after the API: its own HTTP error handler must not win

    @app.before_request
    def remember_language() -> None:
        lang = request.args.get("lang")
        if lang in LANGUAGES:
            session["lang"] = lang

    @app.context_processor
    def template_helpers() -> dict[str, Any]:
        from .auth import current_actor

        def local_time(value: datetime | None, fmt: str = "HH:mm dd/MM/yyyy") -> str:
            return format_datetime(value, fmt) if value else ""

        return {"local_time": local_time, "current_actor": current_actor, "languages": LANGUAGES}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _select_locale() -> str:
    # Vietnamese unless the person chose English (?lang=en): the browser's own language is often
    # English on office machines and must not decide what a Vietnamese desk sees.
    return session.get("lang") or "vi"


def _translation_dirs() -> list[Path]:
    dirs = [WEB_DIR / "translations"]
    dirs += sorted(p for p in WEB_DIR.glob("*/translations") if p.is_dir())
    return dirs


def _secret_key(motcua: Motcua) -> str:
    """Signs session cookies and CSRF tokens: from MOTCUA_FLASK_SECRET, else a key file kept in
    MOTCUA_HOME (created once, owner-only)."""
    if os.environ.get("MOTCUA_FLASK_SECRET"):
        return os.environ["MOTCUA_FLASK_SECRET"]
    path = Path(motcua.settings.home) / "flask.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()
