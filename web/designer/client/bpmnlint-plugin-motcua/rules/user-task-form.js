'use strict';

const { dialectOf } = require('../lib/dialect');
const { isAny, isExecutableProcess, processOf, spiffProperties } = require('../lib/model');

/** Every user or manual task names its form (property `form`), and the form exists. */
module.exports = function(config) {
  const dialect = dialectOf(config);

  function check(node, reporter) {
    if (!isAny(node, [ 'bpmn:UserTask', 'bpmn:ManualTask' ]) || !isExecutableProcess(processOf(node))) {
      return;
    }
    const form = spiffProperties(node).form;
    if (!form) {
      reporter.report(node.id, 'Task has no form: set the "form" property');
    } else if (dialect.forms && !dialect.forms.has(form)) {
      reporter.report(node.id, `Form "${form}" does not exist: pick a known form or create it`);
    }
  }

  return { check };
};
