'use strict';

const { localName, ownerOf } = require('../lib/model');

/**
 * Elements the engine refuses to deploy (engine/definitions.py UNSUPPORTED), with its reasons.
 * Cycle timers are reported by `timer-expression`.
 */
const UNSUPPORTED = {
  ServiceTask: 'service tasks are not supported; use a script task or an adapter',
  SendTask: 'send tasks are not supported; outbound messages go through the outbox',
  ReceiveTask: 'receive tasks are not supported; use a message intermediate catch event',
  Transaction: 'transaction sub-processes are not supported',
  AdHocSubProcess: 'ad-hoc sub-processes are not supported',
  ComplexGateway: 'complex gateways are not supported',
  SignalEventDefinition: 'signal events are not supported; use messages',
  EscalationEventDefinition: 'escalation events are not supported',
  CompensateEventDefinition: 'compensation is not supported',
  ConditionalEventDefinition: 'conditional events are not supported',
  LinkEventDefinition: 'link events are not supported',
  CancelEventDefinition: 'cancel events are not supported',
  DataStoreReference: 'data stores are not supported',
  StandardLoopCharacteristics: 'loop markers are not supported; model the loop with a gateway',
  MultiInstanceLoopCharacteristics: 'multi-instance activities are not supported',
  CallChoreography: 'choreographies are not executable',
  ChoreographyTask: 'choreographies are not executable'
};

module.exports = function() {

  function check(node, reporter) {
    if (typeof node.$type !== 'string' || !node.$type.startsWith('bpmn:')) {
      return;
    }
    // Exact type, not inheritance: a transaction is a sub-process, but sub-processes are fine.
    const reason = UNSUPPORTED[localName(node.$type)];
    if (reason) {
      reporter.report(ownerOf(node).id, reason[0].toUpperCase() + reason.slice(1));
    }
  }

  return { check };
};

module.exports.UNSUPPORTED = UNSUPPORTED;
