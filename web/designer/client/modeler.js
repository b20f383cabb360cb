/**
 * The process designer: bpmn-js Modeler with the properties panel, live lint, a toolbar to save,
 * check and deploy through the page's endpoints, and the problems panel.
 */

import Modeler from 'bpmn-js/lib/Modeler';
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import LintModule from 'bpmn-js-bpmnlint';

import spiffworkflowDescriptor from './moddle/spiffworkflow.json';
import MotcuaPropertiesProviderModule from './properties/index.js';
import { setProperty } from './properties/extension.js';
import { lintConfig } from './lint/config.js';
import { issuesFromOverlays } from './lint/issues.js';
import { postJson } from './api.js';
import { FormEditor } from './form-editor.js';
import { ProblemsPanel, summary } from './problems.js';
import { format, labelsFrom } from './labels.js';

/** Build the designer's DOM inside `container`; returns the parts by role. */
function layout(container, labels, readOnly) {
  container.classList.add('motcua-designer');
  container.innerHTML = `
    <div class="motcua-toolbar" role="toolbar">
      <button type="button" id="designer-save" class="motcua-primary"></button>
      <button type="button" id="designer-check"></button>
      <label class="motcua-note"><span class="motcua-note-label"></span>
        <input type="text" id="designer-note" maxlength="500" autocomplete="off">
      </label>
      <button type="button" id="designer-deploy"></button>
      <span id="designer-status" role="status" aria-live="polite"></span>
    </div>
    <div class="motcua-workspace">
      <div class="motcua-canvas"></div>
      <div class="motcua-properties"></div>
    </div>
    <section class="motcua-problems">
      <h2 class="motcua-problems-title"></h2>
      <ul id="designer-problems"></ul>
    </section>`;
  const part = (selector) => container.querySelector(selector);
  part('#designer-save').textContent = labels.save;
  part('#designer-check').textContent = labels.check;
  part('#designer-deploy').textContent = labels.deploy;
  part('.motcua-note-label').textContent = labels.note;
  part('#designer-note').placeholder = labels.notePlaceholder;
  part('.motcua-problems-title').textContent = labels.problems;
  if (readOnly) {
    container.classList.add('motcua-read-only');
    for (const selector of [ '#designer-save', '#designer-deploy', '.motcua-note', '.motcua-properties' ]) {
      part(selector).hidden = true;
    }
  }
  return {
    save: part('#designer-save'),
    check: part('#designer-check'),
    deploy: part('#designer-deploy'),
    note: part('#designer-note'),
    status: part('#designer-status'),
    canvas: part('.motcua-canvas'),
    properties: part('.motcua-properties'),
    problems: part('#designer-problems')
  };
}

/**
 * Mount a modeler in `container` from the page config (see docs/designer-client.md).
 * Resolves to the Designer once the diagram is open.
 */
export async function mountModeler(container, config) {
  const designer = new Designer(container, config);
  await designer.open();
  return designer;
}

export class Designer {
  constructor(container, config) {
    this.config = config || {};
    this.labels = labelsFrom(this.config.labels);
    this.readOnly = Boolean(this.config.readOnly);
    this.draftId = this.config.draftId === undefined ? null : this.config.draftId;
    this.basedOnVersion = this.config.basedOnVersion === undefined ? null : this.config.basedOnVersion;
    this.urls = this.config.urls || {};
    this.busy = false;
    this.dirty = false;
    this.changes = 0;
    this.opened = false;
    this.issues = [];

    const dialect = this.config.dialect || {};
    this.forms = { ...(this.config.forms || {}) };
    // Forms created or changed in this draft; sent with every save.
    this.editedForms = { ...(this.config.editedForms || {}) };
    // Handed to every motcua lint rule on each lint run; kept in step with this.forms.
    this.lintOptions = { ...dialect, forms: Object.keys(this.forms) };

    this.ui = layout(container, this.labels, this.readOnly);
    this.problems = new ProblemsPanel(this.ui.problems, this.labels);
    this.context = {
      dialect,
      labels: this.labels,
      forms: this.forms,
      openFormEditor: (element, name) => this.openFormEditor(element, name)
    };
    this.viewer = this.readOnly ? this._createViewer() : this._createModeler();
    if (!this.readOnly) {
      this.formEditor = new FormEditor(container, {
        labels: this.labels, previewUrl: this.urls.formPreview, csrfToken: this.config.csrfToken
      });
    }
    this._bindToolbar();
  }

