"""Process versions for designers: summaries, where open cases wait (with overdue counts), and
what changed between two versions. Database tests run on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.calendar import VN_TZ
from engine.config import Settings
from engine.errors import DefinitionInvalid, NotFound, PermissionDenied
from engine.versions import (
    ElementCount,
    diff_definitions,
    diff_versions,
    element_counts,
    list_processes,
    list_versions,
    version_xml,
)
from tests.test_migration import SIGN_FORM, Edit, add_sign_task, deploy_version_two, shipped_xml
from tests.test_processes import ACCEPT, APPROVE, PASS, RETURN, Desk

PROCESS = "dossier_standard"
SHIPPED = "dossier_standard.bpmn"


def shipped(name: str) -> str:
    return (Settings().processes_dir / name).read_text(encoding="utf-8")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)


@pytest.fixture
def desk(motcua):
    return Desk(motcua)


@pytest.fixture
def auditor(motcua):
    return motcua.actor_for("kiemtra")


def test_processes_with_their_versions_open_cases_and_drafts(motcua, desk, auditor):
    desk.receive()
    desk.feedback("procedure_content")
    summaries = {s.process_id: s for s in list_processes(motcua, auditor)}
    assert set(summaries) == {"dossier_standard", "dossier_interagency", "feedback"}
    standard = summaries[PROCESS]
    assert standard.name == "Giải quyết hồ sơ TTHC theo cơ chế một cửa"
    assert (standard.latest_version, standard.version_count, standard.open_cases) == (1, 1, 1)
    assert summaries["dossier_interagency"].open_cases == 0
    assert summaries["feedback"].open_cases == 1

    deploy_version_two(motcua)
    standard = next(s for s in list_processes(motcua, auditor) if s.process_id == PROCESS)
    assert (standard.latest_version, standard.version_count, standard.draft_count) == (2, 2, 0)


def test_versions_newest_first_with_who_and_why_and_late_cases(motcua, desk, auditor, clock):
    late = desk.receive()
    desk.work(late, "UT_Check", ACCEPT)  # appointment Thu 5 March 09:00
    desk.receive()  # not received yet: no appointment, never late
    deploy_version_two(motcua)
    clock.set(at(2026, 3, 6, 9, 0))
    versions = list_versions(motcua, auditor, PROCESS)
    assert [v.version for v in versions] == [2, 1]
    newest, first = versions
    assert (newest.deployed_by, newest.note) == ("thietke", "Thêm bước ký số sau phê duyệt")
    assert (newest.open_cases, newest.overdue_cases) == (0, 0)
    assert (first.open_cases, first.overdue_cases) == (2, 1)
    assert first.deployed_by == "system" and len(first.sha256) == 64


def test_unknown_process_or_version(motcua, auditor):
    with pytest.raises(NotFound, match="nope"):
        list_versions(motcua, auditor, "nope")
    with pytest.raises(NotFound, match="no version 9"):
        element_counts(motcua, auditor, PROCESS, 9)
    with pytest.raises(NotFound, match="no version 9"):
        version_xml(motcua, auditor, PROCESS, 9)


def test_where_open_cases_wait_and_which_are_overdue(motcua, desk, auditor, clock):
    desk.receive()  # UT_Check due Monday 15:00 (half a working day)
    appraising = desk.receive()
    desk.work(appraising, "UT_Check", ACCEPT)
    supplement = desk.receive()
    desk.work(
        supplement,
        "UT_Check",
        {"reception_decision": "supplement", "missing_items": ["Bản sao"], "reception_reasons": "Thiếu"},
    )
    rating = desk.receive()
    for element, data in (("UT_Check", ACCEPT), ("UT_Appraise", PASS), ("UT_Approve", APPROVE)):
        desk.work(rating, element, data)
    desk.work(rating, "UT_Return", RETURN)  # now waits for a rating or the end of the rating window
    done = desk.receive()
    desk.work(done, "UT_Check", {"reception_decision": "refuse", "reception_reasons": "Sai thẩm quyền"})

    clock.set(at(2026, 3, 3, 9, 0))
    desk.receive()  # a fresh check, not overdue
    counts = element_counts(motcua, auditor, PROCESS, 1)
    assert counts == {
        "UT_Check": ElementCount("UT_Check", 2, 1),
        "UT_Appraise": ElementCount("UT_Appraise", 1, 0),
        "ICE_ReceptionSupplement": ElementCount("ICE_ReceptionSupplement", 1, 0),
        "GW_Satisfaction": ElementCount("GW_Satisfaction", 1, 0),
    }

    # Friday: the appraisal's appointment (Thursday 5 March) has passed; the returned dossier
    # waiting for its rating is finished, so it is not late.
    clock.set(at(2026, 3, 6, 9, 0))
    counts = element_counts(motcua, auditor, PROCESS, 1)
    assert counts["UT_Appraise"] == ElementCount("UT_Appraise", 1, 0)  # its own 5-day budget runs
    assert counts["GW_Satisfaction"] == ElementCount("GW_Satisfaction", 1, 0)
    assert counts["UT_Check"] == ElementCount("UT_Check", 2, 2)
    assert list_versions(motcua, auditor, PROCESS)[0].overdue_cases == 1  # the appraisal


def test_reading_needs_a_designer_admin_or_auditor(motcua):
    officer = motcua.actor_for("motcua_anbinh")
    for call in (
        lambda a: list_processes(motcua, a),
        lambda a: list_versions(motcua, a, PROCESS),
        lambda a: element_counts(motcua, a, PROCESS, 1),
        lambda a: version_xml(motcua, a, PROCESS, 1),
        lambda a: diff_versions(motcua, a, PROCESS, 1, 1),
    ):
        with pytest.raises(PermissionDenied):
            call(officer)
        for username in ("thietke", "kiemtra", "quantri"):
            call(motcua.actor_for(username))


def test_version_xml_is_what_was_deployed(motcua, auditor):
    deploy_version_two(motcua)
    assert version_xml(motcua, auditor, PROCESS, 1) == shipped_xml(motcua)
    assert 'id="UT_Sign"' in version_xml(motcua, auditor, PROCESS, 2)


def test_diff_between_versions_names_added_removed_and_changed_elements(motcua, auditor):
    deploy_version_two(motcua)
    diff = diff_versions(motcua, auditor, PROCESS, 1, 2)
    assert [(c.element_id, c.type, c.name) for c in diff.added] == [
        ("Flow_UT_Approve_to_UT_Sign", "sequenceFlow", ""),
        ("Flow_UT_Sign_to_GW_Approve", "sequenceFlow", ""),
        ("UT_Sign", "userTask", "Ký số kết quả"),
    ]
    assert [c.element_id for c in diff.removed] == ["Flow_UT_Approve_to_GW_Approve"]
    changed = {c.element_id: c.details for c in diff.changed}
    assert changed == {
        "GW_Approve": ["incoming: +Flow_UT_Sign_to_GW_Approve, -Flow_UT_Approve_to_GW_Approve"],
        "UT_Appraise": ["budget: 5d → 4d"],
        "UT_Approve": ["outgoing: +Flow_UT_Approve_to_UT_Sign, -Flow_UT_Approve_to_GW_Approve"],
    }
    assert diff_versions(motcua, auditor, PROCESS, 2, 2).empty


def test_layout_moves_and_reordering_report_nothing():
    xml = shipped(SHIPPED)
    moved = (
        Edit(xml)
        .sub(
            '<dc:Bounds x="1416" y="502" width="36" height="36"/>',
            '<dc:Bounds x="9" y="9" width="36" height="36"/>',
        )
        .sub(
            '<bpmn:sequenceFlow id="Flow_SR_Start_to_UT_Check" sourceRef="SR_Start" targetRef="UT_Check"/>',
            "",
        )
        .sub(
            '<bpmn:sequenceFlow id="Flow_UT_Check_to_GW_Check" sourceRef="UT_Check" targetRef="GW_Check"/>',
            '<bpmn:sequenceFlow targetRef="GW_Check" sourceRef="UT_Check" id="Flow_UT_Check_to_GW_Check"/>\n'
            '<bpmn:sequenceFlow id="Flow_SR_Start_to_UT_Check" sourceRef="SR_Start" targetRef="UT_Check"/>',
        )
        .xml
    )
    assert diff_definitions(xml, moved, {}, {}).empty


def test_diff_details_of_scripts_conditions_timers_lanes_and_forms():
    xml = shipped(SHIPPED)
    forms = {"dossier/check.json": {"type": "object"}, "dossier/approve.json": {"type": "object"}}
    edited = (
        Edit(xml)
        .sub("appraisal_outcome == 'refuse'</", "appraisal_outcome in ('refuse',)</")
        .sub("add_working_days(now(), 10)", "add_working_days(now(), 5)")
        .sub('value="dossier/approve.json"', 'value="dossier/approve_v2.json"')
        .sub("<bpmn:flowNodeRef>UT_Return</bpmn:flowNodeRef>", "")
        .sub(
            "<bpmn:flowNodeRef>UT_Approve</bpmn:flowNodeRef>",
            "<bpmn:flowNodeRef>UT_Approve</bpmn:flowNodeRef><bpmn:flowNodeRef>UT_Return</bpmn:flowNodeRef>",
        )
        .sub(
            '<bpmn:userTask id="UT_Approve" name="Phê duyệt kết quả giải quyết">',
            '<bpmn:userTask id="UT_Approve" name="Ký duyệt">',
        )
        .xml
    )
    forms_b = {**forms, "dossier/check.json": {"type": "object", "required": ["reception_decision"]}}
    diff = diff_definitions(xml, edited, forms, forms_b)
    changed = {c.element_id: c.details for c in diff.changed}
    assert changed["Flow_GW_Round_to_IE_Stopped"] == [
        "condition: appraisal_outcome == 'refuse' → appraisal_outcome in ('refuse',)"
    ]
    assert changed["ICE_RatingClosed"] == [
        "timer: timeDate add_working_days(now(), 10) → timeDate add_working_days(now(), 5)"
    ]
    assert changed["UT_Approve"] == [
        "name: Phê duyệt kết quả giải quyết → Ký duyệt",
        "form: dossier/approve.json → dossier/approve_v2.json",
    ]
    assert changed["UT_Return"] == ["lane: +Lane_leader, -Lane_officer"]
    assert changed["UT_Check"] == ["form dossier/check.json changed"]
    assert not diff.added and not diff.removed


def test_diff_of_scripts_and_decisions():
    xml = shipped("feedback.bpmn")
    dmn = shipped("feedback_classification.dmn")
    edited = Edit(xml).sub(
        "answered_at = now()</bpmn:script>", "answered_at = now()\nlate = False</bpmn:script>"
    )
    diff = diff_definitions(xml, edited.xml, {}, {})
    assert [c.details for c in diff.changed] == [["script changed"]]

    # Indentation in a decision table is formatting; a changed cell marks the calling task.
    reindented = dmn.replace("\n        ", "\n  ")
    assert diff_definitions(xml, xml, {}, {}, {"f.dmn": dmn}, {"f.dmn": reindented}).empty
    changed_dmn = Edit(dmn).sub('<text>"fees"</text>', '<text>"fees_and_charges"</text>').xml
    diff = diff_definitions(xml, xml, {}, {}, {"f.dmn": dmn}, {"f.dmn": changed_dmn})
    by_type = {c.type: c for c in diff.changed}
    assert set(by_type) == {"decision", "businessRuleTask"}
    assert by_type["decision"].details == ["decision table changed"]
    assert by_type["businessRuleTask"].details == ["decision feedback_classification changed"]


def test_diff_refuses_unreadable_xml_with_the_line():
    xml = shipped(SHIPPED)
    with pytest.raises(DefinitionInvalid, match=r"b\.bpmn:2: .*not well-formed"):
        diff_definitions(xml, '<?xml version="1.0"?>\n<bpmn:definitions', {}, {})


def test_diff_of_a_draft_form_json():
    xml = add_sign_task(shipped(SHIPPED))
    bigger = {**SIGN_FORM, "properties": {**SIGN_FORM["properties"], "note": {"type": "string"}}}
    diff = diff_definitions(xml, xml, {"dossier/sign.json": SIGN_FORM}, {"dossier/sign.json": bigger})
    assert [(c.element_id, c.details) for c in diff.changed] == [
        ("UT_Sign", ["form dossier/sign.json changed"])
    ]
