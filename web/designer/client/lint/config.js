'use strict';

/**
 * The designer's lint configuration: bpmnlint's `recommended` rules, re-tuned for the motcua
 * dialect, plus `bpmnlint-plugin-motcua`'s `recommended` rules fed with the page's dialect.
 */

const motcua = require('../bpmnlint-plugin-motcua');
const { createResolver } = require('./resolver');

// Recommended rules that disagree with what the engine runs (docs/designer-client.md says why).
const RECOMMENDED_OVERRIDES = {
  // Side-branch ends (overdue notes, reminders) carry no name in our processes; a name helps
  // readers but the engine never needs one.
  'label-required': 'warn',
  // Inclusive gateways are part of the dialect.
  'no-inclusive-gateway': 'off',
  // Unsupported by the engine: motcua/unsupported-element reports them with the engine's words.
  'no-complex-gateway': 'off',
  'ad-hoc-sub-process': 'off',
  'link-event': 'off'
};

/**
 * @param {object} [dialect] rule options: { roles, agencySlots, forms, statuses, decisions,
 *   functions, builtins } (lists of names, or of objects with key/id; forms may be an object keyed
 *   by form name). The same object is handed to every motcua rule each time the diagram is linted,
 *   so changing its lists (a form created in the session) takes effect on the next lint.
 * @return {{ config: object, resolver: object }} what bpmn-js-bpmnlint's `linting.bpmnlint` takes
 */
function lintConfig(dialect) {
  const options = dialect || {};
  const rules = { ...RECOMMENDED_OVERRIDES };
  for (const [ name, category ] of Object.entries(motcua.configs.recommended.rules)) {
    rules[`motcua/${name}`] = [ category, options ];
  }
  return {
    config: {
      extends: [ 'bpmnlint:recommended', 'plugin:motcua/recommended' ],
      rules
    },
    resolver: createResolver()
  };
}

module.exports = { RECOMMENDED_OVERRIDES, lintConfig };
