import { TextFieldEntry, isTextFieldEntryEdited } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, isAny } from 'bpmn-js/lib/util/ModelUtil';

import { getExtensionText, setExtensionText } from './extension.js';

const MESSAGE_VARIABLE = 'spiffworkflow:MessageVariable';
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * Message catch events (intermediate, boundary, start): the task-data name the payload lands in,
 * written in the messageEventDefinition's extension elements (docs/bpmn-dialect.md).
 */
export function messageEntries(element) {
  const definition = messageDefinition(element);
  if (!definition) {
    return [];
  }
  return [ { id: 'motcua-message-variable', component: MessageVariable, definition, isEdited: isTextFieldEntryEdited } ];
}

function messageDefinition(element) {
  if (!isAny(element, [ 'bpmn:IntermediateCatchEvent', 'bpmn:BoundaryEvent', 'bpmn:StartEvent' ])) {
    return null;
  }
  const definitions = getBusinessObject(element).get('eventDefinitions') || [];
  return definitions.find((definition) => definition.$instanceOf('bpmn:MessageEventDefinition')) || null;
}

function MessageVariable({ element, id, definition }) {
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  const { labels } = useService('motcuaContext');
  return TextFieldEntry({
    element,
    id,
    label: labels.messageVariable,
    debounce,
    getValue: () => getExtensionText(definition, MESSAGE_VARIABLE),
    setValue: (value) => setExtensionText(injector, element, definition, MESSAGE_VARIABLE, (value || '').trim()),
    validate: (value) => (value && !IDENTIFIER.test(value.trim()) ? labels.messageVariableInvalid : null)
  });
}
