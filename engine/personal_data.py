"""Personal identification numbers (số định danh cá nhân, CCCD) are encrypted at rest (Fernet:
AES-128-CBC + HMAC) and shown masked; revealing one is a history event.

The key comes from MOTCUA_SECRET_KEY, or from `<MOTCUA_HOME>/secret.key`, created on first use
with owner-only permissions. Losing the key loses the numbers: back it up with the database."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from .actors import Actor
from .errors import FormInvalid, NotFound, PermissionDenied
from .history import append_event
from .models import Case, CaseAccess
from .motcua import Motcua

# Roles whose work needs the full number (checking identity at the desk, appraisal).
ROLES_SEEING_ID_NUMBERS = frozenset({"officer", "specialist", "leader"})


def mask(id_number: str | None, last4: str | None = None) -> str:
    tail = (id_number[-4:] if id_number else last4) or ""
    return "••••••••" + tail if tail else ""


def encrypt_id_number(m: Motcua, id_number: str) -> str:
    digits = id_number.strip()
    if not (digits.isdigit() and len(digits) in (9, 12)):
        raise FormInvalid({"id_number": ["must be 12 digits (CCCD) or 9 digits (old ID card)"]})
    return _fernet(m).encrypt(digits.encode()).decode()


def reveal_id_number(m: Motcua, case_code: str, actor: Actor) -> str:
    """Decrypt the applicant's ID number for a staff member who needs it; logged in the history."""
    if not (actor.roles & ROLES_SEEING_ID_NUMBERS):
        raise PermissionDenied(f"{actor.username} may not see personal identification numbers")
    with m._transaction() as session:
        case = session.scalars(select(Case).where(Case.code == case_code)).first()
        if (
            case is None
            or case.resolving_agency_id not in actor.readable_agency_ids | actor.agency_ids
            and (case.receiving_agency_id not in actor.readable_agency_ids | actor.agency_ids)
        ):
            raise NotFound(f"case {case_code!r} does not exist")
        access = session.get(CaseAccess, case.id)
        if access is None or not access.id_number_encrypted:
            raise NotFound(f"case {case_code!r} has no ID number on file")
        try:
            number = _fernet(m).decrypt(access.id_number_encrypted.encode()).decode()
        except InvalidToken as err:
            raise PermissionDenied("the ID number cannot be decrypted with this server's key") from err
        case.updated_at = m.clock.now()
        append_event(
            session, case, "personal_data_viewed", actor.username, m.clock.now(), data={"field": "id_number"}
        )
        return number


def _fernet(m: Motcua) -> Fernet:
    key = os.environ.get("MOTCUA_SECRET_KEY")
    if not key:
        path = Path(m.settings.home) / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
        key = path.read_text().strip()
    return Fernet(key.encode() if isinstance(key, str) else key)
