"""Authorisation on every read and write of the staff and audit pages, as one table: each role
(and an anonymous visitor) against each page of a dossier received by commune An Bình, with the
exact answer expected, and proof that a refused write changed nothing.

Answers: 200 (shown, or written and shown), 302 (written, then redirected), LOGIN (redirected
to sign in), 403 (may read the case but not do this), 404 (may not even learn the case exists)."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.db import transaction
from engine.models import Case
from engine.uploads import save_upload

HOUSEHOLD_BUSINESS = "2.000720"
ID_NUMBER = "079203001234"
PDF = b"%PDF-1.4\n%%EOF\n"
LOGIN = "login"

OFFICER, SPECIALIST, LEADER, PHUMY, AUDITOR, ANONYMOUS = (
    "motcua_anbinh",
    "chuyenvien_anbinh",
    "lanhdao_anbinh",
    "motcua_phumy",
    "kiemtra",
    "anonymous",
)
USERS = (OFFICER, SPECIALIST, LEADER, PHUMY, AUDITOR, ANONYMOUS)


@dataclass(frozen=True)
class Page:
    name: str
    method: str
    url: str  # formatted with {code}, {task} and {upload}
    expected: tuple[Any, ...]  # one answer per user, in the order of USERS
    data: dict[str, str] | None = None


ACCEPT = {"reception_decision": "accept"}
WITHDRAW = {"reason": "Nộp nhầm thủ tục"}
RECEIVE = {
    "procedure": HOUSEHOLD_BUSINESS,
    "name": "Đỗ Thị Hà",
    "id_number": ID_NUMBER,
    "address": "Thôn 2",
    "component_0": "1",
    "copies_0": "1",
    "channel": "direct",
}

# Columns, in the order of USERS: officer An Bình, specialist An Bình, leader An Bình,
# officer Phú Mỹ, provincial auditor, anonymous.
# Reads: nothing may change, whoever asks.
READS = (
    Page("case page", "GET", "/staff/cases/{code}", (200, 200, 200, 404, 200, LOGIN)),
    Page("task page", "GET", "/staff/tasks/{task}", (200, 404, 404, 404, 404, LOGIN)),
    Page("reception page", "GET", "/staff/reception", (200, 403, 403, 200, 403, LOGIN)),
    Page("Form 01 receipt", "GET", "/staff/cases/{code}/receipt", (200, 200, 200, 404, 200, LOGIN)),
    Page("Form 06", "GET", "/staff/cases/{code}/control-slip", (200, 200, 200, 404, 200, LOGIN)),
    Page("diagram XML", "GET", "/staff/cases/{code}/diagram.bpmn", (200, 200, 200, 404, 200, LOGIN)),
    Page("diagram state", "GET", "/staff/cases/{code}/diagram-state.json", (200, 200, 200, 404, 200, LOGIN)),
    Page("case file", "GET", "/staff/cases/{code}/files/{upload}", (200, 200, 200, 404, 200, LOGIN)),
    Page("Form 07", "GET", "/staff/register?day=2026-03-02", (200, 403, 200, 200, 403, LOGIN)),
    Page("Form 07 CSV", "GET", "/staff/register?format=csv", (200, 403, 200, 200, 403, LOGIN)),
    Page("audit search", "GET", "/audit/", (403, 403, 403, 403, 200, LOGIN)),
    Page("audit case", "GET", "/audit/cases/{code}", (403, 403, 403, 403, 200, LOGIN)),
    Page("audit search CSV", "GET", "/audit/search.csv", (403, 403, 403, 403, 200, LOGIN)),
    Page("audit history CSV", "GET", "/audit/cases/{code}/history.csv", (403, 403, 403, 403, 200, LOGIN)),
)
# Writes to the dossier, in this order (the officer claims the check, completes it, then records
# a withdrawal). A 200 or 302 here means the write must have happened; anything else, nothing.
WRITES = (
    Page("claim", "POST", "/staff/tasks/{task}/claim", (302, 403, 403, 404, 403, LOGIN)),
    Page("complete", "POST", "/staff/tasks/{task}", (302, 404, 404, 404, 404, LOGIN), ACCEPT),
    Page("reveal ID number", "POST", "/staff/cases/{code}/reveal-id", (200, 200, 200, 404, 403, LOGIN)),
    Page(
        "record withdrawal",
        "POST",
        "/staff/cases/{code}/withdrawal",
        (302, 403, 403, 404, 403, LOGIN),
        WITHDRAW,
    ),
)
# Receiving a dossier writes a new case, not the one above.
RECEPTION = Page("receive a dossier", "POST", "/staff/reception", (302, 403, 403, 302, 403, LOGIN), RECEIVE)


@pytest.fixture
def an_binh(motcua) -> dict[str, Any]:
    """A dossier received by An Bình's desk, its reception check open and unclaimed, one file."""
    m = motcua
    result = m.receive_dossier(
        HOUSEHOLD_BUSINESS,
        "XA_AN_BINH",
        actor=m.actor_for(OFFICER),
        applicant={"name": "Trần Thị Hạnh", "address": "Thôn 2"},
        id_number=ID_NUMBER,
        issue_pin=True,
    )
    upload = save_upload(m, result.case_id, "component", "don.pdf", io.BytesIO(PDF))
    [check] = [t for t in result.open_tasks if t.element_id == "UT_Check"]
    return {"code": result.case_code, "task": check.id, "upload": upload.id}


def state(m, code: str) -> tuple[int, int]:
    """What any write to the case moves: its version and the length of its history."""
    with transaction(m.sessions) as session:
        case = session.scalars(select(Case).where(Case.code == code)).one()
        return case.version, case.history_seq


def case_count(m) -> int:
    with transaction(m.sessions) as session:
        return session.scalar(select(func.count()).select_from(Case)) or 0


def answer(response) -> Any:
    """The response as a cell of the table: LOGIN for the sign-in redirect."""
    if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
        return LOGIN
    return response.status_code


def request(client, page: Page, ids: dict[str, Any]) -> Any:
    url = page.url.format(**ids)
    if page.method == "GET":
        return client.get(url)
    return client.post(url, data=page.data or {})


@pytest.mark.parametrize("user", USERS)
def test_every_page_answers_each_role_as_the_table_says(user, motcua, client, as_user, an_binh):
    m = motcua
    column = USERS.index(user)
    visitor = client if user == ANONYMOUS else as_user(user)
    mismatches: list[str] = []

    def check(page: Page, changed: Callable[[], bool], writes: bool) -> None:
        expected = page.expected[column]
        got = answer(request(visitor, page, an_binh))
        if got != expected:
            mismatches.append(f"{page.name}: expected {expected}, got {got}")
        # A read never writes; a write happens exactly where the table allows it.
        should_change = writes and expected in (200, 302)
        if changed() != should_change:
            mismatches.append(
                f"{page.name}: {'nothing was written' if should_change else 'something was written'}"
            )

    code = an_binh["code"]
    for page in (*READS, *WRITES):
        before = state(m, code)
        check(page, lambda before=before: state(m, code) != before, writes=page.method == "POST")
    cases = case_count(m)
    check(RECEPTION, lambda: case_count(m) != cases, writes=True)
    assert mismatches == [], f"{user}:\n" + "\n".join(mismatches)
