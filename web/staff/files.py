"""Files at the desk: the component scans attached at reception, and the case's files as the
case page lists them. Checking and storing is `engine.uploads` (type sniffed from the first
bytes, size limit, generated names outside the web root); this module maps its refusals to the
reception form's fields and its rows to what people read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import request
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from engine.models import Procedure, Upload
from engine.motcua import Motcua
from engine.uploads import IncomingFile, UploadRefused, discard_uploads, save_upload

TYPE_NAMES = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}
ACCEPT = "application/pdf,image/jpeg,image/png,.pdf,.jpg,.jpeg,.png"


def component_files(procedure: Procedure) -> dict[int, list[IncomingFile]]:
    """The files posted for each component (`file_<index>`), by component index. An input left
    empty is sent by browsers as a part without a filename: skipped."""
    found: dict[int, list[IncomingFile]] = {}
    for index, spec in enumerate(procedure.components or []):
        for item in request.files.getlist(f"file_{index}"):
            if isinstance(item, FileStorage) and item.filename:
                found.setdefault(index, []).append(
                    IncomingFile(item.filename, item.stream, str(spec.get("name", "")))
                )
    return found


def refusal_message(err: UploadRefused) -> str:
    """What the officer reads at the component's field; names the file as it was called."""
    if err.reason == "size":
        mb = f"{err.limit_bytes / (1024 * 1024):g}"
        return _("%(file)s is larger than the limit of %(mb)s MB.", file=err.label, mb=mb)
    if err.reason == "empty":
        return _("%(file)s is an empty file.", file=err.label)
    return _("%(file)s is not a PDF, JPEG or PNG file.", file=err.label)


def store(
    m: Motcua, files: dict[int, list[IncomingFile]]
) -> tuple[list[tuple[int, Upload]], dict[str, list[str]]]:
    """Check and store every file before the case exists (case_id None), so one submission
    reports every refused file at its own component; the caller discards them all when anything
    was refused, or attaches them to the new case."""
    saved: list[tuple[int, Upload]] = []
    errors: dict[str, list[str]] = {}
    try:
        for index, items in files.items():
            for item in items:
                try:
                    saved.append((index, save_upload(m, None, "component", item.filename, item.stream)))
                except UploadRefused as err:
                    errors.setdefault(f"file_{index}", []).append(refusal_message(err))
    except BaseException:
        discard(m, saved)
        raise
    return saved, errors


def discard(m: Motcua, saved: Iterable[tuple[int, Upload]]) -> None:
    discard_uploads(m, [upload.id for _index, upload in saved])


@dataclass(frozen=True)
class CaseFileRow:
    """A file of the case as the case page lists it."""

    id: int
    label: str
    component: str
    purpose: str
    type_name: str
    size: int
    received_at: datetime


def rows(uploads: Iterable[Upload], data: dict[str, Any]) -> list[CaseFileRow]:
    """`data["component_files"]` (written at reception) says which component each scan is."""
    components = {
        int(item["upload_id"]): str(item.get("component", ""))
        for item in data.get("component_files") or []
        if isinstance(item, dict) and str(item.get("upload_id", "")).isdigit()
    }
    return [
        CaseFileRow(
            id=u.id,
            label=u.label,
            component=components.get(u.id, ""),
            purpose=u.purpose,
            type_name=TYPE_NAMES.get(u.content_type, u.content_type),
            size=u.size,
            received_at=u.created_at,
        )
        for u in uploads
    ]
