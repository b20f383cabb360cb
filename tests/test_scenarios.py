"""Scenario tests for process designers: the shipped scenario files pass, and a scenario that
does not match the process fails with a reason a designer can act on. The runner always uses its
own in-memory SQLite database, so these tests need no database fixture."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import cli
from engine.config import REPO_ROOT
from engine.definitions import Bundle, load_bundle
from engine.errors import DefinitionInvalid
from engine.scenarios import (
    ScenarioInvalid,
    load_scenarios,
    run_file,
    run_scenarios,
    scenario_file_for,
)

PROCESSES = REPO_ROOT / "processes"
SHIPPED = ["dossier_standard", "dossier_interagency", "feedback"]


def standard_bundle() -> Bundle:
    return load_bundle(PROCESSES / "dossier_standard.bpmn", PROCESSES / "forms")


def run_text(text: str, bundle: Bundle | None = None):
    return run_scenarios(bundle or standard_bundle(), load_scenarios(text, filename="t.scenarios.yaml"))


def without_approval(bundle: Bundle, process_id: str = "dossier_standard") -> Bundle:
    """The standard process with the leader's approval task replaced by an automatic approval."""
    xml = bundle.bpmn.decode("utf-8")
    changed = re.sub(
        r'<bpmn:userTask id="UT_Approve".*?</bpmn:userTask>',
        '<bpmn:scriptTask id="UT_Approve" name="Tự động phê duyệt" scriptFormat="python">'
        "<bpmn:incoming>Flow_M_Approve_to_UT_Approve</bpmn:incoming>"
        "<bpmn:outgoing>Flow_UT_Approve_to_GW_Approve</bpmn:outgoing>"
        "<bpmn:script>approval_decision = 'approve'</bpmn:script>"
        "</bpmn:scriptTask>",
        xml,
        flags=re.S,
    )
    assert changed != xml
    changed = changed.replace('process id="dossier_standard"', f'process id="{process_id}"')
    return replace(bundle, bpmn=changed.encode("utf-8"))


ACCEPT_AND_APPRAISE = """\
    start:
      dossier: {procedure: "2.000720", agency: XA_AN_BINH}
    steps:
      - complete: UT_Check
        data: {reception_decision: accept}
      - complete: UT_Appraise
        data: {appraisal_outcome: pass, appraisal_opinion: "Đủ điều kiện"}
"""


# -- the shipped scenarios --------------------------------------------------------------------


@pytest.mark.parametrize("process", SHIPPED)
def test_shipped_scenarios_pass(process):
    bpmn = PROCESSES / f"{process}.bpmn"
    assert scenario_file_for(bpmn) == PROCESSES / f"{process}.scenarios.yaml"
    results = run_file(bpmn)
    failed = {r.name: r.failures for r in results if not r.passed}
    assert not failed, failed
    assert len(results) >= 8  # every path of docs/processes/<process>.md
    for result in results:
        assert result.path and result.path[0].startswith("Start")
        assert result.end == "completed" or result.end.startswith("waiting at ")


def test_a_result_reports_the_path_statuses_and_pushed_codes():
    (result,) = run_scenarios(
        standard_bundle(),
        load_scenarios(PROCESSES / "dossier_standard.scenarios.yaml"),
        only="accepted, returned and rated",
    )
    assert result.passed and result.end == "completed"
    tasks = [e for e in result.path if e.startswith("UT_")]
    assert tasks == ["UT_Check", "UT_Appraise", "UT_Approve", "UT_Return"]
    assert result.statuses == ["received", "processing", "processed", "returned"]
    assert result.pushed == [2, 4, 9, 10]
    assert result.duration_ms > 0


# -- failures a designer must understand ------------------------------------------------------


