'use strict';

/**
 * Reading the motcua dialect out of a bpmn-moddle tree.
 *
 * The rules run in the modeler (where the spiffworkflow moddle descriptor is loaded, so extension
 * elements are typed: `spiffworkflow:Properties`, `spiffworkflow:CalledDecisionId`...) and may also
 * run from the bpmnlint command line without it (extension elements are then generic: `$type`
 * `spiffworkflow:properties`, attributes as plain keys, children in `$children`, text in `$body`).
 * Every accessor here understands both shapes.
 */

const SPIFF_PREFIX = 'spiffworkflow:';

function localName(type) {
  const colon = (type || '').indexOf(':');
  return colon < 0 ? type || '' : type.slice(colon + 1);
}

function isSpiff(element, name) {
  return Boolean(
    element &&
      typeof element.$type === 'string' &&
      element.$type.startsWith(SPIFF_PREFIX) &&
      localName(element.$type).toLowerCase() === name.toLowerCase()
  );
}

function extensionValues(businessObject) {
  const extensionElements = businessObject && businessObject.extensionElements;
  return (extensionElements && extensionElements.values) || [];
}

function childrenOf(element) {
  if (Array.isArray(element.properties)) {
    return element.properties;
  }
  return element.$children || [];
}

/** `spiffworkflow:properties/property` as a name -> value object (first one of a name wins). */
function spiffProperties(businessObject) {
  const properties = {};
  for (const value of extensionValues(businessObject)) {
    if (!isSpiff(value, 'properties')) {
      continue;
    }
    for (const property of childrenOf(value)) {
      if (isSpiff(property, 'property') && property.name && !(property.name in properties)) {
        properties[property.name] = property.value === undefined ? '' : String(property.value);
      }
    }
  }
  return properties;
}

/** The text of a body-only extension element such as `spiffworkflow:calledDecisionId`, or null. */
function spiffText(businessObject, name) {
  for (const value of extensionValues(businessObject)) {
    if (isSpiff(value, name)) {
      const text = value.value !== undefined ? value.value : value.$body;
      return text === undefined || text === null ? '' : String(text);
    }
  }
  return null;
}

function is(element, type) {
  return Boolean(element && typeof element.$instanceOf === 'function' && element.$instanceOf(type));
}

function isAny(element, types) {
  return types.some((type) => is(element, type));
}

/**
 * The element a designer has to fix for `node`: the nearest ancestor (or itself) that is drawn on
 * the canvas. Event definitions, expressions and extension elements are not, so a problem in a
 * timer's expression is reported on the timer event.
 */
function ownerOf(node) {
  let current = node;
  while (current) {
    if (
      current.id &&
      (is(current, 'bpmn:FlowElement') ||
        is(current, 'bpmn:Lane') ||
        is(current, 'bpmn:Process') ||
        is(current, 'bpmn:Participant') ||
        is(current, 'bpmn:Definitions'))
    ) {
      return current;
    }
    current = current.$parent;
  }
  return node;
}

function processOf(node) {
  let current = node;
  while (current && !is(current, 'bpmn:Process')) {
    current = current.$parent;
  }
  return current || null;
}

function isExecutableProcess(process) {
  return Boolean(process && process.isExecutable === true);
}

/** Every lane of a process, nested ones included. */
function lanesOf(process) {
  const lanes = [];
  const visit = (laneSet) => {
    for (const lane of (laneSet && laneSet.lanes) || []) {
      lanes.push(lane);
      visit(lane.childLaneSet);
    }
  };
  for (const laneSet of process.laneSets || []) {
    visit(laneSet);
  }
  return lanes;
}

/** Every flow element of a container, inside embedded sub-processes too. */
function flowElementsOf(container) {
  const found = [];
  for (const element of container.flowElements || []) {
    found.push(element);
    if (is(element, 'bpmn:SubProcess')) {
      found.push(...flowElementsOf(element));
    }
  }
  return found;
}

function bodyOf(expression) {
  if (!expression) {
    return null;
  }
  const body = expression.body !== undefined ? expression.body : expression.$body;
  return body === undefined || body === null ? '' : String(body);
}

module.exports = {
  bodyOf,
  flowElementsOf,
  is,
  isAny,
  isExecutableProcess,
  isSpiff,
  lanesOf,
  localName,
  ownerOf,
  processOf,
  spiffProperties,
  spiffText
};
