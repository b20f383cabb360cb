"""What the browser modeler must know about the engine's BPMN dialect, read from the engine and
its data at request time (roles from settings, statuses from statuses.json, forms and decisions
from processes/), so the properties panel and the live lint never drift from what
`motcua process check` enforces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from engine.definitions import DMN_NSS
from engine.motcua import Motcua
from engine.sandbox import SAFE_BUILTIN_NAMES
from engine.statuses import statuses
from engine.xml_safety import parse_xml

from ..staff.labels import _english

# Agency slots every case has; a procedure may declare more (`extra_agencies`), e.g. `partner`.
BASE_SLOTS = ("receiving", "resolving")


def dialect(m: Motcua) -> dict[str, Any]:
    english = _english()
    return {
        "roles": list(m.settings.roles),
        "agencySlots": [*BASE_SLOTS, *_extra_slots(m)],
        "statuses": [
            {"key": key, "label": f"{s.en if english else s.vi} ({kind})"}
            for (kind, key), s in statuses().items()
        ],
        "decisions": decisions(m.settings.processes_dir, m.settings.max_definition_bytes),
        "functions": sorted(m.checker().functions),
        "builtins": sorted(SAFE_BUILTIN_NAMES),
        "caseDates": [
            {"expr": "received_at", "label": _("Date received")},
            {"expr": "appointment()", "label": _("Appointment (result due)")},
            {"expr": "now()", "label": _("When this step starts")},
        ],
    }


def shipped_forms(m: Motcua) -> dict[str, Any]:
    """Every form under processes/forms/ by its name (`dossier/check.json`); unreadable ones are
    left out here and reported by the checker when a task names them."""
    root = m.forms_dir
    forms: dict[str, Any] = {}
    for path in sorted(root.rglob("*.json")):
        try:
            forms[path.relative_to(root).as_posix()] = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
    return forms


def decisions(processes_dir: Path, max_bytes: int) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for path in sorted(processes_dir.glob("*.dmn")):
        root, _problems = parse_xml(path.read_bytes(), path.name, max_bytes)
        if root is None:  # a broken DMN file is the checker's to report, not the page's
            continue
        for ns in DMN_NSS:
            for el in root.iter(f"{{{ns}}}decision"):
                if el.get("id"):
                    out.append(
                        {"id": el.get("id"), "name": el.get("name") or el.get("id"), "file": path.name}
                    )
    return out


def _extra_slots(m: Motcua) -> list[str]:
    from sqlalchemy import select

    from engine.db import transaction
    from engine.models import Procedure

    slots: set[str] = set()
    with transaction(m.sessions) as session:
        for extra in session.scalars(select(Procedure.extra_agencies)):
            slots.update((extra or {}).keys())
    return sorted(slots - set(BASE_SLOTS))
