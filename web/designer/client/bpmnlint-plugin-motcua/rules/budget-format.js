'use strict';

const { isExecutableProcess, processOf, spiffProperties } = require('../lib/model');

// engine/definitions.py _BUDGET: working days (d) or working hours (h).
const BUDGET = /^\s*(\d+(?:\.\d+)?)\s*([dh])\s*$/;

module.exports = function() {

  function check(node, reporter) {
    if (!node.id || !isExecutableProcess(processOf(node))) {
      return;
    }
    const properties = spiffProperties(node);
    if ('budget' in properties && !BUDGET.test(properties.budget)) {
      reporter.report(node.id, `Budget "${properties.budget}" must be working days or hours, e.g. "0.5d" or "4h"`);
    }
  }

  return { check };
};
