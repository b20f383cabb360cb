/**
 * UI strings. The page sends `labels` in its config (Vietnamese or English); any key it leaves out
 * falls back to the English text here. `{name}` placeholders are filled by `format`.
 */

export const DEFAULT_LABELS = {
  // toolbar and status line
  save: 'Save draft',
  check: 'Check',
  deploy: 'Deploy',
  note: 'Why (required to deploy)',
  notePlaceholder: 'What changes in this version, and why',
  saving: 'Saving…',
  checking: 'Checking…',
  deploying: 'Deploying…',
  savedDraft: 'Saved draft #{id}',
  problemCount: '{count} problems',
  noProblems: 'no problems',
  checked: 'Checked',
  deployed: 'Deployed as version {version}',
  openVersion: 'open it',
  notDeployable: 'Not deployed: fix the problems first',
  deployRefused: 'Not deployed',
  noteRequired: 'Write why you deploy (the note) first',
  networkError: 'Could not reach the server: {message}',
  requestFailed: 'The server refused: {message}',
  importFailed: 'The diagram cannot be opened: {message}',
  importWarnings: '{count} parts of the file could not be read',
  unsavedChanges: 'There are unsaved changes',
  readOnly: 'Read only',
  // problems panel
  problems: 'Problems',
  sourceServer: 'server',
  sourceLint: 'lint',
  line: 'line',
  fileLevel: 'file',
  noProblemsYet: 'No problems found.',
  // properties panel
  motcuaGroup: 'motcua',
  role: 'Role',
  agency: 'Agency',
  agencyDefault: 'resolving (default)',
  form: 'Form',
  noForm: '(none)',
  newForm: 'New form…',
  editForm: 'Edit form',
  budget: 'Budget',
  budgetHelp: 'Working days or hours, e.g. 0.5d or 4h',
  budgetInvalid: 'Write working days or hours, e.g. 0.5d or 4h',
  caseStatus: 'Case status when done',
  noStatus: '(none)',
  timeDate: 'Due at (timeDate expression)',
  timeDuration: 'Duration (timeDuration expression)',
  timerBuilder: 'Build the time',
  amount: 'Amount',
  workingDays: 'working days',
  workingHours: 'working hours',
  after: 'after',
  before: 'before',
  relativeTo: 'Relative to',
  useExpression: 'Use',
  amountInvalid: 'Write a positive number',
  baseMissing: 'Pick what the time counts from',
  hoursBefore: 'Only working days can be counted backwards',
  script: 'Script (Python)',
  condition: 'Condition (Python expression)',
  defaultFlow: 'Default flow: taken when no condition holds',
  decision: 'Decision (DMN)',
  noDecision: '(none)',
  messageVariable: 'Store the message in (task data name)',
  messageVariableInvalid: 'A task data name: letters, digits and _, e.g. supplement',
  unknownValue: '{value} (unknown)',
  // form editor
  formEditor: 'Form',
  formName: 'Form file',
  formSchema: 'JSON Schema',
  formPreview: 'Preview',
  apply: 'Apply',
  cancel: 'Cancel',
  jsonError: 'Not valid JSON, line {line}, column {column}: {message}',
  formNameInvalid: 'A form file name looks like dossier/my_form.json',
  formNotObject: 'The schema must be a JSON object',
  previewFailed: 'No preview: {message}',
  // counts
  overdue: 'overdue'
};

export function labelsFrom(labels) {
  return { ...DEFAULT_LABELS, ...(labels && typeof labels === 'object' ? labels : {}) };
}

export function format(template, values) {
  return String(template).replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
