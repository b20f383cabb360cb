"""The auditor views through the Flask test client, on a real database: who may open them, the
search limited to the auditor's agency subtree, the full history with data before and after,
hash-chain verification after tampering, and the CSV exports."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from engine.access import set_password
from engine.catalogue import agency_by_code
from engine.db import transaction
from engine.models import Case, CaseEvent, Staff
from tests.test_history import tamper
from tests.test_processes import ACCEPT, APPROVE, PASS, Desk

from .conftest import PASSWORD


@pytest.fixture
def desk(motcua):
    return Desk(motcua)


@pytest.fixture
def cases(motcua, desk):
    """One dossier in each commune: An Bình's worked up to approval (the leader sends it back
    once), Phú Mỹ's waiting at reception."""
    an_binh = desk.receive()
    desk.work(an_binh, "UT_Check", {**ACCEPT, "reception_note": "Đủ giấy tờ"})
    desk.work(an_binh, "UT_Appraise", PASS)
    desk.work(an_binh, "UT_Approve", {"approval_decision": "return", "approval_note": "Bổ sung căn cứ"})
    element = next(t.element_id for t in motcua.open_tasks(an_binh))
    desk.work(an_binh, element, {**PASS, "appraisal_opinion": "Đã bổ sung căn cứ pháp lý"})
    desk.work(an_binh, "UT_Approve", APPROVE)
    phu_my = motcua.receive_dossier(
        "1.001193",
        "XA_PHU_MY",
        actor=motcua.actor_for("motcua_phumy"),
        applicant={"name": "Lê Văn Phú", "phone": "0900000001"},
    ).case_code
    return {"an_binh": an_binh, "phu_my": phu_my}


@pytest.fixture
def commune_auditor(app, motcua):
    """An auditor of commune An Bình (not in the seed): reads An Bình's subtree only."""
    with transaction(motcua.sessions) as session:
        agency = agency_by_code(session, "XA_AN_BINH")
        session.add(
            Staff(username="kiemtra_anbinh", full_name="Mai Văn Kiểm", agency_id=agency.id, roles=["auditor"])
        )
    set_password(motcua, "kiemtra_anbinh", PASSWORD)
    return "kiemtra_anbinh"


def text(response) -> str:
    return response.get_data(as_text=True)


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_only_auditors_and_admins_may_open_the_audit_views(client, as_user, cases):
    assert client.get("/audit/").status_code == 302  # sign in first
    officer = as_user("motcua_anbinh")
    for url in ("/audit/", f"/audit/cases/{cases['an_binh']}", "/audit/search.csv"):
        assert officer.get(url).status_code == 403, url
    assert as_user("quantri").get("/audit/").status_code == 200
    assert as_user("kiemtra").get("/audit/").status_code == 200


def test_the_views_are_read_only(as_user, motcua, cases):
    auditor = as_user("kiemtra")
    code = cases["an_binh"]
    seq = Desk(motcua).case(code).history_seq
    for url in (
        "/audit/",
        f"/audit/cases/{code}",
        f"/audit/cases/{code}?verify=1",
        f"/audit/cases/{code}/history.csv",
    ):
        assert auditor.get(url).status_code == 200
        assert auditor.post(url.split("?")[0]).status_code == 405
    assert Desk(motcua).case(code).history_seq == seq


def test_the_provincial_auditor_sees_both_communes(as_user, cases):
    page = text(as_user("kiemtra").get("/audit/"))
    assert cases["an_binh"] in page and cases["phu_my"] in page
    assert "2 hồ sơ" in page


def test_search_is_limited_to_the_auditors_subtree(as_user, cases, commune_auditor):
    auditor = as_user(commune_auditor)
    page = text(auditor.get("/audit/"))
    assert cases["an_binh"] in page and cases["phu_my"] not in page
    # Even asked for by name, the other commune's case does not exist for this auditor.
    assert cases["phu_my"] not in text(auditor.get("/audit/?agency=XA_PHU_MY"))
    assert auditor.get(f"/audit/cases/{cases['phu_my']}").status_code == 404
    assert auditor.get(f"/audit/cases/{cases['phu_my']}/history.csv").status_code == 404
    assert [r["code"] for r in read_csv(auditor.get("/audit/search.csv"))] == [cases["an_binh"]]


