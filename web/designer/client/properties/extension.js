/**
 * Reading and writing the dialect's extension elements through bpmn-js commands, so every edit in
 * the panel is one undoable step: extensionElements, spiffworkflow:properties and the property are
 * created as needed, and removed again when the last value is cleared.
 */

const MULTI = 'properties-panel.multi-command-executor';
const UPDATE = 'element.updateModdleProperties';

function values(businessObject) {
  const extensionElements = businessObject.get('extensionElements');
  return (extensionElements && extensionElements.get('values')) || [];
}

function findOfType(businessObject, type) {
  return values(businessObject).find((value) => value.$instanceOf(type));
}

export function getProperty(businessObject, name) {
  const properties = findOfType(businessObject, 'spiffworkflow:Properties');
  const property = properties && properties.get('properties').find((p) => p.get('name') === name);
  return property ? property.get('value') || '' : '';
}

export function getExtensionText(businessObject, type) {
  const element = findOfType(businessObject, type);
  return element ? element.get('value') || '' : '';
}

/** Commands that make sure `businessObject` has extensionElements; returns [commands, extensionElements]. */
function ensureExtensionElements(element, businessObject, bpmnFactory) {
  const existing = businessObject.get('extensionElements');
  if (existing) {
    return [ [], existing ];
  }
  const created = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
  created.$parent = businessObject;
  return [
    [ { cmd: UPDATE, context: { element, moddleElement: businessObject, properties: { extensionElements: created } } } ],
    created
  ];
}

/** Commands that remove `child` from the extension elements, and the extension elements if then empty. */
function removeExtension(element, businessObject, child) {
  const extensionElements = businessObject.get('extensionElements');
  const remaining = extensionElements.get('values').filter((value) => value !== child);
  if (!remaining.length) {
    return [ { cmd: UPDATE, context: { element, moddleElement: businessObject, properties: { extensionElements: undefined } } } ];
  }
  return [ { cmd: UPDATE, context: { element, moddleElement: extensionElements, properties: { values: remaining } } } ];
}

/**
 * Set `spiffworkflow:property name=... value=...` on `businessObject` (the shape's own business
 * object, or one inside it). An empty value removes the property.
 */
export function setProperty(injector, element, businessObject, name, value) {
  const commandStack = injector.get('commandStack');
  const bpmnFactory = injector.get('bpmnFactory');
  const text = value === undefined || value === null ? '' : String(value);
  const properties = findOfType(businessObject, 'spiffworkflow:Properties');
  const existing = properties && properties.get('properties').find((p) => p.get('name') === name);
  const commands = [];

  if (!text) {
    if (!existing) {
      return;
    }
    const remaining = properties.get('properties').filter((p) => p !== existing);
    if (remaining.length) {
      commands.push({ cmd: UPDATE, context: { element, moddleElement: properties, properties: { properties: remaining } } });
    } else {
      commands.push(...removeExtension(element, businessObject, properties));
    }
    commandStack.execute(MULTI, commands);
    return;
  }

  if (existing) {
    commandStack.execute(UPDATE, { element, moddleElement: existing, properties: { value: text } });
    return;
  }

  const property = bpmnFactory.create('spiffworkflow:Property', { name, value: text });
  if (properties) {
    property.$parent = properties;
    commands.push({
      cmd: UPDATE,
      context: { element, moddleElement: properties, properties: { properties: [ ...properties.get('properties'), property ] } }
    });
  } else {
    const [ ensure, extensionElements ] = ensureExtensionElements(element, businessObject, bpmnFactory);
    const created = bpmnFactory.create('spiffworkflow:Properties', { properties: [ property ] });
    property.$parent = created;
    created.$parent = extensionElements;
    commands.push(...ensure, {
      cmd: UPDATE,
      context: { element, moddleElement: extensionElements, properties: { values: [ ...extensionElements.get('values'), created ] } }
    });
  }
  commandStack.execute(MULTI, commands);
}

/**
 * Set the text of a body-only extension element (`spiffworkflow:calledDecisionId`,
 * `spiffworkflow:messageVariable`) on `businessObject`; an empty value removes the element.
 */
export function setExtensionText(injector, element, businessObject, type, value) {
  const commandStack = injector.get('commandStack');
  const bpmnFactory = injector.get('bpmnFactory');
  const text = value === undefined || value === null ? '' : String(value);
  const existing = findOfType(businessObject, type);

  if (!text) {
    if (existing) {
      commandStack.execute(MULTI, removeExtension(element, businessObject, existing));
    }
    return;
  }
  if (existing) {
    commandStack.execute(UPDATE, { element, moddleElement: existing, properties: { value: text } });
    return;
  }
  const [ ensure, extensionElements ] = ensureExtensionElements(element, businessObject, bpmnFactory);
  const created = bpmnFactory.create(type, { value: text });
  created.$parent = extensionElements;
  commandStack.execute(MULTI, [
    ...ensure,
    { cmd: UPDATE, context: { element, moddleElement: extensionElements, properties: { values: [ ...extensionElements.get('values'), created ] } } }
  ]);
}

/** Set (or, with an empty text, remove) a formal expression such as a flow's condition. */
export function setFormalExpression(injector, element, owner, propertyName, value) {
  const commandStack = injector.get('commandStack');
  const bpmnFactory = injector.get('bpmnFactory');
  const text = value === undefined || value === null ? '' : String(value);
  const existing = owner.get(propertyName);
  if (!text.trim()) {
    if (existing) {
      commandStack.execute(UPDATE, { element, moddleElement: owner, properties: { [propertyName]: undefined } });
    }
    return;
  }
  if (existing) {
    commandStack.execute(UPDATE, { element, moddleElement: existing, properties: { body: text } });
    return;
  }
  const expression = bpmnFactory.create('bpmn:FormalExpression', { body: text });
  expression.$parent = owner;
  commandStack.execute(UPDATE, { element, moddleElement: owner, properties: { [propertyName]: expression } });
}
