// The flag forms: add one, edit one (reason and expiry) and the bulk upload.

import { api, upload } from './api.js';
import { h, num, table, toast } from './dom.js';
import { clearErrors, field, showError } from './forms.js';

/// An RFC 3339 instant from a date input (end of that day, UTC), or null when empty.
function expiry(value) {
  return value ? `${value}T23:59:59Z` : null;
}

export function addForm(done) {
  const f = h('input', { id: 'add-field', name: 'field', list: 'flag-fields', value: 'phone', required: true });
  const value = h('input', { id: 'add-value', name: 'value', required: true, autocomplete: 'off' });
  const reason = h('input', { id: 'add-reason', name: 'reason' });
  const expires = h('input', { id: 'add-expires', name: 'expires_at', type: 'date' });
  const form = h('form', { class: 'card', id: 'add-flag', 'aria-labelledby': 'add-flag-title', novalidate: true },
    h('h2', { id: 'add-flag-title' }, 'Add a flag'),
    field('field', 'Field', f), field('value', 'Value', value, 'phone numbers in any spelling'),
    field('reason', 'Reason', reason), field('expires_at', 'Expires (optional)', expires),
    h('p', { class: 'form-error', role: 'alert' }),
    h('button', { type: 'submit' }, 'Add flag'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const body = { field: f.value.trim(), value: value.value, reason: reason.value.trim() || undefined,
      added_by: 'console', expires_at: expiry(expires.value) || undefined };
    try {
      const r = await api('/api/admin/blocklist', { method: 'POST', json: body });
      toast(r.alreadyExists ? `Already flagged: ${r.flag.field} ${r.flag.value}` : `Added ${r.flag.field} ${r.flag.value}`, 'ok');
      value.value = '';
      reason.value = '';
      done();
    } catch (err) {
      showError(form, err);
    }
  });
  return form;
}

export function editFlag(flag, reload) {
  const dlg = document.getElementById('dialog');
  const reason = h('input', { id: 'edit-reason', name: 'reason', value: flag.reason || '' });
  const expires = h('input', { id: 'edit-expires', name: 'expires_at', type: 'date', value: (flag.expires_at || '').slice(0, 10) });
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => dlg.close() }, 'Cancel');
  const form = h('form', { id: 'edit-flag', novalidate: true },
    h('h2', {}, `Edit ${flag.field} ${flag.value}`),
    field('reason', 'Reason', reason), field('expires_at', 'Expires (empty: never)', expires),
    h('p', { class: 'form-error', role: 'alert' }),
    h('div', { class: 'actions' }, cancel, h('button', { type: 'submit' }, 'Save')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    try {
      await api(`/api/admin/blocklist/${encodeURIComponent(flag.id)}`, {
        method: 'PUT', json: { reason: reason.value.trim() || null, expires_at: expiry(expires.value) },
      });
      dlg.close();
      toast(`Saved ${flag.field} ${flag.value}`, 'ok');
      reload();
    } catch (err) {
      showError(form, err);
    }
  });
  dlg.replaceChildren(form);
  dlg.showModal();
  reason.focus();
}

export function bulkForm(done) {
  const file = h('input', { id: 'bulk-file', name: 'file', type: 'file', accept: '.csv,.txt,.json,text/csv,application/json', required: true });
  const progress = h('progress', { id: 'bulk-progress', max: 100, value: 0, hidden: true });
  const report = h('div', { id: 'bulk-report', 'aria-live': 'polite' });
  const form = h('form', { class: 'card', id: 'bulk-upload', 'aria-labelledby': 'bulk-title' },
    h('h2', { id: 'bulk-title' }, 'Bulk upload'),
    h('p', { class: 'hint' }, 'CSV with a header (field,value,reason[,added_by,expires_at]), bare numbers one per line, or an exported JSON document.'),
    field('file', 'File', file), progress,
    h('p', { class: 'form-error', role: 'alert' }),
    h('button', { type: 'submit' }, 'Upload'), report);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const chosen = file.files[0];
    if (!chosen) return;
    const type = /\.json$/i.test(chosen.name) || chosen.type === 'application/json' ? 'application/json' : 'text/csv';
    progress.hidden = false;
    progress.value = 0;
    report.replaceChildren(h('p', { class: 'muted' }, `Uploading ${chosen.name}…`));
    try {
      const r = await upload('/api/admin/blocklist/bulk', chosen, type, (sent, total) => {
        progress.value = Math.round((100 * sent) / total);
      });
      progress.value = 100;
      report.replaceChildren(
        h('p', { id: 'bulk-summary' }, `${num(r.added)} added, ${num(r.existing)} already there, ${num(r.invalid.length)} invalid`),
        r.invalid.length ? table([['Line', (x) => x.line], ['Value', (x) => x.value], ['Problem', (x) => x.error]],
          r.invalid.slice(0, 500), { id: 'bulk-invalid' }) : null);
      done();
    } catch (err) {
      report.replaceChildren();
      showError(form, err);
    }
  });
  return form;
}