def test_a_wrong_expectation_says_expected_and_actual():
    (result,) = run_text(
        "scenarios:\n  - name: wrong statuses\n"
        + ACCEPT_AND_APPRAISE
        + """
      - complete: UT_Approve
        data: {approval_decision: approve}
    expect:
      statuses: [received, processed]
      pushed: [2, 9]
      path: [UT_Approve, UT_Appraise]
      end: completed
"""
    )
    assert not result.passed
    failures = "\n".join(result.failures)
    assert "statuses: expected [received, processed], actual [received, processing, processed]" in failures
    assert "pushed: expected [2, 9], actual [2, 4, 9]" in failures
    assert "UT_Appraise was not completed after UT_Approve" in failures
    assert "end: expected completed, actual waiting at UT_Return" in failures
    assert result.statuses == ["received", "processing", "processed"]


def test_completing_a_task_that_is_not_open_names_the_open_tasks_and_others_still_run():
    results = run_text(
        """
scenarios:
  - name: skips the appraisal
    start:
      dossier: {procedure: "2.000720", agency: XA_AN_BINH}
    steps:
      - complete: UT_Check
        data: {reception_decision: accept}
      - complete: UT_Approve
        data: {approval_decision: approve}
    expect:
      end: completed
  - name: refused at reception
    start:
      dossier: {procedure: "2.000720", agency: XA_AN_BINH}
    steps:
      - complete: UT_Check
        data: {reception_decision: refuse, reception_reasons: "Không thuộc thẩm quyền"}
    expect:
      statuses: [not_received]
      end: completed
"""
    )
    assert [r.passed for r in results] == [False, True]
    assert results[0].failures == [
        "step 2 (line 9) complete UT_Approve: UT_Approve is not open; open tasks: UT_Appraise"
    ]
    assert results[0].end == "waiting at UT_Appraise"


def test_form_errors_name_the_fields():
    (result,) = run_text(
        """
scenarios:
  - name: supplement without its list
    start:
      dossier: {procedure: "2.000720", agency: XA_AN_BINH}
    steps:
      - complete: UT_Check
        data: {reception_decision: supplement}
"""
    )
    assert not result.passed
    (failure,) = result.failures
    assert failure.startswith("step 1 (line 7) complete UT_Check: the form refused the data:")
    assert "missing_items" in failure and "reception_reasons" in failure


def test_domain_errors_and_unmet_refusals_are_failures_not_crashes():
    results = run_text(
        """
scenarios:
  - name: message nobody waits for
    start:
      dossier: {procedure: "2.000720", agency: XA_AN_BINH}
    steps:
      - message: satisfaction_rated
        payload: {level: satisfied}
  - name: a refusal that does not come
    start:
      dossier: {procedure: "2.000720", agency: XA_AN_BINH}
    steps:
      - complete: UT_Check
        data: {reception_decision: accept}
        refused: reception_decision
  - name: no timer to wait for
    start:
      dossier: {procedure: "2.000720", agency: XA_AN_BINH}
    steps:
      - wait: until_next_timer
  - name: unknown procedure
    start:
      dossier: {procedure: "9.999999", agency: XA_AN_BINH}
"""
    )
    assert [r.passed for r in results] == [False, False, False, False]
    assert "nothing in this case waits for message 'satisfaction_rated'" in results[0].failures[0]
    assert "expected a refusal containing 'reception_decision'" in results[1].failures[0]
    assert results[2].failures == ["step 1 (line 20) wait until_next_timer: no timer is waiting"]
    assert results[3].failures[0].startswith("start: ") and "9.999999" in results[3].failures[0]
    assert results[3].end == "not started"


def test_an_unknown_element_is_reported_rather_than_passing():
    (result,) = run_text(
        """
scenarios:
  - name: typo in not_path
    start:
      dossier: {procedure: "2.000720", agency: XA_AN_BINH}
    expect:
      not_path: [UT_Aprove]
"""
    )
    assert result.failures == ["expect: not_path: UT_Aprove not an element of this process"]


