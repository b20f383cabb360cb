"""The designer pages and the modeler's JSON endpoints through the Flask client, on a real
database: who may open and change what, saving drafts with the server check pinned to elements,
deploying with a reason, the versions page with open cases per element, the diff, migrating a
case between versions, running scenarios, importing a file from another tool, form previews."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.db import transaction
from engine.models import Case, CaseEvent, ProcessDefinition

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "processes" / "dossier_standard.bpmn"
INTERCHANGE = ROOT / "tests" / "fixtures" / "interchange"
HOUSEHOLD_BUSINESS = "2.000720"
DESIGNER, AUDITOR, OFFICER = "thietke", "kiemtra", "motcua_anbinh"


def receive(motcua) -> str:
    officer = motcua.actor_for(OFFICER)
    return motcua.receive_dossier(
        HOUSEHOLD_BUSINESS, "XA_AN_BINH", actor=officer, applicant={"name": "Lê Văn Tâm"}
    ).case_code


def standard_v2_xml() -> str:
    """The standard process with the approval task renamed and a new note on the return task:
    a case waiting at reception can move, one waiting at approval cannot."""
    xml = STANDARD.read_text(encoding="utf-8")
    xml = xml.replace('name="Phê duyệt kết quả giải quyết"', 'name="Phê duyệt kết quả (mẫu mới)"', 1)
    assert "mẫu mới" in xml
    return xml


def save(client, xml: str, **extra):
    return client.post("/designer/api/save", json={"xml": xml, **extra})


def test_only_designers_and_admins_change_processes_auditors_read(as_user, client):
    assert client.get("/designer/").status_code == 302  # sign in first
    officer = as_user(OFFICER)
    assert officer.get("/designer/").status_code == 403
    assert officer.post("/designer/api/save", json={"xml": STANDARD.read_text()}).status_code == 403
    auditor = as_user(AUDITOR)
    page = auditor.get("/designer/")
    assert page.status_code == 200 and "dossier_standard" in page.get_data(as_text=True)
    assert auditor.get("/designer/processes/dossier_standard").status_code == 200
    assert auditor.post("/designer/api/save", json={"xml": STANDARD.read_text()}).status_code == 403
    assert auditor.post("/designer/api/deploy", json={"draft_id": 1, "note": "x"}).status_code == 403
    designer = as_user(DESIGNER)
    assert designer.get("/designer/").status_code == 200


def test_save_pins_server_problems_to_elements_and_deploy_refuses_them(as_user, motcua):
    designer = as_user(DESIGNER)
    xml = STANDARD.read_text(encoding="utf-8").replace(
        '<spiffworkflow:property name="role" value="leader"',
        '<spiffworkflow:property name="role" value="boss"',
        1,
    )
    response = save(designer, xml, based_on_version=1)
    assert response.status_code == 200
    body = response.get_json()
    assert body["deployable"] is False
    assert any(p["element_id"] == "Lane_leader" and "boss" in p["message"] for p in body["problems"])
    refused = designer.post("/designer/api/deploy", json={"draft_id": body["draft_id"], "note": "thử"})
    assert refused.status_code == 422
    assert any(p["element_id"] == "Lane_leader" for p in refused.get_json()["problems"])
    with transaction(motcua.sessions) as session:
        assert session.scalars(
            select(ProcessDefinition.version).where(ProcessDefinition.process_id == "dossier_standard")
        ).all() == [1]
    # The draft page reopens the saved work with the same problems listed.
    page = designer.get(f"/designer/drafts/{body['draft_id']}").get_data(as_text=True)
    assert 'data-element-id="Lane_leader"' in page and "boss" in page


def test_bad_requests_get_json_errors_naming_the_field(as_user):
    designer = as_user(DESIGNER)
    assert (
        designer.post("/designer/api/save", data="not json", content_type="application/json").status_code
        == 400
    )
    missing = designer.post("/designer/api/save", json={"xml": ""})
    assert missing.status_code == 409 and "xml" in missing.get_json()["message"]
    forms = designer.post("/designer/api/save", json={"xml": "<x/>", "forms": {"a.json": "text"}})
    assert "forms" in forms.get_json()["message"]
    assert "process_id" in save(designer, "<bpmn:definitions").get_json()["message"]
    garbage = save(designer, "<bpmn:definitions", process_id="dossier_standard")
    assert garbage.status_code == 200 and garbage.get_json()["problems"][0]["line"] >= 1
    no_note = designer.post("/designer/api/deploy", json={"draft_id": garbage.get_json()["draft_id"]})
    assert no_note.status_code in (409, 422)
    assert designer.post("/designer/api/deploy", json={"note": "x"}).get_json()["code"] == "not_allowed"


def test_deploy_makes_version_2_with_who_and_why_in_the_record(as_user, motcua):
    designer = as_user(DESIGNER)
    draft = save(designer, standard_v2_xml(), based_on_version=1).get_json()
    assert draft["deployable"] is True, draft["problems"]
    deployed = designer.post(
        "/designer/api/deploy", json={"draft_id": draft["draft_id"], "note": "Đổi tên bước phê duyệt"}
    )
    assert deployed.status_code == 200
    assert deployed.get_json()["version"] == 2
    page = designer.get("/designer/processes/dossier_standard").get_data(as_text=True)
    assert 'data-version="2"' in page and "Đổi tên bước phê duyệt" in page and "thietke" in page
    diff = designer.get("/designer/processes/dossier_standard/diff?a=1&b=2").get_data(as_text=True)
    assert 'id="diff-changed"' in diff and 'data-element-id="UT_Approve"' in diff
    assert "mẫu mới" in diff


def test_open_cases_per_element_and_migration_dry_run_then_move(as_user, motcua):
    at_reception = receive(motcua)
    at_approval = receive(motcua)
    for element, data in (
        ("UT_Check", {"reception_decision": "accept"}),
        ("UT_Appraise", {"appraisal_outcome": "pass", "appraisal_opinion": "Đủ điều kiện"}),
    ):
        task = next(t for t in motcua.open_tasks(at_approval) if t.element_id == element)
        actor = motcua.actor_for({"UT_Check": OFFICER, "UT_Appraise": "chuyenvien_anbinh"}[element])
        motcua.complete_task(task.id, data, actor)
    designer = as_user(DESIGNER)
    page = designer.get("/designer/processes/dossier_standard?version=1").get_data(as_text=True)
    counts = dict(re.findall(r'data-element-id="(\w+)"><td>\w+</td><td class="num">(\d+)', page))
    assert counts == {"UT_Check": "1", "UT_Approve": "1"}

    draft = save(designer, standard_v2_xml(), based_on_version=1).get_json()
    designer.post("/designer/api/deploy", json={"draft_id": draft["draft_id"], "note": "v2"})
    plan = designer.get("/designer/processes/dossier_standard/migrate?from=1&to=2").get_data(as_text=True)
    assert re.search(rf'data-case="{at_reception}" class="movable"', plan)
    assert re.search(rf'data-case="{at_approval}" class="blocked"', plan) and "UT_Approve" in plan
    with transaction(motcua.sessions) as session:  # the dry run wrote nothing
        assert {c.definition.version for c in session.scalars(select(Case))} == {1}

    case_version = re.search(rf'name="v_{at_reception}" value="(\d+)"', plan).group(1)
    done = designer.post(
        "/designer/processes/dossier_standard/migrate",
        data={
            "from": "1",
            "to": "2",
            "case": [at_reception, at_approval],
            f"v_{at_reception}": case_version,
            "note": "Áp dụng mẫu mới",
        },
    )
    assert done.status_code == 200
    text = done.get_data(as_text=True)
    assert re.search(rf'id="moved">{at_reception}<', text)
    with transaction(motcua.sessions) as session:
        versions = {c.code: c.definition.version for c in session.scalars(select(Case))}
        migrated = session.scalars(select(CaseEvent).where(CaseEvent.type == "case_migrated")).all()
    assert versions == {at_reception: 2, at_approval: 1}
    assert [e.actor for e in migrated] == [DESIGNER]
    record = designer.get("/designer/processes/dossier_standard").get_data(as_text=True)
    assert "Áp dụng mẫu mới" in record
    # The auditor may look at the dry run but not move anything.
    auditor = as_user(AUDITOR)
    assert auditor.get("/designer/processes/dossier_standard/migrate?from=1&to=2").status_code == 200
    assert (
        auditor.post(
            "/designer/processes/dossier_standard/migrate",
            data={"from": "1", "to": "2", "case": [at_approval]},
        ).status_code
        == 403
    )


def test_scenarios_run_with_one_click_on_a_version_and_on_a_draft(as_user):
    designer = as_user(DESIGNER)
    page = designer.post("/designer/processes/dossier_standard/scenarios", data={"version": "1"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'class="pass"' in text and 'class="fail"' not in text
    # A draft whose approval condition no longer matches the form's value fails the scenarios
    # that approve a result.
    xml = STANDARD.read_text(encoding="utf-8")
    broken = xml.replace("approval_decision == 'approve'", "approval_decision == 'approved'")
    assert broken != xml
    draft = save(designer, broken, based_on_version=1).get_json()
    result = designer.post(
        "/designer/processes/dossier_standard/scenarios", data={"draft_id": draft["draft_id"]}
    )
    assert 'class="fail"' in result.get_data(as_text=True)


def test_new_process_from_the_template_opens_in_the_modeler(as_user):
    designer = as_user(DESIGNER)
    created = designer.post("/designer/new", data={"process_id": "dossier_land", "name": "Đất đai"})
    assert created.status_code == 302
    page = designer.get(created.headers["Location"]).get_data(as_text=True)
    assert 'data-motcua-modeler="designer-config"' in page and "dossier_land" in page
    bad = designer.post("/designer/new", data={"process_id": "1 bad id", "name": "x"}, follow_redirects=True)
    assert "1 bad id" in bad.get_data(as_text=True)


@pytest.mark.parametrize("fixture", sorted(p.name for p in INTERCHANGE.glob("*.bpmn")))
def test_files_from_other_tools_import_as_drafts_without_crashing(as_user, fixture):
    designer = as_user(DESIGNER)
    content = (INTERCHANGE / fixture).read_bytes()
    response = designer.post(
        "/designer/import",
        data={"file": (io.BytesIO(content), fixture)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200, fixture
    text = response.get_data(as_text=True)
    # Either a draft opened in the modeler (with the check's verdict), or a clear refusal.
    assert 'data-motcua-modeler="designer-config"' in text or "UTF-8" in text, fixture


def test_form_preview_renders_the_fields_or_names_the_schema_error(as_user):
    designer = as_user(DESIGNER)
    ok = designer.post(
        "/designer/api/form-preview",
        json={
            "schema": {
                "type": "object",
                "required": ["decision"],
                "properties": {"decision": {"type": "string", "title": "Quyết định", "enum": ["a", "b"]}},
            }
        },
    )
    assert (
        ok.status_code == 200
        and 'name="decision"' in ok.get_json()["html"]
        and "Quyết định" in ok.get_json()["html"]
    )
    bad = designer.post(
        "/designer/api/form-preview", json={"schema": {"type": "object", "properties": {"x": {"type": 5}}}}
    )
    assert bad.status_code == 422 and "properties/x/type" in bad.get_json()["message"]
