"""Secrets the engine keeps: staff passwords, integrators' API tokens, applicants' lookup PINs.

Only hashes are stored: argon2 for passwords and PINs (low entropy, so slow to guess, plus a
lockout), sha256 for API tokens (random, 256 bits). Plain values are returned once, at issue."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from .actors import Actor
from .catalogue import agency_by_code, subtree_ids
from .errors import InvalidAction, NotFound, PermissionDenied
from .models import ApiToken, Case, CaseAccess, Staff, StaffCredential
from .motcua import Motcua

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10


class AccountLocked(PermissionDenied):
    """Too many failed logins; try again later."""


def set_password(m: Motcua, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAction(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    with m._transaction() as session:
        staff = session.scalars(select(Staff).where(Staff.username == username)).first()
        if staff is None:
            raise NotFound(f"staff member {username!r} does not exist")
        credential = session.get(StaffCredential, staff.id) or StaffCredential(staff_id=staff.id)
        credential.password_hash = _hasher.hash(password)
        credential.failed_logins, credential.locked_until = 0, None
        credential.changed_at = m.clock.now()
        session.add(credential)


def login(m: Motcua, username: str, password: str) -> Actor:
    """The staff member's Actor if the password is right; failures count towards a lockout.
    The same message for an unknown user and a wrong password, so usernames cannot be probed."""
    now = m.clock.now()
    wrong = PermissionDenied("wrong username or password")
    with m._transaction() as session:
        staff = session.scalars(select(Staff).where(Staff.username == username, Staff.active)).first()
        credential = session.get(StaffCredential, staff.id) if staff else None
        if staff is None or credential is None:
            _hasher.hash(password)  # same work as a real check: no timing oracle
            raise wrong
        if credential.locked_until and credential.locked_until > now:
            raise AccountLocked(
                f"account locked until {credential.locked_until.isoformat()} after failed logins"
            )
        try:
            _hasher.verify(credential.password_hash, password)
        except (VerificationError, InvalidHashError):
            credential.failed_logins += 1
            if credential.failed_logins >= m.settings.max_failed_logins:
                credential.locked_until = now + timedelta(minutes=m.settings.lockout_minutes)
                credential.failed_logins = 0
            session.commit()
            raise wrong from None
        credential.failed_logins, credential.locked_until = 0, None
        return Actor(
            staff.username,
            frozenset(staff.roles),
            frozenset({staff.agency_id}),
            subtree_ids(session, staff.agency_id),
        )


def issue_api_token(m: Motcua, name: str, agency_code: str, role: str) -> str:
    if role not in m.settings.roles:
        raise InvalidAction(f"role {role!r} must be one of {', '.join(m.settings.roles)}")
    token = "mct_" + secrets.token_urlsafe(32)
    with m._transaction() as session:
        agency = agency_by_code(session, agency_code)
        session.add(
            ApiToken(
                name=name,
                prefix=token[:12],
                token_hash=_sha256(token),
                agency_id=agency.id,
                role=role,
                created_at=m.clock.now(),
            )
        )
    return token


def authenticate_token(m: Motcua, token: str) -> Actor:
    with m._transaction() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.token_hash == _sha256(token))).first()
        if row is None or row.revoked_at is not None:
            raise PermissionDenied("invalid or revoked API token")
        return Actor(
            f"token:{row.prefix}",
            frozenset({row.role}),
            frozenset({row.agency_id}),
            subtree_ids(session, row.agency_id),
        )


def issue_case_pin(m: Motcua, case_code: str, id_number: str | None = None) -> str:
    """A new 6-digit lookup PIN for an existing case (e.g. the applicant lost theirs)."""
    with m._transaction() as session:
        case = session.scalars(select(Case).where(Case.code == case_code)).first()
        if case is None:
            raise NotFound(f"case {case_code!r} does not exist")
        return attach_pin(m, session, case, id_number)


def attach_pin(m: Motcua, session: Session, case: Case, id_number: str | None = None) -> str:
    """Give `case` a fresh PIN (and the encrypted ID number) inside the caller's transaction, so a
    dossier never exists without its way back for the applicant."""
    from .personal_data import encrypt_id_number

    pin = f"{secrets.randbelow(10**6):06d}"
    access = session.get(CaseAccess, case.id) or CaseAccess(case_id=case.id)
    access.pin_hash = _hasher.hash(pin)
    access.failed_lookups = 0
    if id_number:
        access.id_number_encrypted = encrypt_id_number(m, id_number)
        access.id_number_last4 = id_number.strip()[-4:]
    session.add(access)
    return pin


def check_case_pin(m: Motcua, case_code: str, pin: str) -> int:
    """The case id if the PIN matches; the same error for an unknown code and a wrong PIN."""
    wrong = PermissionDenied("wrong dossier code or PIN")
    with m._transaction() as session:
        case = session.scalars(select(Case).where(Case.code == case_code)).first()
        access = session.get(CaseAccess, case.id) if case else None
        if case is None or access is None:
            _hasher.hash(pin)  # same work as a real check: response time must not reveal codes
            raise wrong
        if access.failed_lookups >= m.settings.max_failed_lookups:
            raise PermissionDenied("too many wrong PINs for this dossier; please contact the one-stop desk")
        try:
            _hasher.verify(access.pin_hash, pin)
        except (VerificationError, InvalidHashError):
            access.failed_lookups += 1
            session.commit()
            raise wrong from None
        access.failed_lookups = 0
        return case.id


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def revoke_api_token(m: Motcua, prefix: str) -> int:
    """Revoke every live token starting with `prefix` (as printed at issue); returns how many."""
    with m._transaction() as session:
        rows = session.scalars(
            select(ApiToken).where(ApiToken.prefix.startswith(prefix), ApiToken.revoked_at.is_(None))
        ).all()
        for row in rows:
            row.revoked_at = m.clock.now()
        return len(rows)