def test_a_draft_bundle_is_what_runs():
    scenarios = load_scenarios(PROCESSES / "dossier_standard.scenarios.yaml")
    draft = without_approval(standard_bundle())
    (result,) = run_scenarios(draft, scenarios, only="accepted, returned and rated")
    assert not result.passed
    assert result.failures == [
        "step 6 (line 18) complete UT_Approve: UT_Approve is not open; open tasks: UT_Return"
    ]


def test_a_draft_of_a_new_process_borrows_an_existing_procedure():
    # The procedure 2.000720 names dossier_standard; the runner points it at the draft, so the
    # draft's automatic approval shows (the shipped process would pass this scenario).
    scenarios = load_scenarios(PROCESSES / "dossier_standard.scenarios.yaml")
    draft = without_approval(standard_bundle(), process_id="dossier_trial")
    (result,) = run_scenarios(draft, scenarios, only="refused after appraisal")
    assert not result.passed
    assert "UT_Approve is not open; open tasks: UT_ReturnRefusal" in result.failures[0]
    feedback = load_scenarios(PROCESSES / "feedback.scenarios.yaml")
    (other,) = run_scenarios(draft, feedback, only="not a regulation, rejected")
    assert "cannot test process 'dossier_trial'" in other.failures[0]


def test_a_bundle_that_cannot_be_deployed_raises_definition_invalid():
    broken = replace(standard_bundle(), bpmn=b"<bpmn:definitions")
    with pytest.raises(DefinitionInvalid):
        run_text("scenarios:\n  - name: x\n" + ACCEPT_AND_APPRAISE, broken)


# -- invalid scenario files -------------------------------------------------------------------


def invalid(text: str) -> list[str]:
    with pytest.raises(ScenarioInvalid) as err:
        load_scenarios(text, filename="dossier_standard.scenarios.yaml")
    return err.value.problems


def test_an_unknown_key_names_file_line_scenario_and_step():
    problems = invalid(
        "scenarios:\n  - name: happy path\n"
        + ACCEPT_AND_APPRAISE
        + "      - compleet: UT_Approve\n        data: {approval_decision: approve}\n"
    )
    assert len(problems) == 1
    assert problems[0].startswith(
        "dossier_standard.scenarios.yaml:10: scenario 'happy path': step 3: unknown key 'compleet'"
    )


def test_missing_fields_and_wrong_types_are_pinned_to_their_lines():
    problems = invalid(
        """scenarios:
  - name: no start
    steps: []
  - name: unquoted code
    start:
      dossier: {procedure: 2.000720, agency: XA_AN_BINH}
    expect:
      pushed: [two]
"""
    )
    assert problems == [
        "dossier_standard.scenarios.yaml:2: scenario 'no start': missing field 'start'",
        "dossier_standard.scenarios.yaml:6: scenario 'unquoted code': start.dossier.procedure: must be text "
        "(a procedure code in quotes, e.g. '2.000720'), not 2.00072",
        "dossier_standard.scenarios.yaml:8: scenario 'unquoted code': expect.pushed item 1: "
        "must be a whole number, not 'two'",
    ]


def test_steps_need_exactly_one_verb_and_valid_instants():
    problems = invalid(
        """scenarios:
  - name: muddled
    start: {dossier: {procedure: "2.000720", agency: XA_AN_BINH}, at: "Monday morning"}
    steps:
      - {complete: UT_Check, message: supplement_received}
      - {message: supplement_received, data: {}}
      - {wait: {until: "tomorrow"}}
  - name: muddled
    start: {feedback: {agency: XA_AN_BINH, category: fees}, dossier: {procedure: "1", agency: A}}
"""
    )
    assert problems == [
        "dossier_standard.scenarios.yaml:3: scenario 'muddled': start.at: 'Monday morning' is not an "
        "ISO 8601 date-time",
        "dossier_standard.scenarios.yaml:5: scenario 'muddled': step 1: must have exactly one of "
        "complete, wait, message, expect (found complete, message)",
        "dossier_standard.scenarios.yaml:6: scenario 'muddled': step 2: 'data' does not go with 'message' "
        "(a message takes 'payload')",
        "dossier_standard.scenarios.yaml:7: scenario 'muddled': step 3: wait.until: 'tomorrow' is not a "
        "date-time",
        "dossier_standard.scenarios.yaml:8: scenario 'muddled': the name is already used by the scenario "
        "at line 2",
        "dossier_standard.scenarios.yaml:9: scenario 'muddled': start: must have exactly one of 'dossier' "
        "or 'feedback'",
    ]


