import { SelectEntry, isSelectEntryEdited } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

import { getProperty, setProperty } from './extension.js';
import { plain, selectOptions } from './options.js';

/** Lane: which staff role works it, and which of the case's agencies. */
export function laneEntries(element) {
  if (!is(element, 'bpmn:Lane')) {
    return [];
  }
  return [
    { id: 'motcua-role', component: LaneRole, isEdited: isSelectEntryEdited },
    { id: 'motcua-agency', component: LaneAgency, isEdited: isSelectEntryEdited }
  ];
}

function PropertySelect({ element, id, name, label, emptyLabel, known }) {
  const injector = useService('injector');
  const { labels } = useService('motcuaContext');
  const businessObject = getBusinessObject(element);
  return SelectEntry({
    element,
    id,
    label,
    getValue: () => getProperty(businessObject, name),
    setValue: (value) => setProperty(injector, element, businessObject, name, value),
    getOptions: () => selectOptions(emptyLabel, known, getProperty(businessObject, name), labels)
  });
}

function LaneRole({ element, id }) {
  const { dialect, labels } = useService('motcuaContext');
  return PropertySelect({ element, id, name: 'role', label: labels.role, emptyLabel: '', known: plain(dialect.roles) });
}

function LaneAgency({ element, id }) {
  const { dialect, labels } = useService('motcuaContext');
  return PropertySelect({
    element, id, name: 'agency', label: labels.agency, emptyLabel: labels.agencyDefault, known: plain(dialect.agencySlots)
  });
}

export { PropertySelect };
