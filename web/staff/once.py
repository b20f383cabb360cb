"""A value carried to the next page once, encrypted.

Flask's session is a cookie that is signed, not encrypted: whatever is put in it can be read by
anyone holding the cookie. The applicant's lookup PIN must reach the receipt page right after
reception but never be stored in plain text, so it travels encrypted with a key derived from
the app's secret key, and is removed from the session when read."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, session

_PREFIX = "staff_once_"


def put(name: str, value: str) -> None:
    session[_PREFIX + name] = _fernet().encrypt(value.encode("utf-8")).decode("ascii")


def take(name: str) -> str | None:
    token = session.pop(_PREFIX + name, None)
    if not token:
        return None
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        return None


def _fernet() -> Fernet:
    # A key of its own (not the signing key itself), derived so nothing else needs configuring.
    secret = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    digest = hashlib.sha256(b"motcua-staff-once:" + secret).digest()
    return Fernet(base64.urlsafe_b64encode(digest))