  _createModeler() {
    const modeler = new Modeler({
      container: this.ui.canvas,
      propertiesPanel: { parent: this.ui.properties, layout: { groups: { motcua: { open: true } } } },
      linting: { bpmnlint: lintConfig(this.lintOptions), active: true },
      additionalModules: [
        BpmnPropertiesPanelModule,
        BpmnPropertiesProviderModule,
        MotcuaPropertiesProviderModule,
        LintModule,
        { motcuaContext: [ 'value', this.context ] }
      ],
      moddleExtensions: { spiffworkflow: spiffworkflowDescriptor }
    });
    modeler.on('linting.completed', (event) => {
      this.issues = issuesFromOverlays(event.issues);
      this.problems.setLint(this.issues);
    });
    modeler.on('commandStack.changed', () => {
      this.changes++;
      this.dirty = true;
    });
    return modeler;
  }

  _createViewer() {
    return new NavigatedViewer({
      container: this.ui.canvas,
      moddleExtensions: { spiffworkflow: spiffworkflowDescriptor }
    });
  }

  async open() {
    try {
      const result = this.config.xml
        ? await this.viewer.importXML(this.config.xml)
        : await this.viewer.createDiagram();
      this.opened = true;
      this.viewer.get('canvas').zoom('fit-viewport', 'auto');
      const warnings = (result && result.warnings) || [];
      if (warnings.length) {
        this.setStatus(format(this.labels.importWarnings, { count: warnings.length }), 'warning');
      }
    } catch (err) {
      // Nothing to save: keep the stored diagram as it is rather than overwrite it with an empty one.
      this.setStatus(format(this.labels.importFailed, { message: err.message }), 'error');
      this.ui.save.disabled = true;
      this.ui.deploy.disabled = true;
    }
    this.problems.attach(this.viewer);
    this.problems.setServer(this.config.problems || []);
    this.dirty = false;
  }

  get lintIssues() {
    return this.issues.map((issue) => ({ ...issue }));
  }

