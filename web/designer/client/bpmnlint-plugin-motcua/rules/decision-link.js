'use strict';

const { dialectOf } = require('../lib/dialect');
const { is, isExecutableProcess, processOf, spiffText } = require('../lib/model');

/** A business-rule task calls a DMN decision that exists (spiffworkflow:calledDecisionId). */
module.exports = function(config) {
  const dialect = dialectOf(config);

  function check(node, reporter) {
    if (!is(node, 'bpmn:BusinessRuleTask') || !isExecutableProcess(processOf(node))) {
      return;
    }
    const decision = (spiffText(node, 'calledDecisionId') || '').trim();
    if (!decision) {
      reporter.report(node.id, 'Business-rule task calls no decision: pick one (calledDecisionId)');
    } else if (dialect.decisions && !dialect.decisions.has(decision)) {
      reporter.report(node.id, `Decision "${decision}" is in no DMN file beside the processes`);
    }
  }

  return { check };
};
