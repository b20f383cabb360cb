// The shipped processes lint clean with everything the designer runs: no errors; the only
// warnings are the ones docs/designer-client.md explains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { lintAsDesigner, repositoryDialect, shippedProcesses } from './lint-helper.mjs';

const ACCEPTED_WARNINGS = new Set([ 'fake-join', 'label-required' ]);
const dialect = repositoryDialect();

test('there are shipped processes to lint', () => {
  assert.ok(shippedProcesses().length >= 3);
});

for (const file of shippedProcesses()) {
  test(`${path.basename(file)} has no lint errors`, async () => {
    const issues = await lintAsDesigner(file, dialect);
    const errors = issues.filter((issue) => issue.category === 'error');
    assert.deepEqual(errors, []);
    const warnings = issues.filter((issue) => issue.category !== 'error');
    for (const warning of warnings) {
      assert.ok(ACCEPTED_WARNINGS.has(warning.rule), `unexpected ${warning.rule} on ${warning.id}: ${warning.message}`);
    }
  });
}

test('a broken copy of a shipped process is caught by the designer config', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const source = fs.readFileSync(shippedProcesses().find((f) => f.endsWith('feedback.bpmn')), 'utf8');
  const broken = source
    .replace('<spiffworkflow:property name="role" value="specialist"/>', '<spiffworkflow:property name="role" value="clerk"/>')
    .replace('answered_at = now()', 'import os');
  assert.notEqual(broken, source);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'motcua-lint-')), 'feedback.bpmn');
  fs.writeFileSync(file, broken);
  const errors = (await lintAsDesigner(file, dialect)).filter((issue) => issue.category === 'error');
  assert.deepEqual(errors.map((issue) => [ issue.rule, issue.id ]), [
    [ 'motcua/lane-role', 'Lane_specialist' ],
    [ 'motcua/script-sandbox', 'ST_Answered' ]
  ]);
});
