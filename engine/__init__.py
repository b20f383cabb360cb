"""motcua engine: BPMN cases for Vietnamese administrative procedures and citizen feedback.
No Flask here; `web/` and `adapters/` build on this package."""

from .actors import SYSTEM, Actor
from .motcua import Motcua

__all__ = ["SYSTEM", "Actor", "Motcua"]
