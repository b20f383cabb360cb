import { SelectEntry, isSelectEntryEdited } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

import { getProperty, setProperty } from './extension.js';
import { selectOptions } from './options.js';

/** Any flow node: the case status the case gets when the node completes. */
export function statusEntries(element) {
  if (!is(element, 'bpmn:FlowNode')) {
    return [];
  }
  return [ { id: 'motcua-case-status', component: CaseStatus, isEdited: isSelectEntryEdited } ];
}

function CaseStatus({ element, id }) {
  const injector = useService('injector');
  const { dialect, labels } = useService('motcuaContext');
  const businessObject = getBusinessObject(element);
  const known = (dialect.statuses || []).map((status) => (
    typeof status === 'string'
      ? { value: status, label: status }
      : { value: status.key, label: status.label ? `${status.label} — ${status.key}` : status.key }
  ));
  return SelectEntry({
    element,
    id,
    label: labels.caseStatus,
    getValue: () => getProperty(businessObject, 'caseStatus'),
    setValue: (value) => setProperty(injector, element, businessObject, 'caseStatus', value),
    getOptions: () => selectOptions(labels.noStatus, known, getProperty(businessObject, 'caseStatus'), labels)
  });
}
