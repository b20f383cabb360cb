'use strict';

/**
 * Lint findings as the page exposes them (`MotcuaDesigner.lintIssues()`):
 * `[{ id, rule, message, category }]`, sorted by element id then rule.
 */

function sortIssues(issues) {
  return issues.sort((a, b) => (a.id + '\0' + a.rule).localeCompare(b.id + '\0' + b.rule));
}

/** From bpmnlint's `Linter#lint` result (`{ rule: [report] }`). */
function issuesFromResults(results) {
  const issues = [];
  for (const [ rule, reports ] of Object.entries(results || {})) {
    for (const report of reports) {
      issues.push({ id: report.id || '', rule, message: report.message, category: report.category });
    }
  }
  return sortIssues(issues);
}

/**
 * From bpmn-js-bpmnlint's `linting.completed` event (`{ elementId: [report] }`, each report with
 * its rule). An issue on an element not drawn is moved to the process or participant there; the
 * element it is really about is kept in `actualElementId`.
 */
function issuesFromOverlays(byElement) {
  const issues = [];
  for (const reports of Object.values(byElement || {})) {
    for (const report of reports) {
      issues.push({
        id: report.actualElementId || report.id || '',
        rule: report.rule,
        message: report.message,
        category: report.category
      });
    }
  }
  return sortIssues(issues);
}

module.exports = { issuesFromOverlays, issuesFromResults };
