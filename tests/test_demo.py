"""The demo set-up a newcomer sees: seeded catalogue, demo cases in several states, a page."""

from __future__ import annotations

from sqlalchemy import select

from engine.db import transaction
from engine.models import Case
from web.app import create_app
from web.demo_cases import create_demo_cases


def test_demo_cases_cover_several_states_and_show_on_the_page(motcua):
    lines = create_demo_cases(motcua)
    assert len(lines) == 7
    with transaction(motcua.sessions) as session:
        statuses = {c.status for c in session.scalars(select(Case))}
    assert {"new", "processing", "supplement_requested", "returned", "not_received"} <= statuses
    client = create_app(motcua, {"TESTING": True}).test_client()
    page = client.get("/")
    assert page.status_code == 200
    assert "Đăng ký thành lập hộ kinh doanh" in page.get_data(as_text=True)
