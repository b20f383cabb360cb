/**
 * The form editor dialog: a JSON Schema textarea with a live preview rendered by the server
 * (`formPreview`), and Apply, which keeps the schema among the forms edited in this session (sent
 * with the next save) and names it as the task's form.
 */

import { postJson } from './api.js';
import { format } from './labels.js';
import { jsonError } from './json-errors.js';

const PREVIEW_DELAY_MS = 400;
const FORM_NAME = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*\.json$/;

export class FormEditor {
  /**
   * @param {HTMLElement} host where the dialog is added
   * @param {{ labels: object, previewUrl: string, csrfToken: string }} options
   */
  constructor(host, { labels, previewUrl, csrfToken }) {
    this.labels = labels;
    this.previewUrl = previewUrl;
    this.csrfToken = csrfToken;
    this.timer = null;
    this.previewRequest = 0;
    this.onApply = null;
    this.dialog = this._build();
    host.appendChild(this.dialog);
  }

  /**
   * @param {{ name: string, schema: object|null, onApply: (name: string, schema: object) => void }} options
   */
  open({ name, schema, onApply }) {
    this.onApply = onApply;
    this.nameInput.value = name || '';
    this.textarea.value = JSON.stringify(schema || { type: 'object', properties: {} }, null, 2);
    this.error.textContent = '';
    this.error.hidden = true;
    this.preview.replaceChildren();
    if (typeof this.dialog.showModal === 'function') {
      this.dialog.showModal();
    } else {
      this.dialog.setAttribute('open', '');
    }
    this._schedulePreview(0);
    (name ? this.textarea : this.nameInput).focus();
  }

  close() {
    clearTimeout(this.timer);
    if (typeof this.dialog.close === 'function' && this.dialog.open) {
      this.dialog.close();
    } else {
      this.dialog.removeAttribute('open');
    }
  }

  _build() {
    const labels = this.labels;
    const dialog = document.createElement('dialog');
    dialog.id = 'form-editor';
    dialog.className = 'motcua-form-editor';
    dialog.innerHTML = `
      <form method="dialog" class="motcua-form-editor-body">
        <h2 class="motcua-form-editor-title"></h2>
        <label class="motcua-field"><span class="motcua-form-name-label"></span>
          <input id="form-name" type="text" autocomplete="off" spellcheck="false" placeholder="dossier/my_form.json">
        </label>
        <div class="motcua-form-editor-columns">
          <label class="motcua-field"><span class="motcua-form-schema-label"></span>
            <textarea id="form-schema" rows="24" spellcheck="false"></textarea>
          </label>
          <div class="motcua-field">
            <span class="motcua-form-preview-label"></span>
            <p id="form-schema-error" class="motcua-form-error" role="alert" hidden></p>
            <div id="form-preview" class="motcua-form-preview" aria-live="polite"></div>
          </div>
        </div>
        <div class="motcua-form-editor-actions">
          <button type="button" id="form-editor-apply" class="motcua-primary"></button>
          <button type="button" id="form-editor-cancel"></button>
        </div>
      </form>`;
    dialog.querySelector('.motcua-form-editor-title').textContent = labels.formEditor;
    dialog.querySelector('.motcua-form-name-label').textContent = labels.formName;
    dialog.querySelector('.motcua-form-schema-label').textContent = labels.formSchema;
    dialog.querySelector('.motcua-form-preview-label').textContent = labels.formPreview;
    dialog.querySelector('#form-editor-apply').textContent = labels.apply;
    dialog.querySelector('#form-editor-cancel').textContent = labels.cancel;

    this.nameInput = dialog.querySelector('#form-name');
    this.textarea = dialog.querySelector('#form-schema');
    this.error = dialog.querySelector('#form-schema-error');
    this.preview = dialog.querySelector('#form-preview');

    this.textarea.addEventListener('input', () => this._schedulePreview(PREVIEW_DELAY_MS));
    dialog.querySelector('#form-editor-apply').addEventListener('click', () => this._apply());
    dialog.querySelector('#form-editor-cancel').addEventListener('click', () => this.close());
    return dialog;
  }

  _showError(message) {
    this.error.textContent = message;
    this.error.hidden = false;
    this.preview.replaceChildren();
  }

  /** The schema in the textarea, or null after showing why it is not one. */
  _schema() {
    const text = this.textarea.value;
    const problem = jsonError(text);
    if (problem) {
      this._showError(format(this.labels.jsonError, problem));
      return null;
    }
    const schema = JSON.parse(text);
    if (!schema || typeof schema !== 'object' || Array.isArray(schema)) {
      this._showError(this.labels.formNotObject);
      return null;
    }
    return schema;
  }

  _schedulePreview(delay) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._refreshPreview(), delay);
  }

  async _refreshPreview() {
    const schema = this._schema();
    const request = ++this.previewRequest;
    if (!schema) {
      return;
    }
    this.error.hidden = true;
    if (!this.previewUrl) {
      return;
    }
    try {
      const data = await postJson(this.previewUrl, { schema }, this.csrfToken);
      if (request === this.previewRequest) {
        // Rendered by our own server from the schema, with its own escaping.
        this.preview.innerHTML = data.html || '';
      }
    } catch (err) {
      if (request === this.previewRequest) {
        this._showError(format(this.labels.previewFailed, { message: err.message }));
      }
    }
  }

  _apply() {
    const name = this.nameInput.value.trim();
    if (!FORM_NAME.test(name) || name.split('/').includes('..')) {
      this._showError(this.labels.formNameInvalid);
      this.nameInput.focus();
      return;
    }
    const schema = this._schema();
    if (!schema) {
      this.textarea.focus();
      return;
    }
    const onApply = this.onApply;
    this.close();
    if (onApply) {
      onApply(name, schema);
    }
  }
}
