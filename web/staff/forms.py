"""Task forms rendered from the task's JSON Schema (as deployed with the case's process) and
the submitted HTML form turned back into task data.

The schema stays the single description of a task's data: widgets are chosen from it, and the
engine (`complete_task`) remains the judge of validity. What this module checks itself is only
what an HTML input cannot express (a date-time typed in local wall-clock time, a number typed
as text); such a field is sent to the engine as `null`, which every typed schema refuses, so the
engine still reports every other mistake of the same submission in one answer."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from engine.calendar import VN_TZ

# Longer strings get a textarea: one line is fine for a name or a reference number, not for
# reasons or opinions.
TEXTAREA_ABOVE = 200
FORM_ERRORS = "_form"


@dataclass
class Field:
    name: str
    label: str
    help: str
    # text | textarea | select | checkbox | lines | checkboxes | datetime | number | integer | json
    widget: str
    required: bool
    options: list[tuple[str, str]] = field(default_factory=list)
    # What the input shows: a string for text-like widgets, a bool for a checkbox, a list of
    # chosen values for checkboxes.
    value: Any = ""
    errors: list[str] = field(default_factory=list)
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None


def widget_for(spec: Mapping[str, Any]) -> str:
    kind = spec.get("type")
    if kind == "string":
        if "enum" in spec:
            return "select"
        if spec.get("format") == "date-time":
            return "datetime"
        return "textarea" if int(spec.get("maxLength", 0) or 0) > TEXTAREA_ABOVE else "text"
    if kind == "boolean":
        return "checkbox"
    if kind == "integer":
        return "integer"
    if kind == "number":
        return "number"
    if kind == "array":
        items = spec.get("items") or {}
        if items.get("type") == "string" and "enum" in items:
            return "checkboxes"
        return "lines"
    return "json"


def options_for(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(value, label) pairs; labels from the Vietnamese `x-enumTitles` annotation when present."""
    values = [str(v) for v in spec.get("enum", [])]
    titles = spec.get("x-enumTitles") or []
    return [(v, str(titles[i]) if i < len(titles) else v) for i, v in enumerate(values)]


def build_fields(
    schema: Mapping[str, Any],
    submitted: MultiDict[str, str] | None = None,
    errors: Mapping[str, list[str]] | None = None,
) -> list[Field]:
    """The fields of `schema`, showing what the user submitted (nothing typed is lost on an
    error) and the errors of each field."""
    required = set(schema.get("required", []))
    by_field = group_errors(errors or {}, schema)
    out = []
    for name, spec in (schema.get("properties") or {}).items():
        widget = widget_for(spec)
        options = options_for(spec.get("items", {}) if widget == "checkboxes" else spec)
        out.append(
            Field(
                name=name,
                label=str(spec.get("title") or name),
                help=str(spec.get("description") or ""),
                widget=widget,
                required=name in required,
                options=options,
                value=_shown_value(widget, name, submitted),
                errors=by_field.get(name, []),
                max_length=spec.get("maxLength"),
                minimum=spec.get("minimum"),
                maximum=spec.get("maximum"),
            )
        )
    return out


def form_errors(errors: Mapping[str, list[str]], schema: Mapping[str, Any]) -> list[str]:
    """Errors that belong to no field of the form (shown above it)."""
    return group_errors(errors, schema).get(FORM_ERRORS, [])


def group_errors(errors: Mapping[str, list[str]], schema: Mapping[str, Any]) -> dict[str, list[str]]:
    """Engine error paths ("missing_items.0", "reception_decision") mapped to the form's fields,
    with the validator's wording replaced by a sentence a clerk understands."""
    names = set((schema.get("properties") or {}).keys())
    out: dict[str, list[str]] = {}
    for path, messages in errors.items():
        head = path.split(".", 1)[0]
        key = head if head in names else FORM_ERRORS
        for message in messages:
            text = friendly(message)
            if text not in out.setdefault(key, []):
                out[key].append(text)
    return out


_FRIENDLY: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"this field is required|is a required property"), lambda: _("This field is required.")),
    (re.compile(r"is not one of"), lambda: _("Choose one of the listed values.")),
    (re.compile(r"is not a 'date-time'"), lambda: _("Enter a date and time.")),
    (re.compile(r"should be non-empty"), lambda: _("This field is required.")),
    (re.compile(r"is too short|does not have enough"), lambda: _("This is too short.")),
    (re.compile(r"is too long|expected at most|has too many|is too big"), lambda: _("This is too long.")),
    (re.compile(r"is not of type"), lambda: _("This value has the wrong type.")),
    (re.compile(r"has non-unique elements"), lambda: _("Each value may be given once only.")),
]


