"""Auditor views: search, case history, hash-chain verification, CSV export. Read-only."""

from flask import Blueprint

bp = Blueprint("audit", __name__)

from . import views  # noqa: E402,F401  (routes register on import)
