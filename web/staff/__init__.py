"""Staff workspace: reception, inbox, task and case pages, printable forms (docs/staff.md)."""

from typing import Any

from flask import Blueprint

bp = Blueprint("staff", __name__)


@bp.context_processor
def _staff_helpers() -> dict[str, Any]:
    from .labels import helpers

    return helpers()


from . import views  # noqa: E402,F401  (routes register on import)
