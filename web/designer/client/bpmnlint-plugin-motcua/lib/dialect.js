'use strict';

/**
 * The rule options: what the page knows about the engine's dialect.
 *
 * bpmnlint hands each rule factory the second item of its config entry
 * (`'motcua/lane-role': ['error', { roles: [...] }]`); the modeler builds that entry from the
 * page's `dialect` and `forms`. A list that is not given is not checked against (the rules then
 * only check what they can see in the file itself), so the plugin also works from the bpmnlint
 * command line with no options.
 */

// The sandbox's functions and builtins (docs/bpmn-dialect.md); used when the page gives none.
const DEFAULT_FUNCTIONS = [
  'now',
  'add_working_days',
  'add_working_hours',
  'working_days_before',
  'appointment',
  'schedule_appointment',
  'reschedule'
];

const DEFAULT_BUILTINS = [
  'len', 'min', 'max', 'sum', 'sorted', 'str', 'int', 'float', 'bool', 'list', 'dict', 'set', 'tuple',
  'range', 'enumerate', 'zip', 'abs', 'round', 'any', 'all', 'isinstance', 'True', 'False', 'None'
];

/** A Set of the keys of `value` (array of strings, array of objects with `key`, or object), or null. */
function keySet(value, key) {
  if (Array.isArray(value)) {
    return new Set(value.map((item) => (item && typeof item === 'object' ? item[key] : item)).filter(Boolean));
  }
  if (value && typeof value === 'object') {
    return new Set(Object.keys(value));
  }
  return null;
}

function dialectOf(config) {
  const options = config && typeof config === 'object' ? config : {};
  return {
    roles: keySet(options.roles, 'key'),
    agencySlots: keySet(options.agencySlots, 'key'),
    forms: keySet(options.forms, 'name'),
    statuses: keySet(options.statuses, 'key'),
    decisions: keySet(options.decisions, 'id'),
    functions: keySet(options.functions, 'name') || new Set(DEFAULT_FUNCTIONS),
    builtins: keySet(options.builtins, 'name') || new Set(DEFAULT_BUILTINS)
  };
}

function listed(set) {
  return Array.from(set).join(', ');
}

module.exports = { DEFAULT_BUILTINS, DEFAULT_FUNCTIONS, dialectOf, listed };
