'use strict';

/**
 * A static bpmnlint resolver: the browser cannot `require` rules by name, so every rule and config
 * the designer uses is listed here and bundled. The node tests use the same resolver, so what they
 * check is exactly what the modeler runs.
 */

const StaticResolver = require('bpmnlint/lib/resolver/static-resolver');
const motcua = require('../bpmnlint-plugin-motcua');

const bpmnlintRules = {
  'ad-hoc-sub-process': require('bpmnlint/rules/ad-hoc-sub-process'),
  'conditional-flows': require('bpmnlint/rules/conditional-flows'),
  'end-event-required': require('bpmnlint/rules/end-event-required'),
  'event-based-gateway': require('bpmnlint/rules/event-based-gateway'),
  'event-sub-process-typed-start-event': require('bpmnlint/rules/event-sub-process-typed-start-event'),
  'fake-join': require('bpmnlint/rules/fake-join'),
  'global': require('bpmnlint/rules/global'),
  'label-required': require('bpmnlint/rules/label-required'),
  'link-event': require('bpmnlint/rules/link-event'),
  'no-bpmndi': require('bpmnlint/rules/no-bpmndi'),
  'no-complex-gateway': require('bpmnlint/rules/no-complex-gateway'),
  'no-disconnected': require('bpmnlint/rules/no-disconnected'),
  'no-duplicate-sequence-flows': require('bpmnlint/rules/no-duplicate-sequence-flows'),
  'no-gateway-join-fork': require('bpmnlint/rules/no-gateway-join-fork'),
  'no-implicit-split': require('bpmnlint/rules/no-implicit-split'),
  'no-implicit-end': require('bpmnlint/rules/no-implicit-end'),
  'no-implicit-start': require('bpmnlint/rules/no-implicit-start'),
  'no-inclusive-gateway': require('bpmnlint/rules/no-inclusive-gateway'),
  'no-overlapping-elements': require('bpmnlint/rules/no-overlapping-elements'),
  'single-blank-start-event': require('bpmnlint/rules/single-blank-start-event'),
  'single-event-definition': require('bpmnlint/rules/single-event-definition'),
  'start-event-required': require('bpmnlint/rules/start-event-required'),
  'sub-process-blank-start-event': require('bpmnlint/rules/sub-process-blank-start-event'),
  'superfluous-gateway': require('bpmnlint/rules/superfluous-gateway'),
  'superfluous-label': require('bpmnlint/rules/superfluous-label'),
  'superfluous-termination': require('bpmnlint/rules/superfluous-termination')
};

function createResolver() {
  const cache = {
    'config:bpmnlint/recommended': require('bpmnlint/config/recommended')
  };
  for (const [ name, rule ] of Object.entries(bpmnlintRules)) {
    cache[`rule:bpmnlint/${name}`] = rule;
  }
  for (const [ name, config ] of Object.entries(motcua.configs)) {
    cache[`config:bpmnlint-plugin-motcua/${name}`] = config;
  }
  for (const [ name, rule ] of Object.entries(motcua.rules)) {
    cache[`rule:bpmnlint-plugin-motcua/${name}`] = rule;
  }
  return new StaticResolver(cache);
}

module.exports = { createResolver };
