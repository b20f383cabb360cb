'use strict';

const { bodyOf, is, isExecutableProcess, ownerOf, processOf } = require('../lib/model');
const { tokenize } = require('../lib/python-source');

// An ISO 8601 duration such as P1D or PT4H30M. Unquoted, Python reads it as a variable name.
const ISO_DURATION = /^P(?=\d|T\d)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$/i;
// An ISO 8601 date (2026-03-02, 2026-03-02T09:00:00+07:00) written without quotes.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}/;

/**
 * Timer expressions are Python evaluated by the engine: timeDate must give a date-time with an
 * offset (e.g. `add_working_days(received_at, 5)`), timeDuration an ISO duration text (`'P2D'`).
 * Cycle timers are not supported.
 */
module.exports = function() {

  function problemsOf(kind, text) {
    const source = text.trim();
    if (!source) {
      return [ `Timer ${kind} is empty: write an expression, e.g. add_working_days(received_at, 5)` ];
    }
    if (ISO_DURATION.test(source)) {
      return kind === 'timeDate'
        ? [ `Timer timeDate "${source}" is read as Python, not as a duration: use e.g. add_working_days(now(), 1)` ]
        : [ `Timer timeDuration "${source}" is read as Python: put it in quotes ('${source}')` ];
    }
    if (ISO_DATE.test(source)) {
      return [ `Timer ${kind} "${source}" is read as Python: put the date in quotes ('${source}')` ];
    }
    // Like Python, only the first syntax error: the others usually follow from it.
    return tokenize(source).problems.slice(0, 1).map((problem) => `Timer ${kind}, ${problem}`);
  }

  function check(node, reporter) {
    if (!is(node, 'bpmn:TimerEventDefinition') || !isExecutableProcess(processOf(node))) {
      return;
    }
    const owner = ownerOf(node);
    if (node.timeCycle) {
      reporter.report(owner.id, 'Cycle timers are not supported: use a timeDate expression');
      return;
    }
    const kinds = [ 'timeDate', 'timeDuration' ].filter((kind) => node[kind]);
    if (!kinds.length) {
      reporter.report(owner.id, 'Timer has no expression: set its timeDate, e.g. add_working_days(received_at, 5)');
      return;
    }
    for (const kind of kinds) {
      for (const problem of problemsOf(kind, bodyOf(node[kind]))) {
        reporter.report(owner.id, problem);
      }
    }
  }

  return { check };
};
