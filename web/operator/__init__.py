"""Operator page for outbox delivery: counts per receiver, dead letters, replay, pause/resume."""

from flask import Blueprint

bp = Blueprint("operator", __name__)

from . import views  # noqa: E402,F401  (routes register on import)