def test_broken_yaml_and_unsafe_tags_are_refused_with_their_line(tmp_path):
    problems = invalid("scenarios:\n  - name: x\n    start: {dossier: {procedure: '1', agency: A}\n")
    assert problems[0].startswith("dossier_standard.scenarios.yaml:4: not valid YAML:")
    problems = invalid("scenarios:\n  - !!python/object/apply:os.system ['true']\n")
    assert problems[0].startswith("dossier_standard.scenarios.yaml:2: not valid YAML:")
    assert invalid("scenarios:\n  - name: a\n    name: b\n") == [
        "dossier_standard.scenarios.yaml:3: duplicate key 'name'"
    ]
    path = tmp_path / "x.scenarios.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ScenarioInvalid, match=r"^x\.scenarios\.yaml:1: the file is empty"):
        load_scenarios(path)


# -- the command line -------------------------------------------------------------------------


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MOTCUA_HOME", str(tmp_path))
    monkeypatch.delenv("MOTCUA_DATABASE_URL", raising=False)
    monkeypatch.delenv("MOTCUA_PROCESSES", raising=False)
    return CliRunner()


def test_cli_passes_the_shipped_processes(runner):
    result = runner.invoke(cli, ["process", "test"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "PASS dossier_standard: refused at reception" in [re.sub(r" \(\d+ ms\)$", "", x) for x in lines]
    assert {line.split(":")[0].split()[1] for line in lines if line.startswith("PASS")} == set(SHIPPED)
    assert not any(line.startswith("FAIL") for line in lines)


def test_cli_runs_one_scenario(runner):
    result = runner.invoke(
        cli, ["process", "test", "feedback", "--scenario", "outside competence, transferred"]
    )
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if line.startswith(("PASS", "FAIL"))] == [
        re.search(r"PASS feedback: outside competence, transferred \(\d+ ms\)", result.output).group(0)
    ]


def test_cli_fails_on_a_failing_scenario_file(runner, tmp_path):
    bpmn = tmp_path / "dossier_standard.bpmn"
    shutil.copy(PROCESSES / "dossier_standard.bpmn", bpmn)
    scenario_file_for(bpmn).write_text(
        "scenarios:\n  - name: wrong status\n"
        + ACCEPT_AND_APPRAISE
        + "    expect:\n      status: processed\n",
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["process", "test", str(bpmn)])
    assert result.exit_code == 1
    assert re.search(r"^FAIL dossier_standard: wrong status \(\d+ ms\)$", result.output, re.M)
    assert "    expect: status: expected 'processed', actual 'processing'" in result.output


def test_cli_fails_on_an_invalid_scenario_file(runner, tmp_path):
    bpmn = tmp_path / "dossier_standard.bpmn"
    shutil.copy(PROCESSES / "dossier_standard.bpmn", bpmn)
    scenario_file_for(bpmn).write_text("scenarios:\n  - name: x\n    strat: {}\n", encoding="utf-8")
    result = runner.invoke(cli, ["process", "test", str(bpmn)])
    assert result.exit_code == 1
    assert "FAIL dossier_standard: the scenario file is invalid" in result.output
    assert "dossier_standard.scenarios.yaml:3: scenario 'x': unknown key 'strat'" in result.output
