import { format } from '../labels.js';

/**
 * Select options: an empty choice, the known values, and the current value even when it is not
 * known (so opening an element never silently changes it; the lint says it is unknown).
 */
export function selectOptions(emptyLabel, known, current, labels) {
  const options = [ { value: '', label: emptyLabel } ];
  const seen = new Set();
  for (const item of known) {
    if (!item.value || seen.has(item.value)) {
      continue;
    }
    seen.add(item.value);
    options.push(item);
  }
  if (current && !seen.has(current)) {
    options.push({ value: current, label: format(labels.unknownValue, { value: current }) });
  }
  return options;
}

/** Names as options: ['officer'] -> [{ value: 'officer', label: 'officer' }]. */
export function plain(names) {
  return (names || []).map((name) => ({ value: String(name), label: String(name) }));
}
