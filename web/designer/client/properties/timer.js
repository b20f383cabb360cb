import { h } from '@bpmn-io/properties-panel/preact';
import { useState } from '@bpmn-io/properties-panel/preact/hooks';
import { TextAreaEntry, isTextAreaEntryEdited } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, isAny } from 'bpmn-js/lib/util/ModelUtil';

import { buildTimerExpression, parseTimerExpression } from './timer-expression.js';

/** Timer events: the expression as text, and a builder for the common "N working days after X". */
export function timerEntries(element) {
  const definition = timerDefinition(element);
  if (!definition) {
    return [];
  }
  return [
    { id: 'motcua-timer-expression', component: TimerExpression, definition, isEdited: isTextAreaEntryEdited },
    { id: 'motcua-timer-builder', component: TimerBuilder, definition }
  ];
}

export function timerDefinition(element) {
  if (!isAny(element, [ 'bpmn:IntermediateCatchEvent', 'bpmn:BoundaryEvent' ])) {
    return null;
  }
  const definitions = getBusinessObject(element).get('eventDefinitions') || [];
  return definitions.find((definition) => definition.$instanceOf('bpmn:TimerEventDefinition')) || null;
}

/** timeDuration when the timer has one, timeDate otherwise (the dialect's usual kind). */
function kindOf(definition) {
  return definition.get('timeDuration') && !definition.get('timeDate') ? 'timeDuration' : 'timeDate';
}

function expressionOf(definition) {
  const expression = definition.get(kindOf(definition));
  return expression ? expression.get('body') || '' : '';
}

function writeExpression(injector, element, definition, kind, text) {
  const commandStack = injector.get('commandStack');
  const bpmnFactory = injector.get('bpmnFactory');
  const existing = definition.get(kind);
  if (existing) {
    commandStack.execute('element.updateModdleProperties', {
      element, moddleElement: existing, properties: { body: text }
    });
    return;
  }
  const expression = bpmnFactory.create('bpmn:FormalExpression', { body: text });
  expression.$parent = definition;
  // One kind of time per timer: writing a date replaces a duration or cycle.
  commandStack.execute('element.updateModdleProperties', {
    element,
    moddleElement: definition,
    properties: { timeDate: undefined, timeDuration: undefined, timeCycle: undefined, [kind]: expression }
  });
}

function TimerExpression({ element, id, definition }) {
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  const { labels } = useService('motcuaContext');
  const kind = kindOf(definition);
  return TextAreaEntry({
    element,
    id,
    label: kind === 'timeDuration' ? labels.timeDuration : labels.timeDate,
    monospace: true,
    rows: 2,
    debounce,
    getValue: () => expressionOf(definition),
    setValue: (value) => writeExpression(injector, element, definition, kind, value || '')
  });
}

function TimerBuilder({ element, definition }) {
  const injector = useService('injector');
  const { dialect, labels } = useService('motcuaContext');
  const caseDates = dialect.caseDates || [];
  const initial = parseTimerExpression(expressionOf(definition)) || {
    amount: '1', unit: 'days', base: caseDates.length ? caseDates[0].expr : 'now()', direction: 'after'
  };
  const [ choice, setChoice ] = useState(initial);
  const [ error, setError ] = useState('');
  const update = (key) => (event) => {
    setChoice({ ...choice, [key]: event.target.value });
    setError('');
  };
  const built = buildTimerExpression(choice);
  const errors = { amount: labels.amountInvalid, base: labels.baseMissing, hoursBefore: labels.hoursBefore };
  const bases = caseDates.some((date) => date.expr === choice.base)
    ? caseDates
    : [ ...caseDates, { expr: choice.base, label: choice.base } ];

  const apply = () => {
    if (built.error) {
      setError(errors[built.error]);
      return;
    }
    writeExpression(injector, element, definition, 'timeDate', built.expression);
  };

  return h('div', { class: 'bio-properties-panel-entry motcua-timer-builder' },
    h('div', { class: 'bio-properties-panel-label' }, labels.timerBuilder),
    h('div', { class: 'motcua-timer-row' },
      h('input', {
        class: 'motcua-timer-amount', type: 'number', min: '0', step: '0.5', value: choice.amount,
        'aria-label': labels.amount, onInput: update('amount')
      }),
      h('select', { class: 'motcua-timer-unit', value: choice.unit, 'aria-label': labels.amount, onChange: update('unit') },
        h('option', { value: 'days' }, labels.workingDays),
        h('option', { value: 'hours' }, labels.workingHours)
      ),
      h('select', { class: 'motcua-timer-direction', value: choice.direction, onChange: update('direction') },
        h('option', { value: 'after' }, labels.after),
        h('option', { value: 'before' }, labels.before)
      )
    ),
    h('div', { class: 'motcua-timer-row' },
      h('select', { class: 'motcua-timer-base', value: choice.base, 'aria-label': labels.relativeTo, onChange: update('base') },
        bases.map((date) => h('option', { value: date.expr }, date.label || date.expr))
      ),
      h('button', { type: 'button', class: 'motcua-button motcua-timer-apply', onClick: apply }, labels.useExpression)
    ),
    h('code', { class: 'motcua-timer-preview' }, built.expression || ''),
    (error || built.error === 'hoursBefore')
      ? h('div', { class: 'bio-properties-panel-error' }, error || errors.hoursBefore)
      : null
  );
}
