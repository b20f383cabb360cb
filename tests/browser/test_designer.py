"""The process designer in real Chromium, with screenshots in test-artifacts/screenshots/designer/:
open the standard dossier process, add a lane and a user task with a form, see the live check
flag the lane that has no role, fix it in the properties panel, save and deploy version 2 with a
reason, see where the open cases of version 1 wait, dry-run and migrate them, run the scenarios.
Then files from other tools open in the modeler without breaking it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.access import set_password
from engine.db import transaction
from engine.models import ProcessDefinition

from .conftest import PASSWORD, Shots

pytestmark = pytest.mark.browser

INTERCHANGE = Path(__file__).resolve().parents[1] / "fixtures" / "interchange"
HOUSEHOLD_BUSINESS = "2.000720"
DESIGNER = "thietke"
ARCHIVE_FORM = """{
  "title": "Lưu trữ hồ sơ",
  "type": "object",
  "required": ["archive_place"],
  "properties": {
    "archive_place": {"type": "string", "title": "Nơi lưu trữ", "enum": ["kho_xa", "kho_huyen"],
                      "x-enumTitles": ["Kho lưu trữ xã", "Kho lưu trữ huyện"]}
  }
}"""


def sign_in_designer(browser, base: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="vi-VN", viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/login?next=/designer/")
    page.fill("#username", DESIGNER)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/designer/$"))
    return page, errors


def wait_for_modeler(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("window.MotcuaDesigner && window.MotcuaDesigner.modeler")
    page.wait_for_selector(".djs-container .djs-element")


def lint_rules_on(page, element_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    issues = page.evaluate("window.MotcuaDesigner.lintIssues()")
    return sorted(i["rule"] for i in issues if i["id"] == element_id)


def start_cases(m) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """One dossier waiting at reception (UT_Check), one waiting for the leader (UT_Approve)."""
    officer = m.actor_for("motcua_anbinh")
    codes = [
        m.receive_dossier(HOUSEHOLD_BUSINESS, "XA_AN_BINH", actor=officer, applicant={"name": name}).case_code
        for name in ("Phan Văn Khải", "Đinh Thị Lan")
    ]
    for element, data, user in (
        ("UT_Check", {"reception_decision": "accept"}, "motcua_anbinh"),
        (
            "UT_Appraise",
            {"appraisal_outcome": "pass", "appraisal_opinion": "Đủ điều kiện"},
            "chuyenvien_anbinh",
        ),
    ):
        task = next(t for t in m.open_tasks(codes[1]) if t.element_id == element)
        m.complete_task(task.id, data, m.actor_for(user))
    return codes[0], codes[1]


def test_designer_edits_deploys_and_migrates(live, browser):
    base, m, _clock = live
    set_password(m, DESIGNER, PASSWORD)
    at_reception, at_approval = start_cases(m)
    shots = Shots("designer")
    page, errors = sign_in_designer(browser, base)
    shots.take(page, "processes")

    # 1. Open the standard dossier process in the modeler.
    page.click("a[href$='/designer/processes/dossier_standard']")
    page.click("#edit-latest")
    wait_for_modeler(page)
    assert page.locator(".djs-element[data-element-id='UT_Approve']").count() == 1
    issues = page.evaluate("window.MotcuaDesigner.lintIssues()")
    assert [i for i in issues if i["category"] == "error"] == []  # the shipped process lints clean

    # 2. A new lane (no role yet) with a new user task between "processed" and the return of the
    #    result; the approval task gets a new name (so a case waiting there cannot move).
    page.evaluate(
        """() => {
        const m = window.MotcuaDesigner.modeler;
        const reg = m.get('elementRegistry'), modeling = m.get('modeling'), factory = m.get('elementFactory');
        const participant = reg.get('Participant_dossier_standard');
        const lane = modeling.addLane(participant, 'bottom');
        modeling.updateProperties(lane, {id: 'Lane_archive', name: 'Văn thư lưu trữ'});
        const target = reg.get('UT_Return');
        const task = modeling.createShape(
            factory.createShape({type: 'bpmn:UserTask',
                businessObject: m.get('bpmnFactory').create('bpmn:UserTask', {id: 'UT_Archive'})}),
            {x: target.x + 60, y: lane.y + lane.height / 2}, participant);
        modeling.updateProperties(task, {name: 'Lưu trữ hồ sơ'});
        const flow = reg.get('Flow_IE_Processed_to_UT_Return');
        modeling.reconnectEnd(flow, task, {x: task.x, y: task.y + task.height / 2});
        modeling.connect(task, target);
        modeling.updateProperties(reg.get('UT_Approve'), {name: 'Phê duyệt kết quả (mẫu mới)'});
        m.get('selection').select(task);
    }"""
    )
    # Its form is new: written in the form editor, previewed as staff will see it (rendered by
    # the server), applied to the task and deployed with the draft.
    page.wait_for_selector("#bio-properties-panel-motcua-form")
    page.select_option("#bio-properties-panel-motcua-form", label="Biểu mẫu mới…")
    page.wait_for_selector("#form-editor[open]")
    page.fill("#form-name", "dossier/archive.json")
    page.fill("#form-schema", "{ not json")
    page.wait_for_selector("#form-schema-error:not([hidden])")
    page.fill("#form-schema", ARCHIVE_FORM)
    page.wait_for_selector("#form-preview select[name='archive_place']")
    assert "Nơi lưu trữ" in page.locator("#form-preview").inner_text()
    shots.take(page, "form-editor")
    page.click("#form-editor-apply")
    page.wait_for_function(
        "document.querySelector('#bio-properties-panel-motcua-form').value === 'dossier/archive.json'"
    )
    page.wait_for_function("window.MotcuaDesigner.lintIssues().some(i => i.id === 'Lane_archive')")
    assert "motcua/lane-role" in lint_rules_on(page, "Lane_archive")
    assert "motcua/user-task-form" not in lint_rules_on(page, "UT_Archive")
    problem = page.locator("#designer-problems li[data-element-id='Lane_archive']")
    assert problem.count() >= 1
    shots.take(page, "unmapped-lane")

    # 3. Fix it in the properties panel: the lane's role.
    page.evaluate(
        "() => { const m = window.MotcuaDesigner.modeler;"
        " m.get('selection').select(m.get('elementRegistry').get('Lane_archive')); }"
    )
    page.wait_for_selector("#bio-properties-panel-motcua-role")
    page.select_option("#bio-properties-panel-motcua-role", "officer")
    page.wait_for_function("!window.MotcuaDesigner.lintIssues().some(i => i.id === 'Lane_archive')")
    assert page.locator("#designer-problems li[data-element-id='Lane_archive']").count() == 0

    # 4. Save (the server check agrees) and deploy version 2 with a reason.
    page.click("#designer-save")
    page.wait_for_function("document.querySelector('#designer-status').textContent.includes('#')")
    page.fill("#designer-note", "Thêm bước lưu trữ hồ sơ sau khi có kết quả")
    page.click("#designer-deploy")
    page.wait_for_selector("#designer-status a")
    assert "2" in page.locator("#designer-status").inner_text()
    with transaction(m.sessions) as session:
        forms = session.scalars(
            select(ProcessDefinition.forms).where(
                ProcessDefinition.process_id == "dossier_standard", ProcessDefinition.version == 2
            )
        ).one()
    assert forms["dossier/archive.json"]["required"] == ["archive_place"]  # deployed with its form
    shots.take(page, "deployed")

    # 5. Where the open cases of version 1 wait, drawn on the diagram.
    page.goto(f"{base}/designer/processes/dossier_standard?version=1")
    page.wait_for_selector(".motcua-count[data-element-id='UT_Check']")
    assert page.locator(".motcua-count[data-element-id='UT_Approve']").inner_text().strip().startswith("1")
    assert page.locator("#versions tr[data-version='2']").count() == 1
    assert "Thêm bước lưu trữ" in page.locator("#process-history").inner_text()
    shots.take(page, "open-cases")

    # 6. Dry run, then migrate the case that can move.
    page.click("#open-migration")
    page.select_option("#from", "1")
    page.select_option("#to", "2")
    page.click("#dry-run")
    page.wait_for_selector("#migration-plan")
    row = page.locator(f"tr[data-case='{at_reception}']")
    assert row.get_attribute("class") == "movable", row.inner_text()
    blocked = page.locator(f"tr[data-case='{at_approval}'].blocked")
    assert blocked.count() == 1 and "UT_Approve" in blocked.inner_text()
    shots.take(page, "dry-run")
    page.fill("#note", "Áp dụng quy trình có bước lưu trữ")
    page.click("#migrate-selected")
    page.wait_for_selector("#migration-report")
    assert page.locator("#moved").inner_text().strip() == at_reception
    shots.take(page, "migrated")
    assert m.verify_history(at_reception).ok

    # 7. Run the scenarios: version 1 passes them all; version 2 shows which paths now differ.
    page.goto(f"{base}/designer/processes/dossier_standard?version=1")
    page.click("#run-scenarios")
    page.wait_for_selector("#scenario-results")
    assert page.locator("#scenario-results tr.fail").count() == 0
    assert page.locator("#scenario-results tr.pass").count() >= 10
    page.goto(f"{base}/designer/processes/dossier_standard?version=2")
    page.click("#run-scenarios")
    page.wait_for_selector("#scenario-results")
    failing = page.locator("#scenario-results tr.fail")
    assert failing.count() >= 1 and "UT_Archive" in failing.first.inner_text()
    shots.take(page, "scenarios")
    assert errors == []


def test_files_from_other_tools_open_in_the_modeler(live, browser):
    base, m, _clock = live
    set_password(m, DESIGNER, PASSWORD)
    page, errors = sign_in_designer(browser, base)
    opened = 0
    for path in sorted(INTERCHANGE.glob("*.bpmn")):
        page.goto(f"{base}/designer/")
        page.set_input_files("#file", str(path))
        page.click("form:has(#file) button[type=submit]")
        page.wait_for_load_state()
        if page.locator("[data-motcua-modeler]").count() == 0:
            continue  # refused before the modeler (not UTF-8): the index says why
        page.wait_for_function("window.MotcuaDesigner && window.MotcuaDesigner.modeler")
        # Drawn, or (for a file bpmn-js cannot draw) the reason in the status line.
        page.wait_for_function(
            "document.querySelector('.djs-container')"
            " || document.querySelector('#designer-status').textContent"
        )
        opened += 1
    assert opened >= 10
    assert errors == [], errors
