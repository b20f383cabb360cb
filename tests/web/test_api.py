"""The REST API (/api/v1) through the Flask test client, on a real database (SQLite, and
PostgreSQL when configured), with tokens issued by the engine."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from engine.access import check_case_pin, issue_api_token
from engine.db import transaction
from engine.models import Case, CaseAccess
from engine.personal_data import reveal_id_number
from web.api.openapi import COMMITTED, REGENERATE, spec_of, spec_text

HOUSEHOLD_BUSINESS = "2.000720"  # 3 working days, commune level
ID_NUMBER = "079203001234"
ACCEPT = {"reception_decision": "accept"}
SUPPLEMENT = {
    "reception_decision": "supplement",
    "missing_items": ["Giấy đề nghị đăng ký hộ kinh doanh"],
    "reception_reasons": "Thiếu giấy đề nghị",
}
PASS = {"appraisal_outcome": "pass", "appraisal_opinion": "Hồ sơ hợp lệ, đủ điều kiện"}
APPROVE = {"approval_decision": "approve", "result_reference": "GCN-123"}
RETURN = {"delivery_method": "desk", "receiver_name": "Trần Thị Hạnh"}
# The standard one-stop path: (task, data, the role that works it).
STANDARD_PATH = (
    ("UT_Check", ACCEPT, "officer"),
    ("UT_Appraise", PASS, "specialist"),
    ("UT_Approve", APPROVE, "leader"),
    ("UT_Return", RETURN, "officer"),
)
TOKENS = {
    "officer": ("XA_AN_BINH", "officer"),
    "officer2": ("XA_AN_BINH", "officer"),
    "specialist": ("XA_AN_BINH", "specialist"),
    "leader": ("XA_AN_BINH", "leader"),
    "auditor": ("TINH_AP", "auditor"),
    "phumy_officer": ("XA_PHU_MY", "officer"),
    "phumy_specialist": ("XA_PHU_MY", "specialist"),
    "phumy_leader": ("XA_PHU_MY", "leader"),
}
DOSSIER = {
    "procedure_code": HOUSEHOLD_BUSINESS,
    "applicant": {"name": "Trần Thị Hạnh", "address": "Thôn 2, xã An Bình", "phone": "0987654321"},
    "id_number": ID_NUMBER,
    "channel": "online",
    "components": [{"name": "Giấy đề nghị đăng ký hộ kinh doanh", "copies": 1, "digitised": True}],
}
SENDER = {"name": "Phạm Văn Đức", "address": "Thôn 3, xã An Bình", "phone": "0911222333"}
FEEDBACK = {"sender": SENDER, "category": "procedure_content", "content": "Đề nghị giảm thành phần hồ sơ"}


class Api:
    """The test client with a token per caller; remembers every body it received."""

    def __init__(self, client: Any, tokens: dict[str, str]):
        self.client = client
        self.tokens = tokens
        self.bodies: list[str] = []

    def call(self, method: str, path: str, who: str | None = None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if who:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        response = self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)
        self.bodies.append(response.get_data(as_text=True))
        return response

    def get(self, path: str, who: str | None = None, **kwargs: Any) -> Any:
        return self.call("GET", path, who, **kwargs)

    def post(self, path: str, who: str | None = None, **kwargs: Any) -> Any:
        return self.call("POST", path, who, **kwargs)

    def file(self, who: str = "officer", **changes: Any) -> dict[str, Any]:
        response = self.post("/dossiers", who, json={**DOSSIER, **changes})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def task(self, code: str, element_id: str, who: str = "auditor") -> dict[str, Any]:
        body = self.get(f"/dossiers/{code}", who).get_json()
        return next(t for t in body["open_tasks"] if t["element_id"] == element_id)

    def work(self, code: str, element_id: str, data: dict[str, Any], who: str) -> dict[str, Any]:
        task = self.task(code, element_id)
        response = self.post(f"/tasks/{task['id']}/complete", who, json={"data": data})
        assert response.status_code == 200, response.get_json()
        return response.get_json()


@pytest.fixture
def tokens(motcua) -> dict[str, str]:
    return {
        name: issue_api_token(motcua, f"test {name}", agency, role) for name, (agency, role) in TOKENS.items()
    }


@pytest.fixture
def api(client, tokens) -> Api:
    return Api(client, tokens)


def error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The error body, after checking its status and shape."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert set(body) == {"code", "message", "errors"}, body
    if code:
        assert body["code"] == code, body
    return body


# -- procedures ----------------------------------------------------------------------------------


def test_procedures_are_public_and_filtered(api):
    everything = api.get("/procedures")
    assert everything.status_code == 200
    codes = [p["code"] for p in everything.get_json()]
    assert {"2.000815", "1.001193", "2.000720", "1.009994", "2.000488", "1.013157"} <= set(codes)
    assert len(codes) == len(set(codes))  # one version per code
    # name contains, without diacritics and case
    assert [p["code"] for p in api.get("/procedures?q=KHAI SINH").get_json()] == ["1.001193", "1.013157"]
    assert [p["code"] for p in api.get("/procedures", query_string={"field": "Hộ tịch"}).get_json()] == [
        "1.001193",
        "1.013157",
    ]
    assert api.get("/procedures?q=no such procedure").get_json() == []


def test_procedure_in_force(api):
    body = api.get(f"/procedures/{HOUSEHOLD_BUSINESS}").get_json()
    assert body["name"] == "Đăng ký thành lập hộ kinh doanh"
    assert (body["version"], body["time_limit"], body["time_unit"]) == (1, 3.0, "working_days")
    assert (body["online_level"], body["cutoff"], body["valid_from"], body["valid_to"]) == (
        "full",
        False,
        "2025-07-01",
        None,
    )
    assert body["fees"] == [{"name": "Lệ phí đăng ký hộ kinh doanh", "amount": 100000, "unit": "đồng/lần"}]
    assert [c["name"] for c in body["components"]][0] == "Giấy đề nghị đăng ký hộ kinh doanh"
    missing = error(api.get("/procedures/9.999999"), 404, "not_found")
    assert "9.999999" in missing["message"]


# -- dossiers ------------------------------------------------------------------------------------


def test_filing_returns_code_pin_and_open_tasks(api, motcua):
    response = api.post("/dossiers", "officer", json=DOSSIER)
    assert response.status_code == 201
    body = response.get_json()
    assert body["code"].startswith("000.01.01.H99-260302-")
    assert response.headers["Location"] == f"/api/v1/dossiers/{body['code']}"
    assert (body["kind"], body["status"], body["status_label"]["vi"]) == ("dossier", "new", "Mới tiếp nhận")
    assert [t["element_id"] for t in body["open_tasks"]] == ["UT_Check"]
    assert body["open_tasks"][0]["agency"]["code"] == "XA_AN_BINH"
    assert body["pin"].isdigit() and len(body["pin"]) == 6
    assert check_case_pin(motcua, body["code"], body["pin"])  # the PIN works for the applicant
    assert "id_number" not in body
    # the number is kept encrypted, and only there
    assert reveal_id_number(motcua, body["code"], motcua.actor_for("motcua_anbinh")) == ID_NUMBER
    with transaction(motcua.sessions) as session:
        case = session.scalars(select(Case).where(Case.code == body["code"])).one()
        access = session.get(CaseAccess, case.id)
        assert ID_NUMBER not in access.id_number_encrypted and ID_NUMBER not in str(case.facts)
        assert case.channel == "online" and case.facts["components"][0]["digitised"] is True


def test_reading_a_dossier(api):
    code = api.file()["code"]
    response = api.get(f"/dossiers/{code}", "specialist")
    assert response.status_code == 200
    body = response.get_json()
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert (body["status"], body["national_status_code"], body["channel"]) == ("new", 1, "online")
    assert body["applicant"] == {"name": "Trần Thị Hạnh", "id_number": "••••••••1234"}
    assert body["procedure"]["code"] == HOUSEHOLD_BUSINESS and body["procedure"]["version"] == 1
    assert body["agencies"]["receiving"]["code"] == body["agencies"]["resolving"]["code"] == "XA_AN_BINH"
    assert body["submitted_at"] == "2026-03-02T09:00:00+07:00"
    assert body["appointment_at"] is None and body["completed"] is False
    assert [t["element_id"] for t in body["open_tasks"]] == ["UT_Check"]
    api.work(code, "UT_Check", ACCEPT, "officer")
    body = api.get(f"/dossiers/{code}", "officer").get_json()
    assert (body["status"], body["national_status_code"]) == ("processing", 4)  # received, then passed on
    assert body["appointment_at"] == "2026-03-05T09:00:00+07:00"  # 3 working days


def test_history_is_listed_and_verified(api):
    code = api.file()["code"]
    api.work(code, "UT_Check", ACCEPT, "officer")
    body = api.get(f"/dossiers/{code}/history", "auditor").get_json()
    assert body["code"] == code
    assert body["verified"] == {
        "ok": True,
        "checked": len(body["events"]),
        "first_bad_seq": None,
        "reason": "",
    }
    assert [e["seq"] for e in body["events"]] == list(range(1, len(body["events"]) + 1))
    types = [e["type"] for e in body["events"]]
    assert types[0] == "case_started" and "task_completed" in types and "status_changed" in types
    completed = next(e for e in body["events"] if e["type"] == "task_completed")
    assert completed["element"] == "UT_Check" and completed["data"]["after"] == ACCEPT
    assert completed["actor"].startswith("token:mct_")


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"procedure_code": None, "applicant": None}, {"procedure_code", "applicant"}),
        ({"applicant": {"phone": "0987654321"}}, {"applicant.name"}),
        ({"applicant": "Trần Thị Hạnh"}, {"applicant._schema"}),
        ({"applicant": {"name": "A", "email": "not-an-email"}}, {"applicant.email"}),
        ({"procedure_code": "9.999999"}, {"procedure_code"}),
        ({"id_number": "0792030012345"}, {"id_number"}),  # 13 digits
        ({"id_number": "07920300123"}, {"id_number"}),  # 11 digits
        ({"id_number": 79203001234}, {"id_number"}),  # not a string
        ({"channel": "fax"}, {"channel"}),
        ({"components": [{"copies": "two"}]}, {"components.0.name", "components.0.copies"}),
        ({"components": "all of them"}, {"components"}),
        ({"resolving_agency": "NO_SUCH_AGENCY"}, {"resolving_agency"}),
        ({"applicant_name": "typo"}, {"applicant_name"}),
    ],
)
def test_filing_rejects_bad_input(api, motcua, changes, fields):
    body = {k: v for k, v in {**DOSSIER, **changes}.items() if v is not None}
    problem = error(api.post("/dossiers", "officer", json=body), 422, "invalid_data")
    assert set(problem["errors"]) == fields, problem
    with transaction(motcua.sessions) as session:
        assert session.scalars(select(Case)).first() is None  # nothing was received


WRITES = [
    "/dossiers",
    "/dossiers/{code}/supplements",
    "/dossiers/{code}/withdrawal",
    "/tasks/{task}/complete",
    "/feedback",
]


@pytest.mark.parametrize("path", WRITES)
def test_malformed_or_non_json_bodies_are_400(api, path):
    filed = api.file()
    path = path.format(code=filed["code"], task=filed["open_tasks"][0]["id"])
    headers = {"Content-Type": "application/json"}
    problem = error(api.post(path, "officer", data='{"data": {', headers=headers), 400, "bad_request")
    assert "not valid JSON" in problem["message"]
    error(api.post(path, "officer", data=b"\xff\xfe", headers=headers), 400, "bad_request")
    problem = error(api.post(path, "officer", data="reason=late", content_type="text/plain"), 400)
    assert "application/json" in problem["message"]
    # an empty body is a body without the required fields
    assert error(api.post(path, "officer"), 422, "invalid_data")["errors"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/dossiers/{code}"),
        ("GET", "/dossiers/{code}/history"),
        ("POST", "/dossiers/{code}/supplements"),
        ("POST", "/dossiers/{code}/withdrawal"),
        ("GET", "/feedback/{code}"),
    ],
)
def test_unknown_codes_are_404(api, method, path):
    filed = api.file()
    body = {"items": ["x"]} if "supplements" in path else {"reason": "x"} if "withdrawal" in path else None
    problem = error(
        api.call(method, path.format(code="000.01.01.H99-260302-9999"), "officer", json=body), 404
    )
    assert problem["code"] == "not_found" and "000.01.01.H99-260302-9999" in problem["message"]
    # a dossier code is not a feedback code, nor the reverse
    if "feedback" in path:
        error(api.get(f"/feedback/{filed['code']}", "officer"), 404)


def test_supplement_resumes_the_dossier(api):
    code = api.file()["code"]
    asked = api.work(code, "UT_Check", SUPPLEMENT, "officer")
    assert (asked["status"], asked["open_tasks"]) == ("supplement_requested", [])
    problem = error(api.post(f"/dossiers/{code}/supplements", "officer", json={"note": "x"}), 422)
    assert set(problem["errors"]) == {"items"}
    problem = error(api.post(f"/dossiers/{code}/supplements", "officer", json={"items": []}), 422)
    assert set(problem["errors"]) == {"items"}
    problem = error(api.post(f"/dossiers/{code}/supplements", "officer", json={"items": "Giấy"}), 422)
    assert set(problem["errors"]) == {"items"}
    error(api.post(f"/dossiers/{code}/supplements", "specialist", json={"items": ["Giấy"]}), 403, "forbidden")
    response = api.post(
        f"/dossiers/{code}/supplements",
        "officer",
        json={"items": ["Giấy đề nghị đăng ký hộ kinh doanh"], "note": "Nộp qua cổng"},
    )
    assert response.status_code == 200, response.get_json()
    assert [t["element_id"] for t in response.get_json()["open_tasks"]] == ["UT_Recheck"]
    history = api.get(f"/dossiers/{code}/history", "officer").get_json()["events"]
    received = next(e for e in history if e["type"] == "message_received")
    assert received["data"]["payload"] == {
        "items": ["Giấy đề nghị đăng ký hộ kinh doanh"],
        "note": "Nộp qua cổng",
    }
    # nothing waits for a second supplement
    again = error(
        api.post(f"/dossiers/{code}/supplements", "officer", json={"items": ["x"]}), 409, "not_allowed"
    )
    assert "supplement_received" in again["message"]


def test_withdrawal_until_a_result_exists(api):
    code = api.file()["code"]
    problem = error(api.post(f"/dossiers/{code}/withdrawal", "officer", json={}), 422)
    assert set(problem["errors"]) == {"reason"}
    problem = error(api.post(f"/dossiers/{code}/withdrawal", "officer", json={"reason": 5}), 422)
    assert set(problem["errors"]) == {"reason"}
    error(api.post(f"/dossiers/{code}/withdrawal", "auditor", json={"reason": "x"}), 403, "forbidden")
    response = api.post(f"/dossiers/{code}/withdrawal", "officer", json={"reason": "Không còn nhu cầu"})
    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["open_tasks"]) == ("withdrawn", [])
    assert api.get(f"/dossiers/{code}", "officer").get_json()["national_status_code"] == 7

    other = api.file()["code"]
    for element, data, role in STANDARD_PATH[:3]:
        api.work(other, element, data, role)
    late = error(api.post(f"/dossiers/{other}/withdrawal", "officer", json={"reason": "muộn"}), 409)
    assert late["code"] == "not_allowed" and "withdrawal_requested" in late["message"]
    assert api.get(f"/dossiers/{other}", "officer").get_json()["status"] == "processed"


# -- tasks ---------------------------------------------------------------------------------------


def test_inbox_lists_filters_and_counts(api):
    first = api.file()["code"]
    second = api.file(applicant={"name": "Lê Văn Bình"})["code"]
    body = api.get("/tasks", "officer").get_json()
    assert [t["case_code"] for t in body["items"]] == [first, second]
    assert body["total"] == 2 and (body["page"], body["per_page"]) == (1, 20)
    assert body["counts"]["all"] == 2 and body["counts"]["mine"] == 0
    item = body["items"][0]
    assert (item["element_id"], item["role"], item["due_state"], item["case_kind"]) == (
        "UT_Check",
        "officer",
        "soon",
        "dossier",
    )
    assert [t["case_code"] for t in api.get("/tasks?applicant=lê văn", "officer").get_json()["items"]] == [
        second
    ]
    assert [t["case_code"] for t in api.get(f"/tasks?code={second}", "officer").get_json()["items"]] == [
        second
    ]
    assert api.get("/tasks?kind=feedback", "officer").get_json()["items"] == []
    assert api.get("/tasks?due=overdue", "officer").get_json()["total"] == 0
    page = api.get("/tasks?per_page=1&page=2", "officer").get_json()
    assert [t["case_code"] for t in page["items"]] == [second] and page["total"] == 2
    api.post(f"/tasks/{item['id']}/claim", "officer")
    mine = api.get("/tasks?mine=true", "officer").get_json()
    assert [t["id"] for t in mine["items"]] == [item["id"]] and mine["counts"]["mine"] == 1
    # a colleague no longer sees the claimed task; other roles and communes never did
    assert [t["case_code"] for t in api.get("/tasks", "officer2").get_json()["items"]] == [second]
    assert api.get("/tasks", "specialist").get_json()["total"] == 0
    assert api.get("/tasks", "phumy_officer").get_json()["total"] == 0
    problem = error(api.get("/tasks?kind=letter&per_page=0&due=tomorrow", "officer"), 422)
    assert set(problem["errors"]) == {"kind", "per_page", "due"}


def test_reading_a_task_gives_its_form(api):
    task = api.file()["open_tasks"][0]
    body = api.get(f"/tasks/{task['id']}", "officer").get_json()
    assert (body["id"], body["form"], body["case_version"]) == (task["id"], "dossier/check.json", 2)
    assert body["form_schema"]["required"] == ["reception_decision"]
    error(api.get("/tasks/999999", "officer"), 404, "not_found")


def test_claiming(api):
    task = api.file()["open_tasks"][0]
    response = api.post(f"/tasks/{task['id']}/claim", "officer")
    assert response.status_code == 200
    assert response.get_json()["assignee"].startswith("token:mct_")
    assert api.post(f"/tasks/{task['id']}/claim", "officer").status_code == 200  # again: still mine
    taken = error(api.post(f"/tasks/{task['id']}/claim", "officer2"), 409, "conflict")
    assert "already claimed" in taken["message"]
    # a task claimed by someone else is theirs to complete
    error(api.post(f"/tasks/{task['id']}/complete", "officer2", json={"data": ACCEPT}), 403, "forbidden")
    error(api.post("/tasks/999999/claim", "officer"), 404, "not_found")


def test_completion_reports_form_errors_per_field(api):
    filed = api.file()
    task_id = filed["open_tasks"][0]["id"]
    problem = error(api.post(f"/tasks/{task_id}/complete", "officer", json={"data": {}}), 422, "invalid_data")
    assert set(problem["errors"]) == {"reception_decision"}
    problem = error(
        api.post(
            f"/tasks/{task_id}/complete", "officer", json={"data": {"reception_decision": "supplement"}}
        ),
        422,
    )
    assert "missing_items" in problem["errors"]
    problem = error(
        api.post(f"/tasks/{task_id}/complete", "officer", json={"data": {"reception_decision": "maybe"}}), 422
    )
    assert set(problem["errors"]) == {"reception_decision"}
    problem = error(api.post(f"/tasks/{task_id}/complete", "officer", json={"expected_version": 2}), 422)
    assert set(problem["errors"]) == {"data"}
    problem = error(api.post(f"/tasks/{task_id}/complete", "officer", json={"data": "accept"}), 422)
    assert set(problem["errors"]) == {"data"}
    problem = error(
        api.post(f"/tasks/{task_id}/complete", "officer", json={"data": {}, "expected_version": "x"}), 422
    )
    assert set(problem["errors"]) == {"expected_version"}
    bad_header = {"If-Match": "version two"}
    error(api.post(f"/tasks/{task_id}/complete", "officer", json={"data": ACCEPT}, headers=bad_header), 400)
    both = {"data": ACCEPT, "expected_version": 2}
    problem = error(
        api.post(f"/tasks/{task_id}/complete", "officer", json=both, headers={"If-Match": '"3"'}), 422
    )
    assert set(problem["errors"]) == {"expected_version"}
    error(api.post("/tasks/999999/complete", "officer", json={"data": ACCEPT}), 404, "not_found")
    assert api.get(f"/dossiers/{filed['code']}", "officer").get_json()["status"] == "new"  # nothing happened


def test_stale_completions_are_409(api):
    filed = api.file()
    task_id, version = filed["open_tasks"][0]["id"], filed["version"]
    done = api.post(
        f"/tasks/{task_id}/complete", "officer", json={"data": ACCEPT, "expected_version": version}
    )
    assert done.status_code == 200
    result = done.get_json()
    assert (result["status"], result["version"]) == ("processing", version + 1)
    assert [t["element_id"] for t in result["open_tasks"]] == ["UT_Appraise"]
    # the same task again
    twice = error(api.post(f"/tasks/{task_id}/complete", "officer", json={"data": ACCEPT}), 409, "conflict")
    assert "already completed" in twice["message"]
    # the next task, with the version read before the first completion
    appraise = result["open_tasks"][0]["id"]
    stale = {"data": PASS, "expected_version": version}
    problem = error(api.post(f"/tasks/{appraise}/complete", "specialist", json=stale), 409, "conflict")
    assert f"since version {version}" in problem["message"]
    old = {"If-Match": f'"{version}"'}
    error(
        api.post(f"/tasks/{appraise}/complete", "specialist", json={"data": PASS}, headers=old),
        409,
        "conflict",
    )
    current = api.get(f"/dossiers/{filed['code']}", "specialist")
    fresh = {"If-Match": current.headers["ETag"]}
    response = api.post(f"/tasks/{appraise}/complete", "specialist", json={"data": PASS}, headers=fresh)
    assert response.status_code == 200 and response.get_json()["status"] == "processing"


# -- authentication and authorisation ---------------------------------------------------------------


def test_every_protected_operation_needs_a_valid_token(api, app):
    filed = api.file()
    values = {"code": filed["code"], "task_id": str(filed["open_tasks"][0]["id"])}
    wrong = {
        "none": {},
        "wrong token": {"Authorization": "Bearer mct_not-a-token"},
        "empty token": {"Authorization": "Bearer "},
        "other scheme": {"Authorization": "Basic bW90Y3VhOm1hdGtoYXU="},
    }
    failures = []
    checked = 0
    for path, item in spec_of(app)["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            url = path.removeprefix("/api/v1")
            for name, value in values.items():
                url = url.replace("{" + name + "}", value)
            if not operation.get("security"):
                status = api.call(method.upper(), url).status_code
                if status == 401:
                    failures.append(f"{method} {path} is documented public but answers 401")
                continue
            for label, headers in wrong.items():
                response = api.call(method.upper(), url, headers=headers, json={})
                checked += 1
                if response.status_code != 401 or response.get_json()["code"] != "unauthorized":
                    failures.append(f"{method} {path} with {label}: {response.status_code}")
                elif response.headers.get("WWW-Authenticate") != 'Bearer realm="motcua"':
                    failures.append(f"{method} {path} with {label}: no WWW-Authenticate challenge")
    assert checked >= 4 * 11 and not failures, failures


def test_revoked_token_is_401(api, motcua):
    from engine.models import ApiToken

    with transaction(motcua.sessions) as session:
        row = session.scalars(select(ApiToken).where(ApiToken.name == "test officer")).one()
        row.revoked_at = motcua.clock.now()
    problem = error(api.get("/tasks", "officer"), 401, "unauthorized")
    assert "revoked" in problem["message"]


def test_a_session_cookie_does_not_open_the_api(as_user):
    staff = as_user("motcua_anbinh")  # signed in on the staff pages
    error(staff.get("/api/v1/tasks"), 401, "unauthorized")


def test_another_commune_sees_nothing_of_an_binh(api):
    filed = api.file()
    code, task_id = filed["code"], filed["open_tasks"][0]["id"]
    for who in ("phumy_officer", "phumy_specialist", "phumy_leader"):
        error(api.get(f"/dossiers/{code}", who), 404, "not_found")
        error(api.get(f"/dossiers/{code}/history", who), 404)
        error(api.post(f"/dossiers/{code}/supplements", who, json={"items": ["x"]}), 404)
        error(api.post(f"/dossiers/{code}/withdrawal", who, json={"reason": "x"}), 404)
        error(api.get(f"/tasks/{task_id}", who), 404)
        error(api.post(f"/tasks/{task_id}/claim", who), 404)
        error(api.post(f"/tasks/{task_id}/complete", who, json={"data": ACCEPT}), 404)
        assert api.get("/tasks", who).get_json()["items"] == []
    # the answers do not tell a foreign code from a missing one
    foreign = api.get(f"/dossiers/{code}", "phumy_officer").get_json()["message"]
    missing = api.get("/dossiers/000.01.01.H99-260302-9999", "phumy_officer").get_json()["message"]
    assert foreign.replace(code, "?") == missing.replace("000.01.01.H99-260302-9999", "?")
    assert api.get(f"/dossiers/{code}", "officer").get_json()["status"] == "new"


@pytest.mark.parametrize("role", ["officer", "specialist", "leader", "auditor", "phumy_officer"])
def test_roles_by_resource(api, role):
    """Every token role against dossier reads, task claims and task completions of the standard
    path: only the lane's role claims and completes; everyone in reach reads; out of reach, 404."""
    in_reach = not role.startswith("phumy")
    filing = api.post("/dossiers", role, json=DOSSIER)
    assert filing.status_code == (201 if role == "officer" else 403 if in_reach else 201)
    code = api.file()["code"]
    for element, data, owner in STANDARD_PATH:
        read = api.get(f"/dossiers/{code}", role)
        history = api.get(f"/dossiers/{code}/history", role)
        assert read.status_code == history.status_code == (200 if in_reach else 404)
        task = api.task(code, element)
        expected = 200 if role == owner else 403 if in_reach else 404
        claim = api.post(f"/tasks/{task['id']}/claim", role)
        assert claim.status_code == expected, (element, claim.get_json())
        complete = api.post(f"/tasks/{task['id']}/complete", role, json={"data": data})
        assert complete.status_code == expected, (element, complete.get_json())
        if expected != 200:
            assert api.task(code, element)["assignee"] is None  # nothing changed
            api.work(code, element, data, owner)
    assert api.get(f"/dossiers/{code}", "auditor").get_json()["status"] == "returned"


