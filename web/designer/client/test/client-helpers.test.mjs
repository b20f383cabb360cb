// Pure helpers of the modeler page: the timer builder and the form editor's JSON error position.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { buildTimerExpression, parseTimerExpression } = require('../properties/timer-expression.js');
const { jsonError } = require('../json-errors.js');

test('the timer builder writes the dialect functions', () => {
  assert.deepEqual(buildTimerExpression({ amount: '5', unit: 'days', base: 'received_at', direction: 'after' }),
    { expression: 'add_working_days(received_at, 5)' });
  assert.deepEqual(buildTimerExpression({ amount: 4, unit: 'hours', base: 'now()', direction: 'after' }),
    { expression: 'add_working_hours(now(), 4)' });
  assert.deepEqual(buildTimerExpression({ amount: '1', unit: 'days', base: 'appointment()', direction: 'before' }),
    { expression: 'working_days_before(appointment(), 1)' });
  assert.deepEqual(buildTimerExpression({ amount: '0.50', unit: 'days', base: 'now()', direction: 'after' }),
    { expression: 'add_working_days(now(), 0.5)' });
});

test('the timer builder refuses what the dialect cannot express', () => {
  assert.deepEqual(buildTimerExpression({ amount: '', unit: 'days', base: 'now()', direction: 'after' }), { error: 'amount' });
  assert.deepEqual(buildTimerExpression({ amount: '-2', unit: 'days', base: 'now()', direction: 'after' }), { error: 'amount' });
  assert.deepEqual(buildTimerExpression({ amount: '2', unit: 'days', base: '', direction: 'after' }), { error: 'base' });
  assert.deepEqual(buildTimerExpression({ amount: '2', unit: 'hours', base: 'now()', direction: 'before' }), { error: 'hoursBefore' });
});

test('an expression the builder wrote is read back; others are not', () => {
  assert.deepEqual(parseTimerExpression('working_days_before(appointment(), 1)'),
    { amount: '1', unit: 'days', base: 'appointment()', direction: 'before' });
  assert.deepEqual(parseTimerExpression("add_working_days(received_at, 5)"),
    { amount: '5', unit: 'days', base: 'received_at', direction: 'after' });
  assert.equal(parseTimerExpression("add_working_days(received_at, limits['reject_days'])"), null);
  assert.equal(parseTimerExpression(''), null);
});

test('JSON errors are located by line and column', () => {
  assert.equal(jsonError('{"type": "object"}'), null);
  const error = jsonError('{\n  "type": "object",\n  "properties": {,}\n}');
  assert.equal(error.line, 3);
  assert.equal(error.column, 18);
  assert.ok(error.message.length > 0);
  assert.ok(!/position/.test(error.message));
  const end = jsonError('{"a": [1, 2');
  assert.equal(end.line, 1);
  assert.ok(end.column >= 11, JSON.stringify(end));
});
