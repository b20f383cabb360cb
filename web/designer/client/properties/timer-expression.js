'use strict';

/**
 * The timer builder's arithmetic: amount + unit + relative to + before/after -> a timeDate
 * expression with the dialect's calendar functions. Working time only: the engine's calendar has
 * no plain-day arithmetic for timers.
 */

const AMOUNT = /^\d+(\.\d+)?$/;

/**
 * @param {{ amount: string|number, unit: 'days'|'hours', base: string, direction: 'after'|'before' }} choice
 * @return {{ expression?: string, error?: 'amount'|'base'|'hoursBefore' }}
 */
function buildTimerExpression(choice) {
  const amount = String(choice.amount === undefined ? '' : choice.amount).trim();
  if (!AMOUNT.test(amount) || Number(amount) <= 0) {
    return { error: 'amount' };
  }
  const base = String(choice.base || '').trim();
  if (!base) {
    return { error: 'base' };
  }
  const number = String(Number(amount));
  if (choice.direction === 'before') {
    // The dialect can count working days backwards (working_days_before), not hours.
    if (choice.unit === 'hours') {
      return { error: 'hoursBefore' };
    }
    return { expression: `working_days_before(${base}, ${number})` };
  }
  const fn = choice.unit === 'hours' ? 'add_working_hours' : 'add_working_days';
  return { expression: `${fn}(${base}, ${number})` };
}

/**
 * Read an expression the builder wrote back into its parts, so the builder shows the current
 * timer; null for anything else (the designer edits that as text).
 */
function parseTimerExpression(expression) {
  const match = /^\s*(add_working_days|add_working_hours|working_days_before)\((.+),\s*(\d+(?:\.\d+)?)\s*\)\s*$/.exec(expression || '');
  if (!match) {
    return null;
  }
  return {
    amount: match[3],
    unit: match[1] === 'add_working_hours' ? 'hours' : 'days',
    base: match[2].trim(),
    direction: match[1] === 'working_days_before' ? 'before' : 'after'
  };
}

module.exports = { buildTimerExpression, parseTimerExpression };
