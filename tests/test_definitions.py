"""Checking and deploying process definitions: hostile XML, XSD, the dialect rules, versioning."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.db import transaction
from engine.definitions import Bundle
from engine.errors import DefinitionInvalid
from engine.models import ProcessDefinition
from engine.motcua import Motcua
from web.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"
MINI = (FIXTURES / "mini.bpmn").read_text(encoding="utf-8")


@pytest.fixture
def checker_motcua(tmp_path, clock, settings):
    """Only the checker is needed: an in-memory database, fixture forms."""
    m = Motcua(replace(settings, processes_dir=FIXTURES), clock=clock, database_url="sqlite://")
    m.migrate()
    return m


def line_of(needle: str) -> int:
    """Line number (1-based) of the first line of the fixture containing `needle`."""
    return next(i for i, line in enumerate(MINI.splitlines(), start=1) if needle in line)


def write(tmp_path: Path, text: str, name: str = "p.bpmn") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def messages(m: Motcua, path: Path) -> list[str]:
    return [f"{p.line}:{p.element_id}:{p.message}" for p in m.check_file(path)]


def test_the_fixture_process_is_clean(checker_motcua):
    assert checker_motcua.check_file(FIXTURES / "mini.bpmn") == []


def test_xxe_is_refused_without_reading_the_file(checker_motcua, tmp_path):
    evil = MINI.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    ).replace('name="Xem xét hồ sơ"', 'name="&xxe;"')
    found = messages(checker_motcua, write(tmp_path, evil))
    assert found == ["2::DOCTYPE/ENTITY declarations are not allowed (XXE protection)"]


def test_billion_laughs_is_refused(checker_motcua, tmp_path):
    lol = (
        '<!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
        )
        + "]>"
    )
    path = write(tmp_path, f'<?xml version="1.0"?>\n{lol}\n<root>&lol9;</root>')
    assert messages(checker_motcua, path)[0].endswith(
        "DOCTYPE/ENTITY declarations are not allowed (XXE protection)"
    )


def test_oversized_file_is_refused(checker_motcua, tmp_path):
    big = MINI.replace("</bpmn:definitions>", "<!--" + "x" * (2 * 1024 * 1024) + "--></bpmn:definitions>")
    found = messages(checker_motcua, write(tmp_path, big))
    assert len(found) == 1 and "the limit is 2097152" in found[0]


def test_broken_xml_names_the_line(checker_motcua, tmp_path):
    found = messages(checker_motcua, write(tmp_path, MINI.replace("</bpmn:userTask>", "</bpmn:task>", 1)))
    # the mismatch is reported where the userTask's end tag was expected
    assert len(found) == 1 and found[0].startswith(f"{line_of('</bpmn:userTask>')}::not well-formed XML"), (
        found
    )


def test_xsd_violation_names_line_and_element(checker_motcua, tmp_path):
    found = messages(
        checker_motcua,
        write(
            tmp_path,
            MINI.replace(
                '<bpmn:exclusiveGateway id="decide" default="f_refuse">',
                '<bpmn:exclusiveGateway id="decide" default="f_refuse" bogus="1">',
            ),
        ),
    )
    expected = f"{line_of('exclusiveGateway id=')}:decide:not valid BPMN 2.0"
    assert any(m.startswith(expected) and "bogus" in m for m in found), found


def test_dialect_rules(checker_motcua, tmp_path):
    text = (
        MINI.replace('<spiffworkflow:property name="role" value="leader"/>', "")
        .replace('value="mini/approve.json"', 'value="mini/missing.json"')
        .replace("appointment_at = schedule_appointment()", "import os")
        .replace("decision == 'accept'", "().__class__.__base__.__subclasses__()")
        .replace("working_days_before(appointment(), 1)", "working_days_before(no_such_function(), 1)")
        .replace('<bpmn:userTask id="approve"', '<bpmn:serviceTask id="svc"/><bpmn:userTask id="approve"')
        .replace('value="processed"', 'value="finished_ok"')
    )
    found = messages(checker_motcua, write(tmp_path, text))
    joined = "\n".join(found)
    assert "Lane_leader:lane 'Leader' has no role mapping" in joined
    assert "approve:form 'mini/missing.json' not found" in joined
    assert "schedule:script refused by the sandbox" in joined
    assert "f_accept:condition refused by the sandbox" in joined
    assert "reminder:timer expression does not evaluate" in joined
    assert "svc:service tasks are not supported" in joined
    assert "approve:caseStatus 'finished_ok' is not a known status" in joined


def test_non_executable_model_is_recognised(checker_motcua, tmp_path):
    found = messages(
        checker_motcua, write(tmp_path, MINI.replace('isExecutable="true"', 'isExecutable="false"'))
    )
    assert len(found) == 1 and "no executable process" in found[0] and "model only" in found[0]


def test_check_command_output_and_exit_codes(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTCUA_HOME", str(tmp_path))
    monkeypatch.setenv("MOTCUA_PROCESSES", str(FIXTURES))
    runner = CliRunner()
    ok = runner.invoke(cli, ["process", "check", str(FIXTURES / "mini.bpmn")])
    assert ok.exit_code == 0, ok.output
    bad = write(tmp_path, MINI.replace('<spiffworkflow:property name="role" value="leader"/>', ""))
    result = runner.invoke(cli, ["process", "check", str(bad)])
    assert result.exit_code == 1
    assert (
        f"{bad}:{line_of('Lane_leader')}: Lane_leader: lane 'Leader' has no role mapping (property 'role')"
        in result.output
    )


def test_deploy_versions_only_on_change(tmp_path, clock, settings):
    procs = tmp_path / "procs"
    shutil.copytree(FIXTURES, procs)
    m = Motcua(replace(settings, processes_dir=procs), clock=clock, database_url=f"sqlite:///{tmp_path}/d.db")
    m.migrate()
    first = m.deploy_file(procs / "mini.bpmn")
    again = m.deploy_file(procs / "mini.bpmn")
    assert (first.version, again.version, again.id) == (1, 1, first.id)
    form = procs / "forms" / "mini" / "approve.json"
    form.write_text(form.read_text().replace("Đồng ý", "Đồng ý ký"), encoding="utf-8")
    second = m.deploy_file(procs / "mini.bpmn")
    assert second.version == 2 and second.sha256 != first.sha256
    assert "Đồng ý ký" in str(second.forms["mini/approve.json"])


def test_invalid_deploy_stores_nothing(checker_motcua):
    bundle = Bundle("bad.bpmn", MINI.replace('isExecutable="true"', 'isExecutable="false"').encode())
    with pytest.raises(DefinitionInvalid):
        checker_motcua.deploy_bundle(bundle)
    with transaction(checker_motcua.sessions) as session:
        assert session.scalars(select(ProcessDefinition)).all() == []
