'use strict';

const { flowElementsOf, is, isAny, isExecutableProcess, lanesOf } = require('../lib/model');

/**
 * A user or manual task must sit in a lane: the lane's role says who may work it. Checked per
 * executable process, with or without lanes (a process without lanes has no one to work its tasks).
 */
module.exports = function() {

  function check(node, reporter) {
    if (!is(node, 'bpmn:Process') || !isExecutableProcess(node)) {
      return;
    }
    const inLane = new Set();
    for (const lane of lanesOf(node)) {
      for (const ref of lane.flowNodeRef || []) {
        if (ref && ref.id) {
          inLane.add(ref.id);
        }
      }
    }
    for (const element of flowElementsOf(node)) {
      if (isAny(element, [ 'bpmn:UserTask', 'bpmn:ManualTask' ]) && !inLane.has(element.id)) {
        reporter.report(element.id, 'Task is in no lane, so no role can work it: move it into a lane');
      }
    }
  }

  return { check };
};
