import { SelectEntry, isSelectEntryEdited } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

import { getExtensionText, setExtensionText } from './extension.js';
import { selectOptions } from './options.js';

const CALLED_DECISION = 'spiffworkflow:CalledDecisionId';

/** Business-rule tasks: the DMN decision they call. */
export function decisionEntries(element) {
  if (!is(element, 'bpmn:BusinessRuleTask')) {
    return [];
  }
  return [ { id: 'motcua-decision', component: Decision, isEdited: isSelectEntryEdited } ];
}

function Decision({ element, id }) {
  const injector = useService('injector');
  const { dialect, labels } = useService('motcuaContext');
  const businessObject = getBusinessObject(element);
  const known = (dialect.decisions || []).map((decision) => (
    typeof decision === 'string'
      ? { value: decision, label: decision }
      : { value: decision.id, label: `${decision.name || decision.id} (${decision.file || decision.id})` }
  ));
  return SelectEntry({
    element,
    id,
    label: labels.decision,
    getValue: () => getExtensionText(businessObject, CALLED_DECISION),
    setValue: (value) => setExtensionText(injector, element, businessObject, CALLED_DECISION, value),
    getOptions: () => selectOptions(labels.noDecision, known, getExtensionText(businessObject, CALLED_DECISION), labels)
  });
}
