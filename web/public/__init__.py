"""Public portal (no login): catalogue, online filing, status lookup, feedback."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from . import views  # noqa: E402,F401  (routes register on import)
