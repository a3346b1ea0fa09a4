// Statistics: a date range (default the last 7 days), per-day charts of decisions by stage
// and of outcomes, the table and its CSV, and the seed's blocklist statistics (top flags,
// fields and values). The time from the data's arrival to the finished page is kept in
// the page's data-render-ms (the README's performance figure reads it).

import { addDays, api, query, serverToday } from './api.js';
import { dayChart } from './charts.js';
import { download, h, num, table, toast } from './dom.js';

const STAGES = ['schedule', 'answering_machine', 'protection', 'blocklist'];
const OUTCOMES = ['human', 'voicemail', 'no_answer', 'busy', 'transferred', 'failed'];
const STAGE_LABELS = { schedule: 'Schedule', answering_machine: 'Machine', protection: 'Protection', blocklist: 'Blocklist' };
const OUTCOME_LABELS = { human: 'Human', voicemail: 'Voicemail', no_answer: 'No answer', busy: 'Busy', transferred: 'Transfer', failed: 'Failed' };
// [group, label, value]: the blocked stages and the outcomes under one header each, so
// the table fits a 1280 px screen without scrolling.
const COLUMNS = [
  [null, 'Received', (d) => d.leads_received], [null, 'Accepted', (d) => d.accepted], [null, 'Deferred', (d) => d.deferred],
  ...STAGES.map((s) => ['Blocked by', STAGE_LABELS[s], (d) => (d.blocked || {})[s] || 0]),
  [null, 'Rejected', (d) => d.rejected], [null, 'Dispatched', (d) => d.dispatched], [null, 'Dry runs', (d) => d.dry_run || 0],
  ...OUTCOMES.map((o) => ['Outcomes', OUTCOME_LABELS[o], (d) => (d.outcomes || {})[o] || 0]),
  [null, 'Answered', (d) => d.answered],
];

function statsTable(rows) {
  const top = [h('th', { scope: 'col', rowspan: 2 }, 'Day')];
  COLUMNS.forEach(([group, label], i) => {
    if (!group) top.push(h('th', { scope: 'col', rowspan: 2 }, label));
    else if (i === 0 || COLUMNS[i - 1][0] !== group) {
      const span = COLUMNS.filter(([g]) => g === group).length;
      top.push(h('th', { scope: 'colgroup', colspan: span, class: 'group' }, group));
    }
  });
  const second = COLUMNS.filter(([g]) => g).map(([, l]) => h('th', { scope: 'col' }, l));
  return h('div', { class: 'table-wrap' },
    h('table', { id: 'stats-table', class: 'numeric stats' },
      h('thead', {}, h('tr', {}, top), h('tr', {}, second)),
      h('tbody', {}, rows.map((d) => h('tr', {}, h('td', { class: 'day' }, d.date),
        COLUMNS.map(([, , f]) => h('td', {}, num(f(d)))))))));
}

