// Each rule against its fixtures: valid files report nothing, invalid files report exactly the
// listed elements (once per finding) with a message naming what to fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES, lintWithRule, repositoryDialect } from './lint-helper.mjs';

const dialect = repositoryDialect();

// rule -> fixture -> [element id, message fragment] for every finding, in element id order.
const EXPECTED = {
  'unsupported-element': {
    'invalid.bpmn': [
      [ 'AdHoc_Free', 'Ad-hoc sub-processes are not supported' ],
      [ 'DS_Archive', 'Data stores' ],
      [ 'GW_Complex', 'Complex gateways' ],
      [ 'ICE_Signal', 'Signal events are not supported; use messages' ],
      [ 'Receive_Reply', 'use a message intermediate catch event' ],
      [ 'Send_Mail', 'Send tasks' ],
      [ 'Service_Call', 'Service tasks' ],
      [ 'TX_Pay', 'Transaction sub-processes' ],
      [ 'UT_Loop', 'Loop markers' ],
      [ 'UT_Many', 'Multi-instance' ]
    ]
  },
  'lane-role': {
    'invalid.bpmn': [
      [ 'Lane_BadSlot', 'agency "Partner Agency" is not a valid agency slot name' ],
      [ 'Lane_NoRole', 'has no role: set the "role" property' ],
      [ 'Lane_UnknownRole', 'role "janitor" is not one of officer, specialist' ],
      [ 'Lane_UnknownSlot', 'agency "ministry" is not one of receiving, resolving, partner' ]
    ]
  },
  'task-in-lane': {
    'invalid.bpmn': [
      [ 'MT_Outside', 'in no lane' ],
      [ 'UT_InnerOutside', 'in no lane' ],
      [ 'UT_Outside', 'in no lane' ]
    ],
    'invalid-no-lanes.bpmn': [ [ 'UT_Alone', 'move it into a lane' ] ]
  },
  'user-task-form': {
    'invalid.bpmn': [
      [ 'MT_NoExtensions', 'has no form' ],
      [ 'UT_EmptyForm', 'has no form' ],
      [ 'UT_NoForm', 'has no form' ],
      [ 'UT_UnknownForm', 'Form "dossier/missing.json" does not exist' ]
    ]
  },
  'case-status': {
    'invalid.bpmn': [
      [ 'IE_Done', 'Case status "Finished" is not a known status' ],
      [ 'UT_Receive', 'Case status "recieved" is not a known status' ]
    ]
  },
  'budget-format': {
    'invalid.bpmn': [
      [ 'UT_Comma', 'Budget "0,5d"' ],
      [ 'UT_Empty', 'Budget ""' ],
      [ 'UT_Minutes', 'Budget "30m"' ],
      [ 'UT_Words', 'Budget "2 days" must be working days or hours' ]
    ]
  },
  'script-sandbox': {
    'invalid.bpmn': [
      [ 'BE_Timer', 'Timer timeDate, line 1: "add_business_days()" is neither a dialect function nor a builtin' ],
      [ 'Flow_Assign', '"=" assigns' ],
      [ 'Flow_Blank', 'Condition is empty' ],
      [ 'Flow_Eval', '"eval" is not allowed' ],
      [ 'ICE_Rated', 'Message payload, line 1: "globals" is not allowed' ],
      [ 'ST_Dunder', 'the attribute "__class__" is not allowed' ],
      [ 'ST_Dunder', 'the attribute "__bases__" is not allowed' ],
      [ 'ST_Empty', 'Script task has no script' ],
      [ 'ST_Format', 'the attribute "format" is not allowed' ],
      [ 'ST_FString', 'the attribute "__class__" is not allowed' ],
      [ 'ST_Import', 'Script, line 1: import statements are not allowed' ],
      [ 'ST_Open', '"open" is not allowed' ],
      [ 'ST_Unbalanced', '"(" is never closed' ],
      [ 'ST_UnknownCall', '"send_mail()" is neither a dialect function nor a builtin' ],
      [ 'UT_PreScript', 'Pre-script, line 1: the name "_hidden" is not allowed' ]
    ]
  },
  'timer-expression': {
    'invalid.bpmn': [
      [ 'ICE_BareDate', 'put the date in quotes' ],
      [ 'ICE_BareDurationAsDuration', `Timer timeDuration "PT4H" is read as Python: put it in quotes ('PT4H')` ],
      [ 'ICE_BareDuration', 'Timer timeDate "P1D" is read as Python, not as a duration' ],
      [ 'ICE_Cycle', 'Cycle timers are not supported' ],
      [ 'ICE_Empty', 'Timer timeDate is empty' ],
      [ 'ICE_NoExpression', 'Timer has no expression' ],
      [ 'ICE_Quote', 'a string is not closed' ],
      [ 'ICE_Unbalanced', '"(" is never closed' ]
    ]
  },
  'decision-link': {
    'invalid.bpmn': [
      [ 'BRT_Blank', 'calls no decision' ],
      [ 'BRT_None', 'calls no decision' ],
      [ 'BRT_Unknown', 'Decision "fee_table" is in no DMN file' ]
    ]
  },
  'executable-process': {
    'invalid.bpmn': [ [ 'Process_sketch', 'No executable process' ] ],
    'invalid-unmarked.bpmn': [ [ 'Process_unmarked', 'No executable process' ] ],
    'invalid-empty.bpmn': [ [ 'Definitions_test', 'No executable process' ] ]
  }
};

