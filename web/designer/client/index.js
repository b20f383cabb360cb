/**
 * Entry point of designer.js: mounts every modeler, counts viewer and diff viewer the page asks
 * for (data-motcua-modeler / data-motcua-counts / data-motcua-diff="CONFIG_ID", where CONFIG_ID
 * names a <script type="application/json"> holding the config) and exposes window.MotcuaDesigner.
 */

import { mountModeler } from './modeler.js';
import { mountCounts, mountDiff } from './viewers.js';

const KINDS = [
  { attribute: 'data-motcua-modeler', mount: mountModeler },
  { attribute: 'data-motcua-counts', mount: mountCounts },
  { attribute: 'data-motcua-diff', mount: mountDiff }
];

const api = {
  /** The last mounted bpmn-js Modeler (or viewer of a read-only designer). */
  modeler: null,
  /** The last mounted designer (toolbar, problems, forms). */
  designer: null,
  viewers: [],
  /** Current lint findings of the last mounted modeler: [{ id, rule, message, category }]. */
  lintIssues() {
    return api.designer ? api.designer.lintIssues : [];
  },
  mountAll,
  mountModeler,
  mountCounts,
  mountDiff
};

function readConfig(configId) {
  const script = configId && document.getElementById(configId);
  if (!script) {
    throw new Error(`no config element with id "${configId}"`);
  }
  return JSON.parse(script.textContent || '{}');
}

function showFailure(container, err) {
  const note = document.createElement('p');
  note.className = 'motcua-mount-error';
  note.setAttribute('role', 'alert');
  note.textContent = `The diagram cannot be shown: ${err && err.message ? err.message : err}`;
  container.appendChild(note);
  container.dataset.ready = 'error';
  console.error(err);
}

/** Mount everything under `root` that is not mounted yet. */
async function mountAll(root = document) {
  const mounted = [];
  for (const { attribute, mount } of KINDS) {
    for (const container of root.querySelectorAll(`[${attribute}]`)) {
      if (container.dataset.motcuaMounted) {
        continue;
      }
      container.dataset.motcuaMounted = 'true';
      try {
        const result = await mount(container, readConfig(container.getAttribute(attribute)));
        if (attribute === 'data-motcua-modeler') {
          api.designer = result;
          api.modeler = result.viewer;
          container.dataset.ready = 'true';
        } else {
          api.viewers.push(result);
        }
        mounted.push(result);
      } catch (err) {
        showFailure(container, err);
      }
    }
  }
  return mounted;
}

function onSaveShortcut(event) {
  if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === 's' || event.key === 'S')) {
    if (api.designer && !api.designer.readOnly) {
      event.preventDefault();
      api.designer.save();
    }
  }
}

function onLeave(event) {
  if (api.designer && api.designer.dirty && !api.designer.readOnly) {
    event.preventDefault();
    event.returnValue = '';
  }
}

window.MotcuaDesigner = api;
document.addEventListener('keydown', onSaveShortcut, true);
window.addEventListener('beforeunload', onLeave);

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', () => mountAll());
} else {
  mountAll();
}
