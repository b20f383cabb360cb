import { h } from '@bpmn-io/properties-panel/preact';
import { SelectEntry, TextFieldEntry, isSelectEntryEdited, isTextFieldEntryEdited } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, isAny } from 'bpmn-js/lib/util/ModelUtil';

import { getProperty, setProperty } from './extension.js';
import { plain, selectOptions } from './options.js';

const NEW_FORM = '\u0000new';
const BUDGET = /^\s*(\d+(?:\.\d+)?)\s*([dh])\s*$/;

/** User and manual tasks: the form (pick, create, edit) and the step's time budget. */
export function taskEntries(element) {
  if (!isAny(element, [ 'bpmn:UserTask', 'bpmn:ManualTask' ])) {
    return [];
  }
  return [
    { id: 'motcua-form', component: TaskForm, isEdited: isSelectEntryEdited },
    { id: 'motcua-form-edit', component: EditFormButton },
    { id: 'motcua-budget', component: TaskBudget, isEdited: isTextFieldEntryEdited }
  ];
}

function TaskForm({ element, id }) {
  const injector = useService('injector');
  const context = useService('motcuaContext');
  const { labels } = context;
  const businessObject = getBusinessObject(element);
  const current = () => getProperty(businessObject, 'form');
  return SelectEntry({
    element,
    id,
    label: labels.form,
    getValue: current,
    setValue: (value) => {
      if (value === NEW_FORM) {
        context.openFormEditor(element, '');
        return;
      }
      setProperty(injector, element, businessObject, 'form', value);
    },
    getOptions: () => [
      ...selectOptions(labels.noForm, plain(Object.keys(context.forms).sort()), current(), labels),
      { value: NEW_FORM, label: labels.newForm }
    ]
  });
}

function EditFormButton({ element }) {
  const context = useService('motcuaContext');
  const form = getProperty(getBusinessObject(element), 'form');
  return h('div', { class: 'bio-properties-panel-entry motcua-form-actions' },
    h('button', {
      type: 'button',
      id: 'form-edit',
      class: 'motcua-button',
      onClick: () => context.openFormEditor(element, form)
    }, context.labels.editForm)
  );
}

function TaskBudget({ element, id }) {
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  const { labels } = useService('motcuaContext');
  const businessObject = getBusinessObject(element);
  return TextFieldEntry({
    element,
    id,
    label: labels.budget,
    description: labels.budgetHelp,
    debounce,
    getValue: () => getProperty(businessObject, 'budget'),
    setValue: (value) => setProperty(injector, element, businessObject, 'budget', (value || '').trim()),
    validate: (value) => (value && !BUDGET.test(value) ? labels.budgetInvalid : null)
  });
}
