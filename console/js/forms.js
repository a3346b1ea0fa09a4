// Form helpers: labelled fields with an error slot each, the API's field-named errors put
// at their field, and a form built from (and read back into) a JSON config document.

import { h } from './dom.js';

/// A labelled field: `path` names it as the API does (`hours.mon`, `value`, …).
export function field(path, label, input, hint) {
  const id = input.id || `f-${path.replace(/[^\w-]/g, '-')}`;
  input.id = id;
  input.dataset.path = path;
  const err = h('p', { class: 'field-error', id: `${id}-error`, 'data-error-for': path });
  input.setAttribute('aria-describedby', `${id}-error`);
  return h('div', { class: 'field', 'data-field': path },
    input.type === 'checkbox' ? h('label', { for: id }, input, ' ', label) : h('label', { for: id }, label),
    input.type === 'checkbox' ? null : input,
    hint ? h('p', { class: 'hint' }, hint) : null, err);
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error, .form-error')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/// Which field an API message names: `hours.sun: …` (the config documents), or the
/// first `name` in backticks (the blocklist's messages), or the word `value`.
export function fieldOf(message, paths) {
  const lead = message.match(/^([\w.]+):/);
  if (lead) {
    let p = lead[1];
    while (p) {
      if (paths.includes(p)) return p;
      p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '';
    }
  }
  for (const m of message.matchAll(/`([\w.]+)`/g)) if (paths.includes(m[1])) return m[1];
  if (/\bvalue\b/i.test(message) && paths.includes('value')) return 'value';
  return null;
}

/// Shows an ApiError at the field it names (else at the form's own error line).
export function showError(form, err) {
  const paths = [...form.querySelectorAll('[data-error-for]')].map((e) => e.dataset.errorFor);
  const messages = err.body && Array.isArray(err.body.errors) && err.body.errors.length
    ? err.body.errors.map((e) => (typeof e === 'string' ? e : e.error || JSON.stringify(e)))
    : [err.message];
  for (const msg of messages) {
    const path = fieldOf(msg, paths);
    const slot = path ? form.querySelector(`[data-error-for="${CSS.escape(path)}"]`) : form.querySelector('.form-error');
    if (slot) slot.textContent = slot.textContent ? `${slot.textContent}; ${msg}` : msg;
    const input = path ? form.querySelector(`[data-path="${CSS.escape(path)}"]`) : null;
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
  }
}

// Words for the documents' fields (by path); any other key is shown as its words.
const LABELS = {
  enabled: 'On',
  timezone: 'Business timezone (IANA name)',
  federal_holidays: 'Closed on US federal holidays',
  local_window: "Called party's legal calling window",
  'local_window.enabled': "Enforce the called party's local calling window (federal and state rules)",
  'local_window.unknown_zone': "When the called party's time zone cannot be told",
  max_defer_hours: 'Longest a lead may wait in the deferred queue (hours)',
  rules: 'Rules',
  'rules.active_call': 'Active call on the number: defer',
  'rules.duplicate': 'Duplicate lead within the window: block',
  'rules.daily_cap': 'Daily cap per number',
  'rules.rolling_cap': 'Rolling 24 h cap (FL, OK, MD…)',
  'rules.terminal_outcomes': 'Terminal outcome today (transferred, not interested)',
  'rules.terminal_status': 'Terminal Convoso status (DNC, SALE…)',
  'rules.invalid_numbers': 'Invalid numbers',
  invalid_numbers: 'Invalid number classes',
  'invalid_numbers.nanp_format': 'Area code or exchange starting with 0 or 1',
  'invalid_numbers.n11': 'N11 service codes (211…911)',
  'invalid_numbers.fictional': 'Fictional 555-0100…0199',
  'invalid_numbers.toll_free': 'Toll-free (800, 833…888)',
  'invalid_numbers.premium': 'Premium rate (900)',
  'invalid_numbers.international': 'Outside the NANP and valid for no pattern of its country',
};

// Fields whose value is one of a few words: a choice, not free text.
const CHOICES = {
  'local_window.unknown_zone': [['block', 'Block the call (fail closed)'],
    ['all_us_zones', 'Call only when the window is open in every US zone']],
};

function label(k, path) {
  if (LABELS[path]) return LABELS[path];
  const words = k.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/// Inputs for a config document: booleans as checkboxes, numbers as number inputs, lists
/// of strings one per line, objects as fieldsets, strings (and nulls) as text, and fields
/// with a fixed set of values as a choice.
export function docFields(doc, prefix = '') {
  return Object.entries(doc).map(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return h('fieldset', { 'data-field': path }, h('legend', {}, label(k, path)), docFields(v, path),
        h('p', { class: 'field-error', 'data-error-for': path }));
    }
    let input;
    if (CHOICES[path]) {
      input = h('select', {}, CHOICES[path].map(([value, text]) => h('option', { value, selected: value === v }, text)));
    } else if (typeof v === 'boolean') input = h('input', { type: 'checkbox', checked: v });
    else if (typeof v === 'number') input = h('input', { type: 'number', value: v, step: 'any' });
    else if (Array.isArray(v)) input = h('textarea', { rows: Math.min(8, Math.max(2, v.length)) }, v.join('\n'));
    else input = h('input', { type: 'text', value: v ?? '' });
    input.dataset.kind = Array.isArray(v) ? 'list' : v === null ? 'nullable' : typeof v;
    input.name = path;
    return field(path, label(k, path), input, Array.isArray(v) ? 'one per line' : null);
  });
}

/// Reads `docFields` back: the document with the form's values, in the original types.
export function readDoc(container, original) {
  const out = structuredClone(original);
  for (const input of container.querySelectorAll('[data-kind]')) {
    const keys = input.dataset.path.split('.');
    let at = out;
    for (const k of keys.slice(0, -1)) at = at[k];
    const last = keys[keys.length - 1];
    const kind = input.dataset.kind;
    if (kind === 'boolean') at[last] = input.checked;
    else if (kind === 'number') at[last] = input.value === '' ? null : Number(input.value);
    else if (kind === 'list') at[last] = input.value.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
    else if (kind === 'nullable') at[last] = input.value.trim() === '' ? null : input.value.trim();
    else at[last] = input.value;
  }
  return out;
}

/// The top-level fields whose values differ (a PUT takes only the fields to change).
export function changed(before, after) {
  const out = {};
  for (const k of Object.keys(after)) {
    if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) out[k] = after[k];
  }
  return out;
}
