/**
 * The problems panel under the canvas: the server's problems (from the last save or check) and the
 * live lint findings, one `li` each with `data-element-id` and `data-source`. Clicking one selects
 * the element and scrolls to it. Elements with server problems carry the `motcua-problem` marker.
 */

import { format } from './labels.js';

export const PROBLEM_MARKER = 'motcua-problem';

export class ProblemsPanel {
  constructor(list, labels) {
    this.list = list;
    this.labels = labels;
    this.viewer = null;
    this.server = [];
    this.lint = [];
    this.marked = [];
    this.list.addEventListener('click', (event) => this._onClick(event));
    this.list.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        this._onClick(event);
      }
    });
  }

  attach(viewer) {
    this.viewer = viewer;
    this._mark();
  }

  setServer(problems) {
    this.server = Array.isArray(problems) ? problems.map(normaliseProblem) : [];
    this._mark();
    this.render();
  }

  setLint(issues) {
    this.lint = issues;
    this.render();
  }

  get serverCount() {
    return this.server.length;
  }

  render() {
    const items = [
      ...this.server.map((problem) => this._item('server', problem.element_id, this._serverText(problem), 'error')),
      ...this.lint.map((issue) => this._item('lint', issue.id, `${issue.id}: ${issue.message} (${issue.rule})`, issue.category))
    ];
    this.list.replaceChildren(...items);
    if (!items.length) {
      const empty = document.createElement('li');
      empty.className = 'motcua-problems-empty';
      empty.textContent = this.labels.noProblemsYet;
      this.list.appendChild(empty);
    }
  }

  _serverText(problem) {
    const where = [
      problem.line ? `${this.labels.line} ${problem.line}` : '',
      problem.element_id || this.labels.fileLevel
    ].filter(Boolean).join(' · ');
    return `${where}: ${problem.message}`;
  }

  _item(source, elementId, text, category) {
    const item = document.createElement('li');
    item.dataset.elementId = elementId || '';
    item.dataset.source = source;
    item.dataset.category = category || 'error';
    item.className = `motcua-problem-item motcua-problem-${source} motcua-category-${category || 'error'}`;
    const badge = document.createElement('span');
    badge.className = 'motcua-problem-source';
    badge.textContent = source === 'server' ? this.labels.sourceServer : this.labels.sourceLint;
    const message = document.createElement('span');
    message.className = 'motcua-problem-message';
    message.textContent = text;
    item.append(badge, ' ', message);
    if (elementId) {
      item.tabIndex = 0;
      item.setAttribute('role', 'button');
    }
    return item;
  }

  _onClick(event) {
    const item = event.target.closest('li[data-element-id]');
    if (!item || !item.dataset.elementId || !this.viewer) {
      return;
    }
    event.preventDefault();
    focusElement(this.viewer, item.dataset.elementId);
  }

  _mark() {
    if (!this.viewer) {
      return;
    }
    const canvas = this.viewer.get('canvas');
    const registry = this.viewer.get('elementRegistry');
    for (const id of this.marked) {
      if (registry.get(id)) {
        canvas.removeMarker(id, PROBLEM_MARKER);
      }
    }
    this.marked = [];
    for (const problem of this.server) {
      const id = problem.element_id;
      if (id && registry.get(id) && !this.marked.includes(id)) {
        canvas.addMarker(id, PROBLEM_MARKER);
        this.marked.push(id);
      }
    }
  }
}

function normaliseProblem(problem) {
  return {
    line: problem && problem.line ? problem.line : null,
    element_id: (problem && problem.element_id) || '',
    message: (problem && problem.message) || String(problem)
  };
}

/** Select an element and bring it into view, opening the sub-process plane it is drawn on. */
export function focusElement(viewer, elementId) {
  const registry = viewer.get('elementRegistry');
  const canvas = viewer.get('canvas');
  const element = registry.get(elementId);
  if (!element) {
    return false;
  }
  const root = typeof canvas.findRoot === 'function' ? canvas.findRoot(element) : null;
  if (root && root !== canvas.getRootElement()) {
    canvas.setRootElement(root);
  }
  if (element.waypoints || element.width !== undefined) {
    canvas.scrollToElement(element);
  }
  const selection = viewer.get('selection', false);
  if (selection) {
    selection.select(element);
  }
  return true;
}

export function summary(labels, count) {
  return count ? format(labels.problemCount, { count }) : labels.noProblems;
}
