'use strict';

const { is } = require('../lib/model');

/** A file whose processes are all non-executable is a model only: the engine cannot run it. */
module.exports = function() {

  function check(node, reporter) {
    if (!is(node, 'bpmn:Definitions')) {
      return;
    }
    const processes = (node.rootElements || []).filter((element) => is(element, 'bpmn:Process'));
    if (processes.some((process) => process.isExecutable === true)) {
      return;
    }
    const target = processes[0] || node;
    reporter.report(
      target.id,
      'No executable process: this model cannot run; mark its process executable (isExecutable)'
    );
  }

  return { check };
};
