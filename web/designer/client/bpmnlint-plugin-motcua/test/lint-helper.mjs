// Shared by the plugin's tests: read BPMN the way the modeler does (bpmn-moddle with the
// spiffworkflow descriptor) and lint it with the designer's own resolver and config.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { BpmnModdle } from 'bpmn-moddle';

const require = createRequire(import.meta.url);
const { Linter } = require('bpmnlint');
const { createResolver } = require('../../lint/resolver.js');
const { lintConfig } = require('../../lint/config.js');
const { issuesFromResults } = require('../../lint/issues.js');

const here = path.dirname(fileURLToPath(import.meta.url));
export const CLIENT_DIR = path.resolve(here, '../..');
export const REPO_ROOT = path.resolve(CLIENT_DIR, '../../..');
export const FIXTURES = path.join(here, 'fixtures');

const descriptor = JSON.parse(fs.readFileSync(path.join(CLIENT_DIR, 'moddle/spiffworkflow.json'), 'utf8'));

export async function readBpmn(file, { typed = true } = {}) {
  const moddle = typed ? new BpmnModdle({ spiffworkflow: descriptor }) : new BpmnModdle();
  const { rootElement, warnings } = await moddle.fromXML(fs.readFileSync(file, 'utf8'));
  return { rootElement, warnings };
}

/** Lint with one motcua rule only (category error), fed with `dialect`. */
export async function lintWithRule(file, rule, dialect, options) {
  const { rootElement } = await readBpmn(file, options);
  const linter = new Linter({ resolver: createResolver() });
  const results = await linter.lint(rootElement, { rules: { [`motcua/${rule}`]: [ 'error', dialect ] } });
  return issuesFromResults(results);
}

/** Lint with everything the designer runs. */
export async function lintAsDesigner(file, dialect) {
  const { rootElement } = await readBpmn(file);
  const { config, resolver } = lintConfig(dialect);
  const linter = new Linter({ config, resolver });
  return issuesFromResults(await linter.lint(rootElement));
}

/** The dialect the server hands the page, read from the repository's own data. */
export function repositoryDialect() {
  const formsDir = path.join(REPO_ROOT, 'processes/forms');
  const forms = fs.readdirSync(formsDir, { recursive: true })
    .filter((name) => name.endsWith('.json'))
    .map((name) => name.split(path.sep).join('/'));
  const statusData = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'engine/data/statuses.json'), 'utf8'));
  const statuses = Object.entries(statusData)
    .filter(([ kind ]) => !kind.startsWith('_'))
    .flatMap(([ , byKey ]) => Object.keys(byKey));
  const decisions = fs.readdirSync(path.join(REPO_ROOT, 'processes'))
    .filter((name) => name.endsWith('.dmn'))
    .flatMap((name) => Array.from(
      fs.readFileSync(path.join(REPO_ROOT, 'processes', name), 'utf8').matchAll(/<(?:\w+:)?decision\s[^>]*\bid="([^"]+)"/g),
      (match) => match[1]
    ));
  const configPy = fs.readFileSync(path.join(REPO_ROOT, 'engine/config.py'), 'utf8');
  const roles = Array.from(/roles: tuple\[str, \.\.\.\] = \(([^)]*)\)/.exec(configPy)[1].matchAll(/"([^"]+)"/g), (m) => m[1]);
  return {
    roles,
    agencySlots: [ 'receiving', 'resolving', 'partner' ],
    forms,
    statuses,
    decisions,
    functions: [ 'now', 'add_working_days', 'add_working_hours', 'working_days_before', 'appointment',
      'schedule_appointment', 'reschedule' ],
    builtins: [ 'len', 'min', 'max', 'sum', 'sorted', 'str', 'int', 'float', 'bool', 'list', 'dict', 'set',
      'tuple', 'range', 'enumerate', 'zip', 'abs', 'round', 'any', 'all', 'isinstance', 'True', 'False', 'None' ]
  };
}

export function shippedProcesses() {
  const dir = path.join(REPO_ROOT, 'processes');
  return fs.readdirSync(dir).filter((name) => name.endsWith('.bpmn')).sort().map((name) => path.join(dir, name));
}
