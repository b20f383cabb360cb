import { Group } from '@bpmn-io/properties-panel';

import { codeEntries } from './code.js';
import { decisionEntries } from './decision.js';
import { laneEntries } from './lane.js';
import { messageEntries } from './message.js';
import { statusEntries } from './status.js';
import { taskEntries } from './task.js';
import { timerDefinition, timerEntries } from './timer.js';

// After bpmn-js-properties-panel's own provider (priority 1000), so we see its groups.
const PRIORITY = 500;

/**
 * The "motcua" group of the properties panel: the dialect's extensions for the selected element.
 * Every edit goes through bpmn-js commands (undo/redo work); see extension.js.
 */
class MotcuaPropertiesProvider {
  constructor(propertiesPanel, motcuaContext) {
    this._context = motcuaContext;
    propertiesPanel.registerProvider(PRIORITY, this);
  }

  getGroups(element) {
    return (groups) => {
      const entries = [
        ...laneEntries(element),
        ...taskEntries(element),
        ...codeEntries(element),
        ...decisionEntries(element),
        ...timerEntries(element),
        ...messageEntries(element),
        ...statusEntries(element)
      ];
      // The generic timer group explains ISO 8601 values; our timers are Python expressions.
      let result = timerDefinition(element) ? groups.filter((group) => group.id !== 'timer') : groups;
      if (entries.length) {
        const group = { id: 'motcua', label: this._context.labels.motcuaGroup, component: Group, entries };
        result = [ ...result.slice(0, 1), group, ...result.slice(1) ];
      }
      return result;
    };
  }
}

MotcuaPropertiesProvider.$inject = [ 'propertiesPanel', 'motcuaContext' ];

export default {
  __init__: [ 'motcuaPropertiesProvider' ],
  motcuaPropertiesProvider: [ 'type', MotcuaPropertiesProvider ]
};