def test_search_filters(as_user, cases):
    auditor = as_user("kiemtra")
    an_binh, phu_my = cases["an_binh"], cases["phu_my"]

    def found(query: str) -> set[str]:
        page = text(auditor.get(f"/audit/?{query}"))
        return {code for code in (an_binh, phu_my) if code in page}

    assert found(f"code={an_binh}") == {an_binh}
    assert found("code=000.02") == {phu_my}
    assert found("procedure=2.000720") == {an_binh}
    assert found("agency=XA_PHU_MY") == {phu_my}
    assert found("agency=TINH_AP") == set()
    assert found("agency=TINH_AP&include_below=1") == {an_binh, phu_my}
    assert found("status=processed") == {an_binh}
    assert found("status=new") == {phu_my}
    assert found("actor=chuyenvien_anbinh") == {an_binh}
    assert found("actor=motcua_phumy") == {phu_my}
    assert found("submitted_from=2026-03-02&submitted_to=2026-03-02") == {an_binh, phu_my}
    assert found("submitted_from=2026-03-03") == set()
    assert found("submitted_to=2026-03-01") == set()
    bad = auditor.get("/audit/?submitted_from=hom-qua")
    assert bad.status_code == 422 and "Nộp từ ngày" in text(bad)


def test_history_page_shows_who_what_when_and_data_before_and_after(as_user, cases):
    page = text(as_user("kiemtra").get(f"/audit/cases/{cases['an_binh']}"))
    for expected in (
        "motcua_anbinh",
        "Nguyễn Thị Lan",  # the officer's full name next to the username
        "lanhdao_anbinh",
        "Hoàn thành bước xử lý",
        "UT_Check",
        "Phê duyệt kết quả giải quyết",
        "reception_note",
        "Đủ giấy tờ",
    ):
        assert expected in page, expected
    # The leader's second decision: "return" before, "approve" after, side by side.
    assert (
        '<td><code>approval_decision</code></td><td class="before">return</td><td class="after">approve</td>'
        in page
    )
    assert '<td class="before">—</td><td class="after">accept</td>' in page  # first check: nothing before


def test_verify_history_intact_then_tampered(as_user, motcua, cases):
    auditor = as_user("kiemtra")
    code = cases["an_binh"]
    intact = text(auditor.get(f"/audit/cases/{code}?verify=1"))
    assert "Lịch sử nguyên vẹn" in intact and "KHÔNG nguyên vẹn" not in intact
    assert "Lịch sử nguyên vẹn" not in text(auditor.get(f"/audit/cases/{code}"))  # only when asked
    tamper(
        motcua,
        "UPDATE case_events SET actor = 'nguoi_la' WHERE case_id = :case_id AND seq = 3",
        code,
    )
    broken = text(auditor.get(f"/audit/cases/{code}?verify=1"))
    assert "KHÔNG nguyên vẹn" in broken and "sự kiện số 3" in broken
    assert 'id="event-3" class="bad"' in broken and "event 3 was altered" in broken


def test_history_csv_contains_every_event(as_user, motcua, cases):
    code = cases["an_binh"]
    rows = read_csv(as_user("kiemtra").get(f"/audit/cases/{code}/history.csv"))
    with transaction(motcua.sessions) as session:
        case_id = session.scalars(select(Case.id).where(Case.code == code)).one()
        events = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
        ).all()
    assert [int(r["seq"]) for r in rows] == [e.seq for e in events]
    assert [r["type"] for r in rows] == [e.type for e in events]
    assert [r["hash"] for r in rows] == [e.hash for e in events]
    first_check = next(r for r in rows if r["type"] == "task_completed")
    assert first_check["actor"] == "motcua_anbinh" and first_check["actor_name"] == "Nguyễn Thị Lan"
    assert json.loads(first_check["data"])["after"]["reception_note"] == "Đủ giấy tờ"  # Vietnamese intact
    assert rows[0]["at"] == "2026-03-02T09:00:00+07:00"


def test_search_csv_uses_the_same_filters(as_user, cases):
    auditor = as_user("kiemtra")
    rows = read_csv(auditor.get("/audit/search.csv"))
    assert {r["code"] for r in rows} == {cases["an_binh"], cases["phu_my"]}
    by_code = {r["code"]: r for r in rows}
    assert by_code[cases["phu_my"]]["applicant_name"] == "Lê Văn Phú"
    assert by_code[cases["an_binh"]]["status"] == "processed"
    assert by_code[cases["an_binh"]]["status_label"] == "Đã xử lý xong"
    assert by_code[cases["an_binh"]]["receiving_agency"] == "XA_AN_BINH"
    filtered = read_csv(auditor.get("/audit/search.csv?agency=XA_PHU_MY"))
    assert [r["code"] for r in filtered] == [cases["phu_my"]]
    assert read_csv(auditor.get("/audit/search.csv?actor=nobody")) == []


def test_csv_cells_that_a_spreadsheet_would_run_are_defused(as_user, motcua):
    motcua.receive_dossier(
        "2.000720",
        "XA_AN_BINH",
        actor=motcua.actor_for("motcua_anbinh"),
        applicant={"name": '=HYPERLINK("http://x")'},
    )
    rows = read_csv(as_user("kiemtra").get("/audit/search.csv"))
    assert rows[0]["applicant_name"] == '\'=HYPERLINK("http://x")'
