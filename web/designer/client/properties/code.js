import { TextAreaEntry, isTextAreaEntryEdited } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is, isAny } from 'bpmn-js/lib/util/ModelUtil';

import { setFormalExpression } from './extension.js';

/** Script tasks: the script. Flows leaving an exclusive or inclusive gateway: the condition. */
export function codeEntries(element) {
  if (is(element, 'bpmn:ScriptTask')) {
    return [ { id: 'motcua-script', component: Script, isEdited: isTextAreaEntryEdited } ];
  }
  if (isConditionalFlow(element)) {
    return [ { id: 'motcua-condition', component: Condition, isEdited: isTextAreaEntryEdited } ];
  }
  return [];
}

function isConditionalFlow(element) {
  if (!is(element, 'bpmn:SequenceFlow')) {
    return false;
  }
  const source = getBusinessObject(element).get('sourceRef');
  return isAny(source, [ 'bpmn:ExclusiveGateway', 'bpmn:InclusiveGateway' ]);
}

function Script({ element, id }) {
  const commandStack = useService('commandStack');
  const debounce = useService('debounceInput');
  const { labels } = useService('motcuaContext');
  const businessObject = getBusinessObject(element);
  return TextAreaEntry({
    element,
    id,
    label: labels.script,
    monospace: true,
    rows: 8,
    debounce,
    getValue: () => businessObject.get('script') || '',
    setValue: (value) => commandStack.execute('element.updateModdleProperties', {
      element,
      moddleElement: businessObject,
      properties: { script: value || undefined, scriptFormat: businessObject.get('scriptFormat') || 'python' }
    })
  });
}

function Condition({ element, id }) {
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  const { labels } = useService('motcuaContext');
  const businessObject = getBusinessObject(element);
  const source = businessObject.get('sourceRef');
  const isDefault = source && source.get('default') === businessObject;
  const expression = () => businessObject.get('conditionExpression');
  return TextAreaEntry({
    element,
    id,
    label: labels.condition,
    description: isDefault ? labels.defaultFlow : undefined,
    monospace: true,
    rows: 2,
    debounce,
    getValue: () => (expression() ? expression().get('body') || '' : ''),
    setValue: (value) => setFormalExpression(injector, element, businessObject, 'conditionExpression', value)
  });
}
