/**
 * Read-only diagrams: open cases per element (badges) and the changes between two versions
 * (markers). Both use the NavigatedViewer (pan and zoom, no editing).
 */

import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';

import spiffworkflowDescriptor from './moddle/spiffworkflow.json';
import { labelsFrom } from './labels.js';

async function openViewer(container, xml) {
  container.classList.add('motcua-viewer');
  const canvasBox = document.createElement('div');
  canvasBox.className = 'motcua-canvas';
  container.replaceChildren(canvasBox);
  const viewer = new NavigatedViewer({
    container: canvasBox,
    moddleExtensions: { spiffworkflow: spiffworkflowDescriptor }
  });
  await viewer.importXML(xml);
  viewer.get('canvas').zoom('fit-viewport', 'auto');
  return viewer;
}

/**
 * Counts: `{ xml, counts: { elementId: { open, overdue } }, labels }`. Each counted element gets a
 * badge with the open count and, when some are overdue, a red "N overdue" part.
 */
export async function mountCounts(container, config) {
  const viewer = await openViewer(container, config.xml);
  const labels = labelsFrom(config.labels);
  const registry = viewer.get('elementRegistry');
  const overlays = viewer.get('overlays');
  for (const [ elementId, count ] of Object.entries(config.counts || {})) {
    const element = registry.get(elementId);
    if (!element) {
      continue;
    }
    overlays.add(element, 'motcua-count', { position: { top: -12, right: 12 }, html: badge(elementId, count, labels) });
  }
  container.dataset.ready = 'true';
  return viewer;
}

function badge(elementId, count, labels) {
  const box = document.createElement('div');
  box.className = 'motcua-count';
  box.dataset.elementId = elementId;
  const open = document.createElement('span');
  open.className = 'motcua-count-open';
  open.textContent = String(count.open || 0);
  box.appendChild(open);
  if (count.overdue > 0) {
    const overdue = document.createElement('span');
    overdue.className = 'motcua-count-overdue';
    overdue.textContent = `${count.overdue} ${labels.overdue}`;
    box.append(' ', overdue);
  }
  return box;
}

/** Diff: `{ xml, added: [ids], changed: [ids], removed: [ids] }`; removed ones are listed by the page. */
export async function mountDiff(container, config) {
  const viewer = await openViewer(container, config.xml);
  const registry = viewer.get('elementRegistry');
  const canvas = viewer.get('canvas');
  for (const [ ids, marker ] of [ [ config.added, 'motcua-added' ], [ config.changed, 'motcua-changed' ] ]) {
    for (const id of ids || []) {
      if (registry.get(id)) {
        canvas.addMarker(id, marker);
      }
    }
  }
  container.dataset.ready = 'true';
  return viewer;
}
