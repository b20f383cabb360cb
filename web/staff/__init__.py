"""Staff workspace: reception, inbox, task and case pages."""

from flask import Blueprint

bp = Blueprint("staff", __name__)

from . import views  # noqa: E402,F401  (routes register on import)
