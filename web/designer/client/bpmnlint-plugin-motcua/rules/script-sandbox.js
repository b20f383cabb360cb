'use strict';

const { dialectOf } = require('../lib/dialect');
const { bodyOf, is, isExecutableProcess, isSpiff, ownerOf, processOf } = require('../lib/model');
const { sandboxProblems } = require('../lib/python-source');

/**
 * Python in the process file, checked against the sandbox's rules: script tasks and pre/post
 * scripts (statements), gateway conditions, timer expressions and message payloads (expressions).
 * Timer syntax (brackets, quotes, durations) is the `timer-expression` rule's.
 */
module.exports = function(config) {
  const dialect = dialectOf(config);

  function report(reporter, owner, what, source, mode, syntax = true) {
    const problems = sandboxProblems(source, {
      mode,
      syntax,
      functions: dialect.functions,
      builtins: dialect.builtins
    });
    for (const problem of problems) {
      reporter.report(owner.id, `${what}, ${problem}`);
    }
  }

  function check(node, reporter) {
    if (!isExecutableProcess(processOf(node))) {
      return;
    }
    if (is(node, 'bpmn:ScriptTask')) {
      const script = node.script || '';
      if (!script.trim()) {
        reporter.report(node.id, 'Script task has no script: write one or use another task type');
      } else {
        report(reporter, node, 'Script', script, 'exec');
      }
      return;
    }
    if (is(node, 'bpmn:SequenceFlow') && node.conditionExpression) {
      const condition = bodyOf(node.conditionExpression);
      if (!condition.trim()) {
        reporter.report(node.id, 'Condition is empty: write an expression or remove the condition');
      } else {
        report(reporter, node, 'Condition', condition, 'eval');
      }
      return;
    }
    if (is(node, 'bpmn:TimerEventDefinition')) {
      for (const kind of [ 'timeDate', 'timeDuration' ]) {
        const text = bodyOf(node[kind]);
        if (text && text.trim()) {
          report(reporter, ownerOf(node), `Timer ${kind}`, text, 'eval', false);
        }
      }
      return;
    }
    if (isSpiff(node, 'messagePayload')) {
      const payload = node.value !== undefined ? node.value : node.$body;
      if (!payload || !String(payload).trim()) {
        reporter.report(ownerOf(node).id, 'Message payload is empty: write an expression or remove it');
      } else {
        report(reporter, ownerOf(node), 'Message payload', String(payload), 'eval');
      }
      return;
    }
    for (const [ name, what ] of [ [ 'preScript', 'Pre-script' ], [ 'postScript', 'Post-script' ] ]) {
      if (isSpiff(node, name)) {
        const script = node.value !== undefined ? node.value : node.$body;
        if (script && String(script).trim()) {
          report(reporter, ownerOf(node), what, String(script), 'exec');
        }
      }
    }
  }

  return { check };
};
