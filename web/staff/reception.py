"""The reception form at the one-stop desk: reading and checking what the officer typed.

The applicant's ID number is checked here but never goes into the case data: the caller hands
it to `receive_dossier(id_number=..., issue_pin=True)`, which stores it encrypted in `case_access`."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from engine.models import Procedure

CHANNELS = ("direct", "postal")  # online dossiers arrive through the portal, not the desk
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 .\-]{8,20}$")
MAX_COPIES = 99


@dataclass
class Reception:
    procedure_code: str
    applicant: dict[str, str]  # name, address, phone, email, authorised_person: never the ID number
    id_number: str
    channel: str
    components: list[dict[str, Any]]
    accept_now: bool
    errors: dict[str, list[str]] = field(default_factory=dict)


def parse_reception(
    form: MultiDict[str, str], procedure: Procedure, with_files: Collection[int] = ()
) -> Reception:
    """`with_files`: indexes of the components a file was attached to. Such a component was
    received (its paper is on the desk) and digitised (the file is its electronic copy), whatever
    the boxes say: the national digitisation indicator counts it."""
    errors: dict[str, list[str]] = {}

    def text(name: str, limit: int = 255) -> str:
        value = unicodedata.normalize("NFC", form.get(name, "")).strip()
        if len(value) > limit:
            errors.setdefault(name, []).append(_("At most %(n)s characters.", n=limit))
        return value

    applicant = {
        "name": text("name"),
        "address": text("address", 500),
        "phone": text("phone", 32),
        "email": text("email"),
        "authorised_person": text("authorised_person"),
    }
    if not applicant["name"]:
        errors.setdefault("name", []).append(_("Enter the applicant's full name."))
    if not applicant["address"]:
        errors.setdefault("address", []).append(_("Enter the applicant's address."))
    if applicant["phone"] and not _PHONE.match(applicant["phone"]):
        errors.setdefault("phone", []).append(_("Enter a phone number of digits only."))
    if applicant["email"] and not _EMAIL.match(applicant["email"]):
        errors.setdefault("email", []).append(_("Enter an e-mail address like name@example.vn."))
    id_number = re.sub(r"[\s.]", "", form.get("id_number", ""))
    if not (id_number.isdigit() and len(id_number) == 12):
        errors.setdefault("id_number", []).append(
            _("The personal identification number has exactly 12 digits.")
        )
    channel = form.get("channel", "direct")
    if channel not in CHANNELS:
        errors.setdefault("channel", []).append(_("Choose how the dossier was received."))
    components = []
    for index, spec in enumerate(procedure.components or []):
        has_file = index in with_files
        if not form.get(f"component_{index}") and not has_file:
            continue
        raw_copies = form.get(f"copies_{index}", "1").strip() or "1"
        try:
            copies = int(raw_copies)
        except ValueError:
            copies = 0
        if not 1 <= copies <= MAX_COPIES:
            errors.setdefault(f"copies_{index}", []).append(
                _("Enter a number of sets from 1 to %(n)s.", n=MAX_COPIES)
            )
        components.append(
            {
                # The name comes from the catalogue, not from the browser.
                "name": str(spec.get("name", "")),
                "copies": copies,
                "digitised": has_file or bool(form.get(f"digitised_{index}")),
                "reused": bool(form.get(f"reused_{index}")),
            }
        )
    if not components:
        errors.setdefault("components", []).append(_("Tick at least one component received."))
    return Reception(
        procedure_code=procedure.code,
        applicant={k: v for k, v in applicant.items() if v},
        id_number=id_number,
        channel=channel,
        components=components,
        accept_now=bool(form.get("accept_now")),
        errors=errors,
    )