# -- the whole lifecycle ---------------------------------------------------------------------------


def test_standard_lifecycle_through_the_api(api):
    filed = api.post("/dossiers", "officer", json=DOSSIER).get_json()
    code = filed["code"]
    statuses = [filed["status"]]
    for element, data, role in STANDARD_PATH:
        inbox = api.get("/tasks", role).get_json()["items"]
        task = next(t for t in inbox if t["case_code"] == code)
        assert task["element_id"] == element
        assert api.get(f"/tasks/{task['id']}", role).status_code == 200
        claimed = api.post(f"/tasks/{task['id']}/claim", role)
        assert claimed.status_code == 200
        # a claim is a change of the case too: expect the version the claim left
        version = {"If-Match": f'"{claimed.get_json()["case_version"]}"'}
        response = api.post(f"/tasks/{task['id']}/complete", role, json={"data": data}, headers=version)
        assert response.status_code == 200, response.get_json()
        statuses.append(response.get_json()["status"])
    assert statuses == ["new", "processing", "processing", "processed", "returned"]
    body = api.get(f"/dossiers/{code}", "officer").get_json()
    assert (body["status"], body["national_status_code"], body["open_tasks"]) == ("returned", 10, [])
    assert body["received_at"] and body["finished_at"] and body["returned_at"]
    assert body["appointment_at"] == "2026-03-05T09:00:00+07:00"
    history = api.get(f"/dossiers/{code}/history", "auditor").get_json()
    assert history["verified"]["ok"] is True
    assert [e["element"] for e in history["events"] if e["type"] == "task_completed"] == [
        element for element, _, _ in STANDARD_PATH
    ]
    changes = [e["data"]["to"] for e in history["events"] if e["type"] == "status_changed"]
    assert changes == ["received", "processing", "processed", "returned"]
    # the applicant's ID number never left the server, whatever was asked
    assert api.bodies and not [b for b in api.bodies if ID_NUMBER in b]
    assert json.loads(api.bodies[-2])["applicant"]["id_number"] == "••••••••1234"


