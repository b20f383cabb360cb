"""Access to the engine from request code."""

from __future__ import annotations

from flask import current_app

from engine.motcua import Motcua


def motcua() -> Motcua:
    return current_app.extensions["motcua"]
