// Flags: search, filter and page the blocklist; add, edit, delete; bulk CSV upload with
// progress and the invalid-lines report; export.

import { api, query } from './api.js';
import { confirmAction, download, h, num, table, toast, when } from './dom.js';
import { addForm, bulkForm, editFlag } from './flag_forms.js';

const PAGE = 50;

export function mount(root) {
  const state = { offset: 0 };
  const search = h('input', { id: 'flags-search', type: 'search', name: 'search', placeholder: 'value, reason or who added it' });
  const fieldFilter = h('input', { id: 'flags-field', name: 'field', list: 'flag-fields', placeholder: 'any' });
  const active = h('select', { id: 'flags-active', name: 'active' },
    h('option', { value: '' }, 'all'), h('option', { value: 'true' }, 'active'), h('option', { value: 'false' }, 'expired'));
  const count = h('p', { id: 'flags-count', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'secondary', id: 'flags-prev' }, '← Previous');
  const next = h('button', { type: 'button', class: 'secondary', id: 'flags-next' }, 'Next →');
  const list = h('div', { id: 'flags-list' });
  const filters = h('form', { class: 'toolbar', id: 'flags-filter', role: 'search' },
    h('label', { for: 'flags-search' }, 'Search'), search,
    h('label', { for: 'flags-field' }, 'Field'), fieldFilter,
    h('label', { for: 'flags-active' }, 'Status'), active,
    h('button', { type: 'submit' }, 'Filter'));
  const exportCsv = h('button', { type: 'button', class: 'secondary', id: 'flags-export-csv' }, 'Export CSV');
  const exportJson = h('button', { type: 'button', class: 'secondary', id: 'flags-export-json' }, 'Export JSON');

  const load = async () => {
    try {
      const r = await api(`/api/admin/blocklist${query({
        search: search.value.trim(), field: fieldFilter.value.trim(), active: active.value,
        limit: PAGE, offset: state.offset, order: 'added_at', direction: 'desc',
      })}`);
      const last = Math.min(state.offset + PAGE, r.flags_count);
      count.textContent = r.flags_count
        ? `${num(state.offset + 1)}–${num(last)} of ${num(r.flags_count)} flags · blocklist ${r.enabled ? 'on' : 'OFF'}`
        : `No flags match · blocklist ${r.enabled ? 'on' : 'OFF'}`;
      prev.disabled = state.offset === 0;
      next.disabled = last >= r.flags_count;
      list.replaceChildren(flagTable(r.flags, load));
    } catch (err) {
      list.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message));
    }
  };
  filters.addEventListener('submit', (e) => { e.preventDefault(); state.offset = 0; load(); });
  prev.addEventListener('click', () => { state.offset = Math.max(0, state.offset - PAGE); load(); });
  next.addEventListener('click', () => { state.offset += PAGE; load(); });
  const exporter = (format) => async () => {
    try {
      download(await api(`/api/admin/blocklist/export?format=${format}`, { blob: true }), `blocklist.${format}`);
    } catch (err) { toast(err.message, 'error'); }
  };
  exportCsv.addEventListener('click', exporter('csv'));
  exportJson.addEventListener('click', exporter('json'));

  root.append(
    h('h1', {}, 'Flags'),
    h('datalist', { id: 'flag-fields' }, ['phone', 'email', 'lead_id', 'first_name', 'last_name', 'state', 'zip']
      .map((f) => h('option', { value: f }))),
    h('div', { class: 'grid two' },
      addForm(() => { state.offset = 0; load(); }),
      bulkForm(load)),
    h('section', { class: 'card', 'aria-labelledby': 'flags-list-title' },
      h('h2', { id: 'flags-list-title' }, 'Flags'), filters,
      h('div', { class: 'toolbar' }, count, prev, next, exportCsv, exportJson), list));
  load();
  return undefined;
}

function flagTable(flags, reload) {
  return table([
    ['Field', (f) => f.field], ['Value', (f) => h('span', { class: 'flag-value' }, f.value)],
    ['Reason', (f) => f.reason || ''], ['Added by', (f) => f.added_by || ''],
    ['Expires', (f) => when(f.expires_at)], ['Added', (f) => when(f.added_at)],
    ['', (f) => h('div', { class: 'row-actions' },
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit ${f.field} ${f.value}`, onclick: () => editFlag(f, reload) }, 'Edit'),
      h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${f.field} ${f.value}`, onclick: () => remove(f, reload) }, 'Delete'))],
  ], flags, { id: 'flags-table' });
}

async function remove(flag, reload) {
  const sure = await confirmAction('Delete this flag?', `${flag.field} ${flag.value}${flag.reason ? ` (${flag.reason})` : ''}`, 'Delete');
  if (!sure) return;
  try {
    await api(`/api/admin/blocklist/${encodeURIComponent(flag.id)}`, { method: 'DELETE' });
    toast(`Deleted ${flag.field} ${flag.value}`, 'ok');
  } catch (err) { toast(err.message, 'error'); }
  reload();
}
