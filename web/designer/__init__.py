"""Process designer: edit BPMN in the browser, check it as the engine will, deploy versions, see
where open cases wait, migrate them between versions and run the process's scenarios
(docs/designer.md)."""

from flask import Blueprint

bp = Blueprint("designer", __name__)

from . import views  # noqa: E402,F401  (routes register on import)