# -- feedback ------------------------------------------------------------------------------------


def test_feedback_from_submission_to_published_answer(api):
    response = api.post("/feedback", "officer", json=FEEDBACK)
    assert response.status_code == 201, response.get_json()
    submitted = response.get_json()
    code = submitted["code"]
    assert code.startswith("PAKN-000.01.01.H99-260302-")
    assert response.headers["Location"] == f"/api/v1/feedback/{code}"
    assert [t["element_id"] for t in submitted["open_tasks"]] == ["UT_Receive"]
    body = api.get(f"/feedback/{code}", "leader").get_json()
    assert (body["status"], body["category"], body["answer"]) == ("received", "procedure_content", None)
    assert body["sender"] == {"name": "Phạm Văn Đức"}
    text = api.bodies[-1]
    assert SENDER["phone"] not in text and SENDER["address"] not in text
    error(api.get(f"/feedback/{code}", "phumy_officer"), 404)

    steps = (
        (
            "UT_Receive",
            {"summary": "Đề nghị giảm thành phần hồ sơ", "category": "procedure_content"},
            "officer",
        ),
        (
            "UT_Handle",
            {"answer_draft": "Sẽ kiến nghị sửa đổi", "legal_basis": "Nghị định 20/2008"},
            "specialist",
        ),
        ("UT_ApproveAnswer", {"answer_decision": "approve"}, "leader"),
        ("UT_Publish", {"publication_channels": ["portal"]}, "officer"),
    )
    for element, data, role in steps:
        task = next(
            t for t in api.get("/tasks?kind=feedback", role).get_json()["items"] if t["case_code"] == code
        )
        assert task["element_id"] == element
        result = api.post(f"/tasks/{task['id']}/complete", role, json={"data": data})
        assert result.status_code == 200, result.get_json()
    body = api.get(f"/feedback/{code}", "officer").get_json()
    assert (body["status"], body["completed"]) == ("published", True)
    assert body["answer"]["answer"] == "Sẽ kiến nghị sửa đổi"
    assert body["answer"]["question"] == "Đề nghị giảm thành phần hồ sơ"

    public = api.get("/feedback?published=true")  # no token
    assert public.status_code == 200
    page = public.get_json()
    assert page["total"] == 1 and (page["page"], page["per_page"]) == (1, 20)
    (item,) = page["items"]
    assert (item["code"], item["answer"], item["likes"], item["dislikes"]) == (
        code,
        "Sẽ kiến nghị sửa đổi",
        0,
        0,
    )
    assert item["agency"]["code"] == "XA_AN_BINH"
    assert SENDER["name"] not in public.get_data(as_text=True)
    assert api.get("/feedback?published=true&page=2").get_json()["items"] == []


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"sender": None}, {"sender"}),
        ({"sender": {"name": "Phạm Văn Đức"}}, {"sender.address", "sender.phone"}),
        ({"sender": {**SENDER, "name": "   "}}, {"sender.name"}),
        ({"sender": {**SENDER, "phone": 911222333}}, {"sender.phone"}),
        ({"category": "complaint"}, {"category"}),
        ({"category": None, "content": None}, {"category", "content"}),
        ({"content": ""}, {"content"}),
    ],
)
def test_feedback_rejects_bad_input(api, changes, fields):
    body = {k: v for k, v in {**FEEDBACK, **changes}.items() if v is not None}
    problem = error(api.post("/feedback", "officer", json=body), 422, "invalid_data")
    assert set(problem["errors"]) == fields, problem