  _bindToolbar() {
    this.ui.save.addEventListener('click', () => this.save());
    this.ui.check.addEventListener('click', () => this.check());
    this.ui.deploy.addEventListener('click', () => this.deploy());
    this.ui.note.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        this.deploy();
      }
    });
  }

  setStatus(text, kind = 'info', link = null) {
    const status = this.ui.status;
    status.replaceChildren(document.createTextNode(text));
    status.dataset.kind = kind;
    if (link) {
      const anchor = document.createElement('a');
      anchor.href = link.href;
      anchor.textContent = link.text;
      status.append(' — ', anchor);
    }
  }

  _setBusy(busy) {
    this.busy = busy;
    this.ui.save.disabled = busy || !this.opened;
    this.ui.deploy.disabled = busy || !this.opened;
    this.ui.check.disabled = busy;
  }

  async _xml() {
    const { xml } = await this.viewer.saveXML({ format: true });
    return xml;
  }

  _requestFailed(err) {
    if (err.problems) {
      this.problems.setServer(err.problems);
    }
    const template = err.isNetwork ? this.labels.networkError : this.labels.requestFailed;
    this.setStatus(format(template, { message: err.message }), 'error');
  }

  /** Save the draft; resolves to the server's answer, or null when it failed (status says why). */
  async save({ quiet = false } = {}) {
    if (this.readOnly || this.busy || !this.opened) {
      return null;
    }
    this._setBusy(true);
    this.setStatus(this.labels.saving, 'busy');
    try {
      const changesBefore = this.changes;
      const answer = await postJson(this.urls.saveDraft, {
        xml: await this._xml(),
        forms: this.editedForms,
        draft_id: this.draftId,
        based_on_version: this.basedOnVersion
      }, this.config.csrfToken);
      this.draftId = answer.draft_id;
      // Edits made while the request ran are not in this save.
      this.dirty = this.changes !== changesBefore;
      this.problems.setServer(answer.problems || []);
      if (!quiet) {
        this._savedStatus(answer);
      }
      this._rememberDraftUrl(answer.url);
      return answer;
    } catch (err) {
      this._requestFailed(err);
      return null;
    } finally {
      this._setBusy(false);
    }
  }

  _savedStatus(answer) {
    const count = (answer.problems || []).length;
    this.setStatus(
      `${format(this.labels.savedDraft, { id: answer.draft_id })} — ${summary(this.labels, count)}`,
      count ? 'warning' : 'success'
    );
  }

  _rememberDraftUrl(url) {
    // A new process becomes a draft on its first save: reloading the page must open that draft.
    if (url && window.history && window.location.pathname !== new URL(url, window.location.href).pathname) {
      window.history.replaceState(window.history.state, '', url);
    }
  }

  async check() {
    if (this.busy || !this.opened) {
      return;
    }
    this._setBusy(true);
    this.setStatus(this.labels.checking, 'busy');
    try {
      const answer = await postJson(this.urls.check, { xml: await this._xml(), forms: this.editedForms }, this.config.csrfToken);
      const problems = answer.problems || [];
      this.problems.setServer(problems);
      this.setStatus(`${this.labels.checked} — ${summary(this.labels, problems.length)}`, problems.length ? 'warning' : 'success');
    } catch (err) {
      this._requestFailed(err);
    } finally {
      this._setBusy(false);
    }
  }

  /** Save first, then deploy the saved draft with the note. */
  async deploy() {
    if (this.readOnly || this.busy || !this.opened) {
      return;
    }
    const note = this.ui.note.value.trim();
    if (!note) {
      this.setStatus(this.labels.noteRequired, 'error');
      this.ui.note.focus();
      return;
    }
    const saved = await this.save({ quiet: true });
    if (!saved) {
      return;
    }
    if (saved.deployable === false) {
      this.setStatus(`${this.labels.notDeployable} — ${summary(this.labels, (saved.problems || []).length)}`, 'error');
      return;
    }
    this._setBusy(true);
    this.setStatus(this.labels.deploying, 'busy');
    try {
      const answer = await postJson(this.urls.deploy, { draft_id: this.draftId, note }, this.config.csrfToken);
      this.ui.note.value = '';
      this.setStatus(
        format(this.labels.deployed, { version: answer.version }),
        'success',
        answer.url ? { href: answer.url, text: this.labels.openVersion } : null
      );
    } catch (err) {
      if (err.problems) {
        this.problems.setServer(err.problems);
        this.setStatus(`${this.labels.deployRefused}: ${err.message} — ${summary(this.labels, err.problems.length)}`, 'error');
      } else {
        this._requestFailed(err);
      }
    } finally {
      this._setBusy(false);
    }
  }

  openFormEditor(element, name) {
    if (!this.formEditor) {
      return;
    }
    this.formEditor.open({
      name,
      schema: name ? this.forms[name] : null,
      onApply: (formName, schema) => this.applyForm(element, formName, schema)
    });
  }

  /** Keep a form edited in this session and make it the task's form. */
  applyForm(element, name, schema) {
    this.forms[name] = schema;
    this.editedForms[name] = schema;
    this.lintOptions.forms = Object.keys(this.forms);
    this.dirty = true;
    const businessObject = element.businessObject;
    setProperty(this.viewer.get('injector'), element, businessObject, 'form', name);
    // The form may already have been named (a new schema for an unknown name): lint again.
    this.viewer.get('linting').update();
  }
}
