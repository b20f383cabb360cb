'use strict';

/**
 * bpmnlint-plugin-motcua: what the motcua engine refuses, shown while the process is drawn.
 * The server check (`motcua process check`, run on save and deploy) stays the authority.
 */

const rules = {
  'unsupported-element': require('./rules/unsupported-element'),
  'lane-role': require('./rules/lane-role'),
  'task-in-lane': require('./rules/task-in-lane'),
  'user-task-form': require('./rules/user-task-form'),
  'case-status': require('./rules/case-status'),
  'budget-format': require('./rules/budget-format'),
  'script-sandbox': require('./rules/script-sandbox'),
  'timer-expression': require('./rules/timer-expression'),
  'decision-link': require('./rules/decision-link'),
  'executable-process': require('./rules/executable-process')
};

const recommended = {
  rules: {
    'unsupported-element': 'error',
    'lane-role': 'error',
    'task-in-lane': 'error',
    'user-task-form': 'error',
    'case-status': 'error',
    'budget-format': 'error',
    'script-sandbox': 'error',
    'timer-expression': 'error',
    'decision-link': 'error',
    // A model-only file is legitimate while sketching; the server refuses to deploy it.
    'executable-process': 'warn'
  }
};

module.exports = {
  configs: {
    recommended,
    all: recommended
  },
  rules
};
