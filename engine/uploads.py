"""Files received from the public (dossier components, supplements, feedback attachments).

A file is stored outside the web root under `<MOTCUA_HOME>/uploads/` with a generated name, so
nothing the client sends ever becomes part of a path; the client's filename survives only as a
sanitised label for people to read. The type is decided from the file's first bytes, never from
its name or the declared content type (a renamed `.exe` is refused), and the size is checked
while reading, so an oversized file is never held in memory."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select, update

from .errors import InvalidAction, NotFound
from .models import Upload
from .motcua import Motcua

DEFAULT_MAX_UPLOAD_MB = 10
PURPOSES = ("component", "supplement", "feedback")
_CHUNK = 64 * 1024
# Signatures of the only types the public may send. PNG uses its full 8-byte signature: a file
# that starts like a PNG but is not one is refused as well.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
_SNIFF_BYTES = max(len(s) for s, _ in _SIGNATURES)
EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}


class UploadRefused(InvalidAction):
    """A file the portal does not take. `reason` is `type`, `size` or `empty`; `label` names the
    file as the sender called it (sanitised), so the message can say which one."""

    def __init__(self, label: str, reason: str, limit_bytes: int = 0):
        self.label, self.reason, self.limit_bytes = label, reason, limit_bytes
        if reason == "size":
            message = f"file {label!r} is larger than {limit_bytes / (1024 * 1024):g} MB"
        elif reason == "empty":
            message = f"file {label!r} is empty"
        else:
            message = f"file {label!r} is not a PDF, JPEG or PNG file"
        super().__init__(message)


@dataclass(frozen=True)
class IncomingFile:
    """A file as it arrives: the sender's name for it, its bytes, and (for dossiers) which
    component of the procedure it is."""

    filename: str
    stream: BinaryIO
    component: str | None = None


def max_upload_bytes() -> int:
    """MOTCUA_MAX_UPLOAD_MB (default 10) per file; read on every call so an operator can change
    it without touching code, and tests can lower it."""
    raw = os.environ.get("MOTCUA_MAX_UPLOAD_MB", "").strip()
    megabytes = float(raw) if raw else DEFAULT_MAX_UPLOAD_MB
    return int(megabytes * 1024 * 1024)


def uploads_dir(m: Motcua) -> Path:
    return Path(m.settings.home) / "uploads"


def upload_path(m: Motcua, upload: Upload) -> Path:
    """Where an upload's bytes are. Sharded by the first two hex digits so no directory grows huge."""
    return uploads_dir(m) / upload.stored_name[:2] / upload.stored_name


def sanitise_label(filename: str | None) -> str:
    """The client's filename reduced to something safe to show: no directory part, no control
    characters, Vietnamese letters kept (werkzeug's secure_filename would drop them)."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = re.sub(r"\s+", " ", name).strip().lstrip(".")
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:200]
    return name or "file"


def _read_at_least(stream: BinaryIO, n: int) -> bytes:
    """Up to `n` bytes, or fewer only at the end of the stream (a read may return less)."""
    data = b""
    while len(data) < n:
        chunk = stream.read(max(n - len(data), _CHUNK))
        if not chunk:
            break
        data += chunk
    return data


def sniff(head: bytes) -> str | None:
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def save_upload(
    m: Motcua,
    case_id: int | None,
    purpose: str,
    filename: str,
    stream: BinaryIO,
    *,
    max_bytes: int | None = None,
) -> Upload:
    """Check and store one file; the Upload row is committed before this returns. `case_id` may
    be None for a file received before its case exists (online filing): link it afterwards with
    `attach_uploads`."""
    if purpose not in PURPOSES:
        raise InvalidAction(f"upload purpose {purpose!r} must be one of {', '.join(PURPOSES)}")
    label = sanitise_label(filename)
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    stored_name = uuid.uuid4().hex
    final = uploads_dir(m) / stored_name[:2] / stored_name
    # Owner-only directories as well: nothing here is meant to be served or browsed.
    final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = final.with_name(f".{stored_name}.part")
    digest = hashlib.sha256()
    try:
        # The type is decided once, from the first bytes, before anything is kept.
        head = _read_at_least(stream, _SNIFF_BYTES)
        if not head:
            raise UploadRefused(label, "empty")
        content_type = sniff(head)
        if content_type is None:
            raise UploadRefused(label, "type")
        # Owner-only: these are citizens' documents.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            chunk, size = head, 0
            while chunk:
                size += len(chunk)
                if size > limit:
                    raise UploadRefused(label, "size", limit)
                digest.update(chunk)
                out.write(chunk)
                chunk = stream.read(_CHUNK)
        # Atomic: a reader never sees a half-written file under its final name.
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    try:
        with m._transaction() as session:
            upload = Upload(
                case_id=case_id,
                purpose=purpose,
                label=label,
                stored_name=stored_name,
                content_type=content_type,
                size=size,
                sha256=digest.hexdigest(),
                created_at=m.clock.now(),
            )
            session.add(upload)
            session.flush()
        return upload
    except BaseException:
        final.unlink(missing_ok=True)
        raise


def attach_uploads(m: Motcua, upload_ids: Iterable[int], case_id: int) -> None:
    """Link files received before their case existed to that case."""
    ids = list(upload_ids)
    if not ids:
        return
    with m._transaction() as session:
        session.execute(
            update(Upload).where(Upload.id.in_(ids), Upload.case_id.is_(None)).values(case_id=case_id)
        )


def discard_uploads(m: Motcua, upload_ids: Iterable[int]) -> None:
    """Remove files (rows and bytes) whose case was never created: a filing that failed after
    its files were accepted must not leave citizens' documents behind."""
    ids = list(upload_ids)
    if not ids:
        return
    with m._transaction() as session:
        rows = session.scalars(select(Upload).where(Upload.id.in_(ids), Upload.case_id.is_(None))).all()
        paths = [upload_path(m, row) for row in rows]
        for row in rows:
            session.delete(row)
    for path in paths:
        path.unlink(missing_ok=True)


def save_all(m: Motcua, case_id: int | None, purpose: str, files: Iterable[IncomingFile]) -> list[Upload]:
    """Store several files, all or none: when one is refused, the ones already stored are
    removed again (only possible while they belong to no case)."""
    saved: list[Upload] = []
    try:
        for item in files:
            saved.append(save_upload(m, case_id, purpose, item.filename, item.stream))
    except BaseException:
        if case_id is None:
            discard_uploads(m, [u.id for u in saved])
        else:
            _remove(m, saved)
        raise
    return saved


def _remove(m: Motcua, uploads: list[Upload]) -> None:
    if not uploads:
        return
    with m._transaction() as session:
        for upload in uploads:
            row = session.get(Upload, upload.id)
            if row is not None:
                session.delete(row)
    for upload in uploads:
        upload_path(m, upload).unlink(missing_ok=True)


def uploads_of(m: Motcua, case_id: int) -> list[Upload]:
    with m._transaction() as session:
        return list(session.scalars(select(Upload).where(Upload.case_id == case_id).order_by(Upload.id)))


def get_upload(m: Motcua, upload_id: int) -> Upload:
    with m._transaction() as session:
        upload = session.get(Upload, upload_id)
        if upload is None:
            raise NotFound(f"upload {upload_id} does not exist")
        return upload