export function mount(root) {
  const start = h('input', { id: 'stats-start', name: 'start', type: 'date', required: true });
  const end = h('input', { id: 'stats-end', name: 'end', type: 'date', required: true });
  const error = h('p', { class: 'error', role: 'alert', id: 'stats-error' });
  const csv = h('button', { type: 'button', class: 'secondary', id: 'stats-csv' }, 'Download CSV');
  const form = h('form', { class: 'toolbar', id: 'stats-form' },
    h('label', { for: 'stats-start' }, 'From'), start,
    h('label', { for: 'stats-end' }, 'To'), end,
    h('button', { type: 'submit' }, 'Show'), csv);
  const out = h('div', { id: 'stats-out' });
  const timing = h('p', { class: 'muted', id: 'stats-render' });
  root.append(h('h1', {}, 'Statistics'), form, error, out, timing);
  let cleanups = [];
  const clear = () => { cleanups.forEach((f) => f()); cleanups = []; };

  const load = async () => {
    error.textContent = '';
    timing.textContent = '';
    const range = query({ start: start.value, end: end.value });
    try {
      const asked = performance.now();
      const [pipeline, blocklist] = await Promise.all([
        api(`/api/admin/statistics${range}`), api(`/api/admin/blocklist/statistics${range}`)]);
      const t0 = performance.now();
      clear();
      cleanups = render(out, pipeline, blocklist);
      // Layout included: the figure is taken once the browser has laid the page out.
      void out.offsetHeight;
      const ms = performance.now() - t0;
      root.dataset.renderMs = ms.toFixed(1);
      timing.textContent = `${pipeline.days.length} days: data in ${(t0 - asked).toFixed(0)} ms, rendered in ${ms.toFixed(1)} ms`;
    } catch (err) {
      error.textContent = err.message;
    }
  };
  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  csv.addEventListener('click', async () => {
    try {
      const blob = await api(`/api/admin/statistics${query({ start: start.value, end: end.value, format: 'csv' })}`, { blob: true });
      download(blob, `statistics-${start.value}-${end.value}.csv`);
    } catch (err) { toast(err.message, 'error'); }
  });
  serverToday().then((today) => {
    end.value = today;
    start.value = addDays(today, -6);
    load();
  }).catch((err) => { error.textContent = err.message; });
  return clear;
}

function render(out, p, b) {
  const dates = p.days.map((d) => d.date);
  const decisions = h('div', { class: 'chart', id: 'chart-decisions' });
  const outcomes = h('div', { class: 'chart', id: 'chart-outcomes' });
  out.replaceChildren(
    h('p', { class: 'muted' }, `${p.date_range.start} – ${p.date_range.end} (${p.timezone}), ${dates.length} days`),
    h('div', { class: 'grid two' }, decisions, outcomes),
    h('h2', {}, 'Per day'),
    statsTable([...p.days, { date: 'Total', ...p.total }]),
    blocklistSection(b));
  return [
    dayChart(decisions, 'Decisions', dates, [
      ['accepted', p.days.map((d) => d.accepted)], ['deferred', p.days.map((d) => d.deferred)],
      ...STAGES.map((s) => [`blocked ${s}`, p.days.map((d) => (d.blocked || {})[s] || 0)]),
      ['rejected', p.days.map((d) => d.rejected)]]),
    dayChart(outcomes, 'Outcomes', dates, [
      ...OUTCOMES.map((o) => [o, p.days.map((d) => (d.outcomes || {})[o] || 0)]),
      ['answered', p.days.map((d) => d.answered)]]),
  ];
}

function top(obj, n) {
  return Object.entries(obj || {}).sort((a, b) => b[1] - a[1]).slice(0, n);
}

function blocklistSection(b) {
  const flags = Object.values(b.by_flag || {}).sort((x, y) => y.count - x.count).slice(0, 10);
  const fields = Object.entries(b.by_field || {}).sort((x, y) => y[1].count - x[1].count);
  const lists = Object.entries(b.by_list || {}).sort((x, y) => y[1].count - x[1].count);
  return h('section', { id: 'blocklist-stats' },
    h('h2', {}, 'Blocklist'),
    h('p', {}, `${num(b.blocked_attempts)} of ${num(b.total_attempts)} attempts blocked`),
    h('h3', {}, 'Top flags'),
    table([['Field', (f) => f.flag.field], ['Value', (f) => f.flag.value],
      ['Reason', (f) => f.flag.reason || ''], ['Blocks', (f) => num(f.count)],
      ['', (f) => (f.removed ? 'removed since' : '')]], flags, { id: 'top-flags' }),
    h('h3', {}, 'By field'),
    table([['Field', ([k]) => k], ['Blocks', ([, v]) => num(v.count)],
      ['Top values', ([, v]) => top(v.values, 5).map(([val, n]) => `${val} (${n})`).join(', ')]], fields),
    h('h3', {}, 'By do-not-call list'),
    table([['List', ([k]) => k], ['Blocks', ([, v]) => num(v.count)]], lists));
}