def test_feedback_intake_and_listing_rules(api):
    error(api.post("/feedback", "specialist", json=FEEDBACK), 403, "forbidden")
    problem = error(api.get("/feedback?published=false"), 422)
    assert set(problem["errors"]) == {"published"}
    problem = error(api.get("/feedback?page=0&per_page=1000"), 422)
    assert set(problem["errors"]) == {"page", "per_page"}
    assert api.get("/feedback").get_json() == {"items": [], "total": 0, "page": 1, "per_page": 20}


# -- the OpenAPI document and its reference page -------------------------------------------------


def test_committed_openapi_document_is_current(app, client):
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.get_json() == spec_of(app)
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    assert committed == spec_text(app), f"docs/openapi.json is stale: regenerate it with `{REGENERATE}`"


def test_openapi_declares_bearer_auth_on_protected_operations(app):
    spec = spec_of(app)
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    public = set()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            if operation.get("security") != [{"bearerAuth": []}]:
                public.add(f"{method.upper()} {path}")
            assert operation["summary"] and operation["responses"]
    assert public == {
        "GET /api/v1/procedures",
        "GET /api/v1/procedures/{code}",
        "GET /api/v1/feedback",
    }
    for schema in spec["components"]["schemas"].values():
        for name, prop in schema.get("properties", {}).items():
            assert prop.get("description") or "$ref" in prop or "allOf" in prop, name


def test_reference_page_works_offline(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for path in (
        "/api/v1/dossiers/{code}/supplements",
        "/api/v1/tasks/{task_id}/complete",
        "/api/v1/feedback",
    ):
        assert path in page
    assert "File a dossier" in page and "DossierCreate" in page and "bearer" in page.lower()
    assert "<script" not in page and "https://" not in page and "//cdn" not in page
    assert "Tài liệu API" in page  # Vietnamese first
    assert "API reference" in client.get("/api/v1/docs?lang=en").get_data(as_text=True)
