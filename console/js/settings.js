// Settings: business hours per weekday, blackout dates and the rest of the scheduler's
// document; the answering-machine and protection documents. Each saves with a PUT of the
// changed fields; the API's field-named errors are shown at the field.

import { api } from './api.js';
import { h, toast } from './dom.js';
import { changed, clearErrors, docFields, field, readDoc, showError } from './forms.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export function mount(root) {
  root.append(h('h1', {}, 'Settings'));
  const slots = [h('div', { id: 'settings-scheduler' }), h('div', { id: 'settings-am' }), h('div', { id: 'settings-protection' })];
  root.append(...slots);
  section(slots[0], '/api/admin/scheduler/config', 'Business hours and calling window', schedulerFields, readScheduler);
  section(slots[1], '/api/admin/answering-machine/config', 'Answering machine', docFields, readDoc);
  section(slots[2], '/api/admin/protection/config', 'Protection rules', docFields, readDoc);
  return undefined;
}

async function section(slot, path, title, build, read) {
  let doc;
  try {
    doc = await api(path);
  } catch (err) {
    slot.replaceChildren(h('p', { class: 'error', role: 'alert' }, `${title}: ${err.message}`));
    return;
  }
  const id = slot.id.replace('settings-', '');
  const body = h('div', { class: 'fields' }, build(doc));
  const form = h('form', { class: 'card', id: `form-${id}`, novalidate: true, 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title), body,
    h('p', { class: 'form-error', role: 'alert' }),
    h('button', { type: 'submit' }, 'Save'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const diff = changed(doc, read(body, doc));
    if (!Object.keys(diff).length) {
      toast(`${title}: nothing changed`);
      return;
    }
    try {
      await api(path, { method: 'PUT', json: diff });
      toast(`${title}: saved`, 'ok');
      section(slot, path, title, build, read);
    } catch (err) {
      showError(form, err);
    }
  });
  slot.replaceChildren(form);
}

const DAY_NAMES = { mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday', sun: 'Sunday' };

function schedulerFields(doc) {
  const rest = { ...doc };
  delete rest.hours;
  delete rest.blackout_dates;
  delete rest.enabled;
  const rows = DAYS.map((d) => {
    const hours = (doc.hours || {})[d];
    const open = h('input', { type: 'checkbox', id: `hours-${d}-open`, checked: !!hours, 'data-day': d, 'data-part': 'open' });
    const start = h('input', { type: 'text', id: `hours-${d}-start`, value: hours ? hours.start : '09:00', inputmode: 'numeric', size: 5, 'data-day': d, 'data-part': 'start', 'aria-label': `${DAY_NAMES[d]} opens at` });
    const end = h('input', { type: 'text', id: `hours-${d}-end`, value: hours ? hours.end : '17:00', inputmode: 'numeric', size: 5, 'data-day': d, 'data-part': 'end', 'aria-label': `${DAY_NAMES[d]} closes at` });
    start.dataset.path = `hours.${d}`;
    // A closed day shows no hours; ticking it shows them again.
    const times = h('span', { class: 'times', id: `hours-${d}-times`, hidden: !hours }, start, h('span', {}, ' – '), end);
    const closed = h('span', { class: 'muted', hidden: !!hours }, 'closed');
    open.addEventListener('change', () => {
      times.hidden = !open.checked;
      closed.hidden = open.checked;
    });
    return h('div', { class: 'field hours', 'data-field': `hours.${d}` },
      h('label', { for: open.id }, open, ` ${DAY_NAMES[d]}`), times, closed,
      h('p', { class: 'field-error', id: `hours-${d}-error`, 'data-error-for': `hours.${d}` }));
  });
  const blackout = h('textarea', { id: 'blackout-dates', rows: 3 }, (doc.blackout_dates || []).join('\n'));
  const enabled = h('input', { type: 'checkbox', checked: !!doc.enabled, 'data-kind': 'boolean' });
  return [
    field('enabled', 'Scheduler on: business hours, holidays and calling windows are enforced (off: every lead passes this stage)', enabled),
    h('fieldset', { 'data-field': 'hours' }, h('legend', {}, 'Business hours (HH:MM, end exclusive; 24:00 = midnight)'), rows,
      h('p', { class: 'field-error', 'data-error-for': 'hours' })),
    field('blackout_dates', 'Blackout dates (YYYY-MM-DD, one per line)', blackout),
    docFields(rest),
  ];
}

function readScheduler(body, doc) {
  const rest = { ...doc };
  delete rest.hours;
  delete rest.blackout_dates;
  const out = readDoc(body, rest);
  out.enabled = body.querySelector('[data-path="enabled"]').checked;
  out.hours = {};
  for (const d of DAYS) {
    const get = (part) => body.querySelector(`[data-day="${d}"][data-part="${part}"]`);
    out.hours[d] = get('open').checked ? { start: get('start').value.trim(), end: get('end').value.trim() } : null;
  }
  out.blackout_dates = body.querySelector('#blackout-dates').value.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
  return out;
}