for (const rule of Object.keys(EXPECTED)) {
  const dir = path.join(FIXTURES, rule);
  const files = fs.readdirSync(dir).filter((name) => name.endsWith('.bpmn')).sort();

  test(`${rule}: has valid and invalid fixtures, each invalid one with expectations`, () => {
    assert.ok(files.some((name) => name.startsWith('valid')), 'no valid fixture');
    const invalid = files.filter((name) => name.startsWith('invalid'));
    assert.ok(invalid.length > 0, 'no invalid fixture');
    assert.deepEqual(invalid, Object.keys(EXPECTED[rule]).sort());
  });

  for (const file of files) {
    test(`${rule}: ${file}`, async () => {
      const issues = await lintWithRule(path.join(dir, file), rule, dialect);
      for (const issue of issues) {
        assert.equal(issue.rule, `motcua/${rule}`);
        assert.equal(issue.category, 'error');
      }
      const expected = file.startsWith('valid') ? [] : EXPECTED[rule][file];
      assert.deepEqual(issues.map((issue) => issue.id), expected.map(([ id ]) => id), JSON.stringify(issues, null, 1));
      issues.forEach((issue, index) => {
        assert.ok(issue.message.includes(expected[index][1]), `${issue.id}: "${issue.message}" lacks "${expected[index][1]}"`);
      });
    });
  }
}

test('lane-role and user-task-form read extension elements without the moddle descriptor too', async () => {
  // From the bpmnlint command line the spiffworkflow elements are generic; same findings.
  for (const rule of [ 'lane-role', 'user-task-form', 'decision-link' ]) {
    const file = path.join(FIXTURES, rule, 'invalid.bpmn');
    const typed = await lintWithRule(file, rule, dialect);
    const generic = await lintWithRule(file, rule, dialect, { typed: false });
    assert.deepEqual(generic, typed);
  }
});

test('without dialect lists only what the file shows is checked', async () => {
  const laneIssues = await lintWithRule(path.join(FIXTURES, 'lane-role/invalid.bpmn'), 'lane-role', {});
  assert.deepEqual(laneIssues.map((issue) => issue.id), [ 'Lane_BadSlot', 'Lane_NoRole' ]);
  const formIssues = await lintWithRule(path.join(FIXTURES, 'user-task-form/invalid.bpmn'), 'user-task-form', {});
  assert.deepEqual(formIssues.map((issue) => issue.id), [ 'MT_NoExtensions', 'UT_EmptyForm', 'UT_NoForm' ]);
});

test('a form created in the session is known once it is in the options the rule receives', async () => {
  const file = path.join(FIXTURES, 'user-task-form/invalid.bpmn');
  const options = { ...dialect, forms: [ ...dialect.forms ] };
  assert.ok((await lintWithRule(file, 'user-task-form', options)).some((issue) => issue.id === 'UT_UnknownForm'));
  options.forms.push('dossier/missing.json');
  assert.ok(!(await lintWithRule(file, 'user-task-form', options)).some((issue) => issue.id === 'UT_UnknownForm'));
});
