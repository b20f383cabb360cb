'use strict';

/**
 * Where a JSON text is broken, as line and column (both from 1), for the form editor. Browsers
 * word JSON.parse errors differently: some give "(line 3 column 5)", most a character
 * "position"; a text that parses gives null.
 */
function jsonError(text) {
  try {
    JSON.parse(text);
    return null;
  } catch (err) {
    const message = String(err && err.message ? err.message : err);
    const lineColumn = /line (\d+) column (\d+)/.exec(message);
    if (lineColumn) {
      return { line: Number(lineColumn[1]), column: Number(lineColumn[2]), message: clean(message) };
    }
    const position = /position (\d+)/.exec(message);
    const offset = position ? Number(position[1]) : endOfText(text, message);
    const { line, column } = lineAndColumn(text, offset);
    return { line, column, message: clean(message) };
  }
}

function endOfText(text, message) {
  // "Unexpected end of JSON input" carries no position: the problem is at the end.
  return /end of/i.test(message) ? text.length : 0;
}

function lineAndColumn(text, offset) {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

function clean(message) {
  return message
    .replace(/\s*\(line \d+ column \d+\)/, '')
    .replace(/\s*in JSON at position \d+/, '')
    .replace(/^JSON\.parse: /, '');
}

module.exports = { jsonError };
