// The spiffworkflow moddle descriptor: every shipped process survives import and export by the
// modeler with all of its extension elements and their values, typed as the properties panel
// expects them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpmnModdle } from 'bpmn-moddle';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../../..');
const descriptor = JSON.parse(fs.readFileSync(path.join(here, '../moddle/spiffworkflow.json'), 'utf8'));
const shipped = fs.readdirSync(path.join(repoRoot, 'processes'))
  .filter((name) => name.endsWith('.bpmn'))
  .map((name) => path.join(repoRoot, 'processes', name));

/** Every spiffworkflow element in document order: [tag, sorted attributes, text]. */
function spiffElements(xml) {
  const found = [];
  const pattern = /<spiffworkflow:(\w+)((?:\s+\w+="[^"]*")*)\s*(\/?)>([^<]*)/g;
  for (const [ , tag, attributes, selfClosing, text ] of xml.matchAll(pattern)) {
    const attrs = Array.from(attributes.matchAll(/(\w+)="([^"]*)"/g), ([ , name, value ]) => `${name}=${value}`).sort();
    found.push([ tag, attrs.join(' '), selfClosing ? '' : text.trim() ]);
  }
  return found;
}

test('the shipped processes are found', () => {
  assert.ok(shipped.length >= 3);
});

for (const file of shipped) {
  test(`${path.basename(file)} round-trips every spiffworkflow extension`, async () => {
    const source = fs.readFileSync(file, 'utf8');
    const moddle = new BpmnModdle({ spiffworkflow: descriptor });
    const { rootElement, warnings } = await moddle.fromXML(source);
    assert.deepEqual(warnings.map((warning) => warning.message), []);

    const { xml } = await moddle.toXML(rootElement, { format: true });
    const before = spiffElements(source);
    assert.ok(before.length > 10, 'the file has extension elements to compare');
    assert.deepEqual(spiffElements(xml), before);

    // And once more: what the modeler saves opens again the same way.
    const again = await new BpmnModdle({ spiffworkflow: descriptor }).fromXML(xml);
    assert.deepEqual(again.warnings, []);
    assert.deepEqual(spiffElements((await moddle.toXML(again.rootElement, { format: true })).xml), before);
  });
}

test('extension elements are typed: properties, decision, message variable', async () => {
  const moddle = new BpmnModdle({ spiffworkflow: descriptor });
  const { rootElement } = await moddle.fromXML(fs.readFileSync(path.join(repoRoot, 'processes/feedback.bpmn'), 'utf8'));
  const process = rootElement.rootElements.find((element) => element.$type === 'bpmn:Process');
  const receive = process.flowElements.find((element) => element.id === 'UT_Receive');
  const [ properties ] = receive.extensionElements.values;
  assert.equal(properties.$type, 'spiffworkflow:Properties');
  assert.deepEqual(properties.properties.map((p) => [ p.$type, p.name, p.value ]), [
    [ 'spiffworkflow:Property', 'form', 'feedback/receive.json' ],
    [ 'spiffworkflow:Property', 'budget', '0.5d' ],
    [ 'spiffworkflow:Property', 'caseStatus', 'received' ]
  ]);
  const classify = process.flowElements.find((element) => element.id === 'BRT_Classify');
  const [ decision ] = classify.extensionElements.values;
  assert.equal(decision.$type, 'spiffworkflow:CalledDecisionId');
  assert.equal(decision.value, 'feedback_classification');

  const standard = await moddle.fromXML(fs.readFileSync(path.join(repoRoot, 'processes/dossier_standard.bpmn'), 'utf8'));
  const main = standard.rootElement.rootElements.find((element) => element.$type === 'bpmn:Process');
  const rated = main.flowElements.find((element) => element.id === 'ICE_Rated');
  const [ variable ] = rated.eventDefinitions[0].extensionElements.values;
  assert.equal(variable.$type, 'spiffworkflow:MessageVariable');
  assert.equal(variable.value, 'satisfaction');
});

test('created extension elements serialise as the engine reads them', async () => {
  const moddle = new BpmnModdle({ spiffworkflow: descriptor });
  const task = moddle.create('bpmn:UserTask', { id: 'UT_New' });
  const properties = moddle.create('spiffworkflow:Properties', {
    properties: [ moddle.create('spiffworkflow:Property', { name: 'form', value: 'dossier/new.json' }) ]
  });
  const payload = moddle.create('spiffworkflow:MessagePayload', { value: "{'a': 1}" });
  const pre = moddle.create('spiffworkflow:PreScript', { value: 'x = 1' });
  const post = moddle.create('spiffworkflow:PostScript', { value: 'y = 2' });
  task.extensionElements = moddle.create('bpmn:ExtensionElements', { values: [ properties, payload, pre, post ] });
  const process = moddle.create('bpmn:Process', { id: 'p', isExecutable: true, flowElements: [ task ] });
  const definitions = moddle.create('bpmn:Definitions', { id: 'd', targetNamespace: 'x', rootElements: [ process ] });
  const { xml } = await moddle.toXML(definitions);
  assert.match(xml, /<spiffworkflow:properties><spiffworkflow:property name="form" value="dossier\/new.json" \/><\/spiffworkflow:properties>/);
  assert.match(xml, /<spiffworkflow:messagePayload>\{'a': 1\}<\/spiffworkflow:messagePayload>/);
  assert.match(xml, /<spiffworkflow:preScript>x = 1<\/spiffworkflow:preScript>/);
  assert.match(xml, /<spiffworkflow:postScript>y = 2<\/spiffworkflow:postScript>/);
  assert.match(xml, /xmlns:spiffworkflow="http:\/\/spiffworkflow.org\/bpmn\/schema\/1.0\/core"/);
});
