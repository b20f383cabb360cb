"""Words the staff pages show for the engine's keys (statuses, roles, event types, step
results), in the page's language. Status labels come from `engine/data/statuses.json`, the
single list of statuses; the rest are the blueprint's translated strings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from engine.calendar import VN_TZ
from engine.statuses import get_status, statuses


def _english() -> bool:
    locale = get_locale()
    return locale is not None and locale.language == "en"


def status_label(kind: str, key: str) -> str:
    try:
        status = get_status(kind, key)
    except KeyError:
        return key
    return status.en if _english() else status.vi


def status_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The statuses for the inbox filter, grouped by kind of case (in the order of the data)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for (kind, key), status in statuses().items():
        groups.setdefault(kind, []).append((key, status.en if _english() else status.vi))
    return [(kind, groups[kind]) for kind in groups]


ROLES: dict[str, Any] = {
    "officer": _l("One-stop officer"),
    "specialist": _l("Specialist"),
    "leader": _l("Leader"),
    "designer": _l("Process designer"),
    "auditor": _l("Auditor"),
    "admin": _l("Administrator"),
}

EVENTS: dict[str, Any] = {
    "case_started": _l("Case started"),
    "status_changed": _l("Status changed"),
    "task_created": _l("Task handed over"),
    "task_completed": _l("Task completed"),
    "task_claimed": _l("Task claimed"),
    "task_released": _l("Task released"),
    "task_assigned": _l("Task assigned"),
    "task_cancelled": _l("Task cancelled"),
    "appointment_changed": _l("Appointment set or moved"),
    "clock_paused": _l("Clock paused"),
    "clock_resumed": _l("Clock resumed"),
    "timer_fired": _l("Time limit reached"),
    "message_received": _l("Message received"),
    "case_finished": _l("Case finished"),
    "personal_data_viewed": _l("ID number viewed"),
}

DUE_STATES: dict[str, Any] = {
    "overdue": _l("Overdue"),
    "soon": _l("Due within a working day"),
    "later": _l("Not urgent"),
    "none": _l("No due time"),
}

RESULTS: dict[str, Any] = {"early": _l("Early"), "on_time": _l("On time"), "late": _l("Late")}

CHANNELS: dict[str, Any] = {"direct": _l("At the desk"), "postal": _l("By post"), "online": _l("Online")}

KINDS: dict[str, Any] = {"dossier": _l("Dossier"), "feedback": _l("Feedback")}

PURPOSES: dict[str, Any] = {
    "component": _l("Dossier component"),
    "supplement": _l("Supplement"),
    "feedback": _l("Feedback attachment"),
}


def _lookup(table: dict[str, Any]) -> Callable[[str | None], str]:
    def label(key: str | None) -> str:
        return str(table[key]) if key in table else (key or "")

    return label


def hours(value: float) -> str:
    """Working hours as the page prints them: "12,5" in Vietnamese, "12.5" in English."""
    text = f"{abs(value):.1f}".removesuffix(".0")
    return text if _english() else text.replace(".", ",")


def file_size(size: int) -> str:
    """A file size as people read it: "850 B", "12,4 KB", "2,1 MB" (decimal comma in Vietnamese)."""
    if size < 1024:
        text = f"{size} B"
    elif size < 1024 * 1024:
        text = f"{size / 1024:.1f} KB"
    else:
        text = f"{size / (1024 * 1024):.1f} MB"
    return text if _english() else text.replace(".", ",")


def iso_time(value: Any) -> str:
    """An instant stored as ISO text in event data, shown in Hà Nội time like `local_time`."""
    if not value:
        return ""
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if instant.tzinfo is not None:
        instant = instant.astimezone(VN_TZ)
    return instant.strftime("%H:%M %d/%m/%Y")


def helpers() -> dict[str, Any]:
    return {
        "status_label": status_label,
        "role_label": _lookup(ROLES),
        "event_label": _lookup(EVENTS),
        "due_label": _lookup(DUE_STATES),
        "result_label": _lookup(RESULTS),
        "channel_label": _lookup(CHANNELS),
        "kind_label": _lookup(KINDS),
        "purpose_label": _lookup(PURPOSES),
        "file_size": file_size,
        "fmt_hours": hours,
        "iso_time": iso_time,
        "is_english": _english,
    }
