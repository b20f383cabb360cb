'use strict';

const { dialectOf } = require('../lib/dialect');
const { isExecutableProcess, processOf, spiffProperties } = require('../lib/model');

/** `caseStatus` names a known case status (engine/data/statuses.json). Empty means none. */
module.exports = function(config) {
  const dialect = dialectOf(config);

  function check(node, reporter) {
    if (!node.id || !dialect.statuses || !isExecutableProcess(processOf(node))) {
      return;
    }
    const status = spiffProperties(node).caseStatus;
    if (status && !dialect.statuses.has(status)) {
      reporter.report(node.id, `Case status "${status}" is not a known status: pick one from the list`);
    }
  }

  return { check };
};
