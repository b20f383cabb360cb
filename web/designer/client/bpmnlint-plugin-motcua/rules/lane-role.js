'use strict';

const { dialectOf, listed } = require('../lib/dialect');
const { is, isExecutableProcess, processOf, spiffProperties } = require('../lib/model');

// engine/definitions.py _SLOT: what the engine accepts as an agency slot name.
const SLOT_NAME = /^[a-z][a-z0-9_]{0,31}$/;

/**
 * Every lane that holds tasks maps to a staff role (property `role`) and to one of the case's
 * agencies (property `agency`, default `resolving`). Lanes that only group child lanes are skipped,
 * as the engine does.
 */
module.exports = function(config) {
  const dialect = dialectOf(config);

  function check(node, reporter) {
    if (!is(node, 'bpmn:Lane') || !isExecutableProcess(processOf(node))) {
      return;
    }
    if (node.childLaneSet && (node.childLaneSet.lanes || []).length) {
      return;
    }
    const properties = spiffProperties(node);
    const label = node.name ? `Lane "${node.name}"` : 'Lane';
    const role = properties.role;
    if (!role) {
      reporter.report(node.id, `${label} has no role: set the "role" property`);
    } else if (dialect.roles && !dialect.roles.has(role)) {
      reporter.report(node.id, `${label}: role "${role}" is not one of ${listed(dialect.roles)}`);
    }
    if (!('agency' in properties)) {
      return;
    }
    const slot = properties.agency;
    if (!SLOT_NAME.test(slot)) {
      reporter.report(node.id, `${label}: agency "${slot}" is not a valid agency slot name (lower-case letters, digits, _)`);
    } else if (dialect.agencySlots && !dialect.agencySlots.has(slot)) {
      reporter.report(node.id, `${label}: agency "${slot}" is not one of ${listed(dialect.agencySlots)}`);
    }
  }

  return { check };
};