def friendly(message: str) -> str:
    for pattern, text in _FRIENDLY:
        if pattern.search(message):
            return str(text())
    return message


def parse(
    schema: Mapping[str, Any], form: MultiDict[str, str]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Task data from the submitted form, and the fields this module could not read.

    Empty inputs are left out (an optional field stays absent; a required one is reported
    missing by the engine); a field that cannot be read is sent as `null` so the engine refuses
    it, and its own message replaces the engine's."""
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, spec in (schema.get("properties") or {}).items():
        widget = widget_for(spec)
        try:
            value = _read(widget, spec, name, form)
        except ValueError as err:
            errors[name] = [str(err)]
            data[name] = None
            continue
        if value is not _ABSENT:
            data[name] = value
    return data, errors


_ABSENT = object()


def _read(widget: str, spec: Mapping[str, Any], name: str, form: MultiDict[str, str]) -> Any:
    if widget == "checkbox":
        # An unticked box is not sent at all: it means "no".
        return form.get(name, "").lower() in ("on", "true", "1", "yes")
    if widget == "checkboxes":
        chosen = [v for v in form.getlist(name) if v]
        return chosen or _ABSENT
    raw = _clean(form.get(name, ""))
    if widget == "lines":
        items = [_clean(line) for line in raw.splitlines()]
        items = [item for item in items if item]
        return items or _ABSENT
    if raw == "":
        return _ABSENT
    if widget == "datetime":
        return local_to_iso(raw)
    if widget == "integer":
        try:
            return int(raw.replace(" ", ""))
        except ValueError:
            raise ValueError(_("Enter a whole number.")) from None
    if widget == "number":
        text = raw.replace(" ", "")
        if "," in text and "." not in text:
            text = text.replace(",", ".")  # Vietnamese writes 1,5 for 1.5
        try:
            return float(text)
        except ValueError:
            raise ValueError(_("Enter a number.")) from None
    if widget == "json":
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(_("Enter valid JSON.")) from None
    return raw


@dataclass(frozen=True)
class DataLine:
    label: str
    before: str | None
    after: str


def describe(
    schema: Mapping[str, Any] | None, after: Mapping[str, Any], before: Mapping[str, Any] | None = None
) -> list[DataLine]:
    """Task data as a clerk reads it: field titles instead of keys, enum labels instead of
    codes, lists joined, instants in Hà Nội time. Keys the form does not know are kept as is."""
    properties = (schema or {}).get("properties") or {}
    lines = []
    for key, value in after.items():
        spec = properties.get(key, {})
        old = (before or {}).get(key)
        lines.append(
            DataLine(
                label=str(spec.get("title") or key),
                before=None if old is None else _text(spec, old),
                after=_text(spec, value),
            )
        )
    return lines


def _text(spec: Mapping[str, Any], value: Any) -> str:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        items = spec.get("items") or {}
        return "; ".join(_text(items, v) for v in value)
    if "enum" in spec:
        labels = dict(options_for(spec))
        return labels.get(str(value), str(value))
    if spec.get("format") == "date-time" and isinstance(value, str):
        local = iso_to_local(value)
        return local.replace("T", " ") if local else value
    return "" if value is None else str(value)


def local_to_iso(raw: str) -> str:
    """A `datetime-local` value (wall-clock time in Hà Nội) as ISO 8601 with +07:00; an instant
    that already carries an offset is converted to Hà Nội time."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(_("Enter a date and time.")) from None
    value = value.replace(tzinfo=VN_TZ) if value.tzinfo is None else value.astimezone(VN_TZ)
    return value.isoformat(timespec="seconds")


def iso_to_local(value: str | datetime | None) -> str:
    """The `datetime-local` input value for an instant (empty when there is none)."""
    if not value:
        return ""
    try:
        instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if instant.tzinfo is not None:
        instant = instant.astimezone(VN_TZ)
    return instant.strftime("%Y-%m-%dT%H:%M")


def _shown_value(widget: str, name: str, submitted: MultiDict[str, str] | None) -> Any:
    if submitted is None:
        return [] if widget == "checkboxes" else (False if widget == "checkbox" else "")
    if widget == "checkbox":
        return submitted.get(name, "").lower() in ("on", "true", "1", "yes")
    if widget == "checkboxes":
        return submitted.getlist(name)
    return submitted.get(name, "")


def _clean(text: str) -> str:
    # NFC so that the same Vietnamese word typed on two keyboards is stored the same way.
    return unicodedata.normalize("NFC", text).strip()
