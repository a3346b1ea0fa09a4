// Caller IDs — the pool's numbers: state (usable, rested, cooling down, at a cap), calls
// this hour and today, pickup rate, streak, tier hits; rest a number with a reason, bring
// it back, clear every cooldown. Refreshes every 10 s.

import { api } from './api.js';
import { ask, card, h, num, renderInto, status, toast, when } from './dom.js';

const REFRESH_MS = 10000;

export function mount(root) {
  const body = h('div', { id: 'caller-ids-out', 'aria-live': 'polite' });
  const error = h('p', { class: 'error', role: 'alert', id: 'caller-ids-error' });
  root.append(h('h1', {}, 'Caller IDs'),
    h('p', { class: 'muted' }, 'The numbers calls are placed from, chosen per call by tier (the number that last reached the lead, its area code, state, time zone, then any) and pickup rate.'),
    error, body);
  const load = async () => {
    try {
      const r = await api('/api/admin/caller-ids');
      error.textContent = '';
      renderInto(body, JSON.stringify(r), () => render(r, load));
    } catch (err) {
      error.textContent = err.message;
    }
  };
  load();
  const timer = setInterval(load, REFRESH_MS);
  return () => clearInterval(timer);
}

function render(r, reload) {
  if (!r.enabled) {
    return h('p', { id: 'caller-ids-off', class: 'muted' }, 'No caller-ID pool is configured: calls use BLAND_FROM. Add [[caller_ids]] to the config file, or numbers to the pool document.');
  }
  const out = [];
  if (r.waiting) {
    out.push(h('p', { class: 'error', id: 'caller-ids-waiting', role: 'status' },
      `Calls are waiting: ${r.waiting.why}`, r.waiting.until ? [' until ', when(r.waiting.until)] : ''));
  }
  const rate = (v) => (v === null || v === undefined ? '—' : `${Math.round(v * 100)} %`);
  const rows = r.numbers.map((n) => h('tr', { dataset: { number: n.number } },
    h('th', { scope: 'row' }, n.number),
    h('td', {}, status(n.state), n.until ? [' until ', when(n.until)] : '',
      n.rested ? h('div', { class: 'muted' }, `${n.rested.by}: ${n.rested.reason}`) : ''),
    h('td', {}, `${num(n.calls_this_hour)}${n.hourly_cap === null ? '' : ` / ${num(n.hourly_cap)}`}`),
    h('td', {}, `${num(n.calls_today)}${n.daily_cap === null ? '' : ` / ${num(n.daily_cap)}`}`),
    h('td', {}, rate(n.pickup_rate), h('div', { class: 'muted' }, `${num(n.pickups)} of ${num(n.outcomes)}`)),
    h('td', {}, num(n.streak)),
    h('td', {}, Object.entries(n.tier_hits).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ') || '—'),
    h('td', {}, n.rested
      ? h('button', { type: 'button', class: 'secondary', onclick: () => unrest(n.number, reload) }, 'Bring back')
      : h('button', { type: 'button', class: 'danger', onclick: () => rest(n.number, reload) }, 'Rest'))));
  out.push(card(`Numbers (pool pickup rate ${rate(r.pool_pickup_rate)})`, 'caller-ids',
    h('div', { class: 'table-wrap' }, h('table', { id: 'caller-ids-table' },
      h('thead', {}, h('tr', {}, ['Number', 'State', 'This hour', 'Today', 'Pickups', 'Streak', 'Tier hits', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows))),
    h('button', { type: 'button', id: 'clear-cooldowns', class: 'secondary', onclick: () => clear(reload) }, 'Clear cooldowns')));
  return out;
}

async function rest(number, reload) {
  const reason = h('input', { id: 'rest-reason', name: 'reason', required: true, maxlength: 500 });
  const until = h('input', { id: 'rest-until', name: 'until', type: 'datetime-local' });
  const choice = await ask(`Rest ${number}`, h('div', {},
    h('label', { for: 'rest-reason' }, 'Reason'), reason,
    h('label', { for: 'rest-until' }, 'Until (empty: until brought back)'), until),
  [['Cancel', '', 'secondary'], ['Rest', 'yes', 'danger']]);
  if (choice !== 'yes') return;
  const json = { reason: reason.value.trim() };
  if (until.value) json.until = new Date(until.value).toISOString();
  await act(`/api/admin/caller-ids/${encodeURIComponent(number)}/rest`, json, `${number} rested`, reload);
}

function unrest(number, reload) {
  return act(`/api/admin/caller-ids/${encodeURIComponent(number)}/unrest`, {}, `${number} is back in use`, reload);
}

function clear(reload) {
  return act('/api/admin/caller-ids/cooldowns/clear', {}, 'Cooldowns cleared', reload);
}

async function act(path, json, done, reload) {
  try {
    await api(path, { method: 'POST', json });
    toast(done, 'ok');
    await reload();
  } catch (err) {
    toast(err.message, 'error');
  }
}
