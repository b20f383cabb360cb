"""Process drafts: saved with their problems, deployed only without, every deployment recorded
in the process log with who and why. Database tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, text

from engine.actors import SYSTEM
from engine.db import transaction
from engine.drafts import (
    check_draft,
    delete_draft,
    deploy_draft,
    diff_draft,
    draft_bundle,
    get_draft,
    list_drafts,
    new_process_xml,
    save_draft,
)
from engine.errors import DefinitionInvalid, FormInvalid, InvalidAction, NotFound, PermissionDenied
from engine.migrate import upgrade
from engine.models import ProcessDefinition, ProcessDraft, ProcessEvent
from engine.motcua import Motcua
from engine.process_log import process_history, verify_process_log
from tests.test_migration import Edit, shipped_xml

PROCESS = "dossier_standard"


@pytest.fixture
def designer(motcua):
    return motcua.actor_for("thietke")


def count(m, model) -> int:
    with transaction(m.sessions) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_new_process_from_the_template_passes_the_checker(motcua):
    xml = new_process_xml("cap_phep_xay_dung", 'Cấp phép "xây dựng" <nhà ở> & sửa chữa')
    assert motcua.checker().check(draft_bundle(motcua, xml, {}, "cap_phep_xay_dung.bpmn")) == []
    assert 'name="Cấp phép &quot;xây dựng&quot; &lt;nhà ở&gt; &amp; sửa chữa"' in xml
    for lane in ("Bộ phận Một cửa", "Chuyên viên", "Lãnh đạo"):
        assert f'name="{lane}"' in xml
    assert xml.count("<bpmndi:BPMNShape") == 7 and xml.count("<bpmndi:BPMNEdge") == 2


@pytest.mark.parametrize("bad", ["", "1abc", "có_dấu", "a-b", "x" * 65, 'a" onload="x', "UT_Check", "Start"])
def test_new_process_refuses_an_unusable_id(bad):
    with pytest.raises(InvalidAction, match="process id"):
        new_process_xml(bad, "Thủ tục")


def test_a_draft_with_problems_is_saved_with_them(motcua, designer):
    xml = Edit(new_process_xml("thu_tuc_moi", "Thủ tục mới")).sub(
        '<spiffworkflow:property name="form" value="dossier/check.json"/>', ""
    )
    draft, problems = save_draft(motcua, designer, xml=xml.xml)
    assert draft.id and draft.process_id == "thu_tuc_moi" and draft.title == "Thủ tục mới"
    assert draft.author == "thietke" and draft.based_on_version is None
    assert [(p.element_id, p.message) for p in problems] == [
        ("UT_Check", "user task has no form (property 'form')")
    ]
    assert get_draft(motcua, designer, draft.id).bpmn_xml == xml.xml
    assert check_draft(motcua, get_draft(motcua, designer, draft.id)) == problems


def test_garbage_xml_is_kept_with_the_syntax_error_and_its_line(motcua, designer):
    draft, problems = save_draft(
        motcua, designer, xml="<definitions>\n  <oops", process_id="thu_tuc_moi", title="Nháp"
    )
    assert draft.process_id == "thu_tuc_moi" and draft.title == "Nháp"
    [problem] = problems
    assert problem.line == 2 and "not well-formed" in problem.message
    with pytest.raises(InvalidAction, match="process_id is required"):
        save_draft(motcua, designer, xml="<oops")


def test_too_big_or_bad_form_names_store_nothing(motcua, designer):
    huge = "<x>" + " " * motcua.settings.max_definition_bytes + "</x>"
    with pytest.raises(InvalidAction, match="limit"):
        save_draft(motcua, designer, xml=huge, process_id="p")
    xml = new_process_xml("thu_tuc_moi", "Thủ tục mới")
    for name in ("../secret.json", "/etc/x.json", "dossier/check.txt", "dossier//x.json", "a\\b.json"):
        with pytest.raises(FormInvalid) as err:
            save_draft(motcua, designer, xml=xml, forms={name: {"type": "object"}})
        assert name in err.value.errors
    assert count(motcua, ProcessDraft) == 0


def test_draft_forms_come_before_the_shipped_ones(motcua, designer):
    xml = new_process_xml("thu_tuc_moi", "Thủ tục mới")
    mine = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    bundle = draft_bundle(motcua, xml, {"dossier/check.json": mine, "dossier/unused.json": {}}, "t.bpmn")
    assert bundle.forms == {"dossier/check.json": mine}
    shipped = draft_bundle(motcua, xml, {}, "t.bpmn").forms["dossier/check.json"]
    assert shipped["title"]
    # A form typed in an editor arrives as text; broken JSON is a problem at the task, not a crash.
    draft, problems = save_draft(motcua, designer, xml=xml, forms={"dossier/check.json": '{"type": '})
    assert [(p.element_id, p.message.split(":")[0]) for p in problems] == [
        ("UT_Check", "form 'dossier/check.json' is not valid JSON")
    ]
    draft, problems = save_draft(
        motcua, designer, draft_id=draft.id, xml=xml, forms={"dossier/check.json": json.dumps(mine)}
    )
    assert problems == []


def test_decisions_beside_the_shipped_processes_join_the_bundle(motcua):
    xml = shipped_xml(motcua).replace("dossier_standard", "x")  # any text; only feedback calls a DMN
    assert draft_bundle(motcua, xml, {}, "x.bpmn").dmn == {}
    feedback = (motcua.settings.processes_dir / "feedback.bpmn").read_text(encoding="utf-8")
    assert list(draft_bundle(motcua, feedback, {}, "feedback.bpmn").dmn) == ["feedback_classification.dmn"]


def test_deploy_refuses_a_draft_with_problems_or_without_a_note(motcua, designer):
    xml = Edit(shipped_xml(motcua)).sub('value="5d"', 'value="five days"').xml
    draft, problems = save_draft(motcua, designer, xml=xml)
    assert problems and draft.based_on_version == 1
    with pytest.raises(InvalidAction, match="note is required"):
        deploy_draft(motcua, designer, draft.id, "  ")
    with pytest.raises(DefinitionInvalid) as err:
        deploy_draft(motcua, designer, draft.id, "Rút ngắn thẩm định")
    assert any(p.element_id == "UT_Appraise" and "budget" in p.message for p in err.value.problems)
    assert count(motcua, ProcessDefinition) == 3
    assert get_draft(motcua, designer, draft.id).deployed_version is None


def test_deploy_records_who_and_why_in_a_verifiable_log(motcua, designer):
    xml = Edit(shipped_xml(motcua)).sub('value="5d"', 'value="4d"').xml
    draft, _ = save_draft(motcua, designer, xml=xml)
    definition = deploy_draft(motcua, designer, draft.id, "Rút ngắn thời gian thẩm định")
    assert (definition.version, definition.deployed_by, definition.already_deployed) == (2, "thietke", False)
    assert get_draft(motcua, designer, draft.id).deployed_version == 2

    auditor = motcua.actor_for("kiemtra")
    history = process_history(motcua, auditor, PROCESS)
    assert [(e.type, e.actor, e.data["version"]) for e in history] == [
        ("process_deployed", "system", 1),
        ("process_deployed", "thietke", 2),
    ]
    assert history[1].data["note"] == "Rút ngắn thời gian thẩm định"
    assert history[1].data["definition_id"] == definition.id
    assert history[1].data["sha256"] == definition.sha256
    assert verify_process_log(motcua, PROCESS).ok

    # The same content again is that version: nothing new stored, nothing logged.
    again, _ = save_draft(motcua, designer, xml=xml)
    same = deploy_draft(motcua, designer, again.id, "Lần nữa")
    assert (same.version, same.already_deployed) == (2, True)
    assert len(process_history(motcua, auditor, PROCESS)) == 2
    assert count(motcua, ProcessEvent) == 4  # three shipped processes + version 2


def test_a_tampered_log_is_detected(motcua):
    if motcua.db.dialect.name == "postgresql":
        pytest.skip("PostgreSQL refuses the change itself (test_schema)")
    with motcua.db.begin() as conn:
        conn.execute(text("UPDATE process_events SET actor = 'someone' WHERE process_id = 'feedback'"))
        conn.execute(text("DELETE FROM process_events WHERE process_id = 'dossier_standard'"))
    verdict = verify_process_log(motcua, "feedback")
    assert (verdict.ok, verdict.first_bad_seq, verdict.reason) == (False, 1, "event 1 was altered")
    verdict = verify_process_log(motcua, PROCESS)
    assert (verdict.ok, verdict.reason) == (False, "version 1 has no deploy record in the log")
    assert verify_process_log(motcua, "dossier_interagency").ok


def test_versions_deployed_before_the_log_get_their_record(database_url, clock, settings):
    m = Motcua(settings, clock=clock, database_url=database_url)
    upgrade(m.db, "0003")
    xml = new_process_xml("thu_tuc_cu", "Thủ tục cũ")
    with m.db.begin() as conn:
        for version in (1, 2):
            conn.execute(
                insert(ProcessDefinition.__table__).values(
                    process_id="thu_tuc_cu",
                    version=version,
                    sha256=f"{version:064d}",
                    filename="thu_tuc_cu.bpmn",
                    bpmn_xml=xml,
                    dmn_files={},
                    forms={},
                    lanes={},
                    deployed_at=clock.now() + timedelta(days=version, microseconds=123),
                    deployed_by="vanhanh",
                    note=f"Bản {version}",
                )
            )
    m.migrate()
    history = process_history(m, SYSTEM, "thu_tuc_cu")
    assert [(e.type, e.actor, e.data["version"], e.data["note"]) for e in history] == [
        ("process_deployed", "vanhanh", 1, "Bản 1"),
        ("process_deployed", "vanhanh", 2, "Bản 2"),
    ]
    assert verify_process_log(m, "thu_tuc_cu").ok
    m.db.dispose()


def test_saving_again_updates_the_draft_and_starts_from_the_deployed_version(motcua, designer):
    xml = Edit(shipped_xml(motcua)).sub('value="5d"', 'value="4d"').xml
    draft, _ = save_draft(motcua, designer, xml=xml, title="Rút ngắn thẩm định")
    deploy_draft(motcua, designer, draft.id, "Rút ngắn")
    admin = motcua.actor_for("quantri")  # someone else's draft: allowed for designers and admins
    xml3 = Edit(xml).sub('value="4d"', 'value="3d"').xml
    updated, problems = save_draft(motcua, admin, draft_id=draft.id, xml=xml3)
    assert problems == []
    assert (updated.id, updated.title, updated.author, updated.updated_by) == (
        draft.id,
        "Rút ngắn thẩm định",
        "thietke",
        "quantri",
    )
    assert (updated.based_on_version, updated.deployed_version) == (2, None)
    diff = diff_draft(motcua, designer, draft.id)
    assert [(c.element_id, c.details) for c in diff.changed] == [("UT_Appraise", ["budget: 4d → 3d"])]
    with pytest.raises(NotFound):
        save_draft(motcua, designer, draft_id=9999, xml=xml3)
    with pytest.raises(NotFound, match="no version 7"):
        save_draft(motcua, designer, xml=xml3, based_on_version=7)


def test_list_and_delete_drafts(motcua, designer):
    first, _ = save_draft(motcua, designer, xml=new_process_xml("thu_tuc_a", "A"))
    second, _ = save_draft(motcua, designer, xml=new_process_xml("thu_tuc_b", "B"))
    assert [d.id for d in list_drafts(motcua, designer)] == [second.id, first.id]
    assert [d.id for d in list_drafts(motcua, designer, "thu_tuc_a")] == [first.id]
    delete_draft(motcua, designer, first.id)
    assert [d.id for d in list_drafts(motcua, designer)] == [second.id]
    with pytest.raises(NotFound):
        get_draft(motcua, designer, first.id)
    with pytest.raises(NotFound):
        delete_draft(motcua, designer, first.id)
    diff = diff_draft(motcua, designer, second.id)  # never deployed: everything is new
    assert {c.element_id for c in diff.added} >= {"thu_tuc_b", "UT_Check", "Lane_officer"}


def test_only_designers_and_admins_change_drafts(motcua, designer):
    draft, _ = save_draft(motcua, designer, xml=new_process_xml("thu_tuc_moi", "Thủ tục mới"))
    xml = new_process_xml("thu_tuc_moi", "Khác")
    for username in ("motcua_anbinh", "kiemtra"):
        actor = motcua.actor_for(username)
        with pytest.raises(PermissionDenied):
            save_draft(motcua, actor, xml=xml)
        with pytest.raises(PermissionDenied):
            save_draft(motcua, actor, draft_id=draft.id, xml=xml)
        with pytest.raises(PermissionDenied):
            deploy_draft(motcua, actor, draft.id, "Triển khai")
        with pytest.raises(PermissionDenied):
            delete_draft(motcua, actor, draft.id)
    officer = motcua.actor_for("motcua_anbinh")
    with pytest.raises(PermissionDenied):
        list_drafts(motcua, officer)
    with pytest.raises(PermissionDenied):
        process_history(motcua, officer, PROCESS)
    auditor = motcua.actor_for("kiemtra")
    assert [d.id for d in list_drafts(motcua, auditor)] == [draft.id]
    assert get_draft(motcua, designer, draft.id).title == "Thủ tục mới"
    deployed = deploy_draft(motcua, motcua.actor_for("quantri"), draft.id, "Thủ tục mới của tỉnh")
    assert (deployed.process_id, deployed.version) == ("thu_tuc_moi", 1)
