// Today: the day's pipeline counts, outcomes, the deferred queue, lines in flight,
// unconfirmed calls with their resolve actions, feeds and lists, health. Refreshed every
// 10 s; a card is redrawn only when its data changed.

import { api } from './api.js';
import { ask, businessZone, card, confirmAction, count, facts, h, num, renderInto, status, table, toast, when, whenText } from './dom.js';

const STAGES = ['schedule', 'answering_machine', 'protection', 'blocklist'];
const OUTCOMES = ['human', 'voicemail', 'no_answer', 'busy', 'transferred', 'failed'];
const REFRESH_MS = 10000;

export function mount(root) {
  const ids = ['leads', 'outcomes', 'queue', 'lines', 'unconfirmed', 'sources', 'health'];
  const titles = {
    leads: 'Leads today', outcomes: 'Outcomes', queue: 'Deferred queue', lines: 'Lines in flight',
    unconfirmed: 'Calls to resolve', sources: 'Feeds and lists', health: 'Health',
  };
  const bodies = {};
  const updated = h('p', { class: 'muted', id: 'today-updated', 'aria-live': 'off' });
  const now = h('button', { type: 'button', class: 'secondary', id: 'today-refresh' }, 'Refresh now');
  root.append(h('div', { class: 'page-head' }, h('h1', {}, 'Today'), updated, now));
  const grid = h('div', { class: 'grid' });
  for (const id of ids) {
    bodies[id] = h('div', { class: 'card-body' }, h('p', { class: 'muted' }, 'loading…'));
    grid.append(h('section', { class: `card card-${id}`, id: `today-${id}`, 'aria-labelledby': `today-${id}-title` },
      h('h2', { id: `today-${id}-title` }, titles[id]), bodies[id]));
  }
  root.append(grid);

  let stopped = false;
  const refresh = async () => {
    const [stats, queue, active, pending, feeds, lists, health] = await Promise.allSettled([
      api('/api/admin/statistics'),
      api('/api/admin/scheduler/queue?limit=1'),
      api('/api/admin/calls/active'),
      api('/api/admin/calls/pending'),
      api('/api/admin/blocklist/feeds'),
      api('/api/admin/lists'),
      api('/health', { accept: [503] }),
    ]);
    if (stopped) return;
    const day = ok(stats, (s) => ({ date: s.date_range.end, ...(s.days.find((d) => d.date === s.date_range.end) || s.total) }));
    show(bodies.leads, day, leads);
    show(bodies.outcomes, day, outcomes);
    show(bodies.queue, ok(queue), queueCard);
    show(bodies.lines, ok(active), lines);
    show(bodies.unconfirmed, ok(pending), (p) => unconfirmed(p, refresh));
    show(bodies.sources, { feeds: ok(feeds), lists: ok(lists) }, sources);
    show(bodies.health, ok(health), healthCard);
    root.dataset.refreshes = String(Number(root.dataset.refreshes || 0) + 1);
    const page = document.documentElement.dataset;
    if (!page.firstDataMs) page.firstDataMs = performance.now().toFixed(0);
    updated.textContent = `Updated ${whenText(new Date().toISOString()).slice(11)} · every 10 s`;
  };
  now.addEventListener('click', refresh);
  refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => { stopped = true; clearInterval(timer); };
}

function ok(settled, map = (x) => x) {
  return settled.status === 'fulfilled' ? map(settled.value) : { failed: settled.reason.message };
}

function show(el, data, build) {
  renderInto(el, JSON.stringify(data), () =>
    data && data.failed ? h('p', { class: 'error', role: 'alert' }, data.failed) : build(data));
}

function leads(d) {
  const blocked = d.blocked || {};
  return [
    h('p', { class: 'muted' }, `Business date ${d.date} · times in ${businessZone()} (UTC on hover)`),
    facts([
      ['Received', num(d.leads_received), 'today-received'],
      ['Accepted', num(d.accepted), 'today-accepted'],
      ['Deferred', num(d.deferred), 'today-deferred'],
      ...STAGES.map((s) => [`Blocked · ${s.replace('_', ' ')}`, num(blocked[s] || 0), `today-blocked-${s}`]),
      ['Blocked in all', num(d.blocked_total), 'today-blocked-total'],
      ['Rejected', num(d.rejected), 'today-rejected'],
      ['Dispatched', num(d.dispatched), 'today-dispatched'],
      ['Dry runs (logged, not sent)', num(d.dry_run || 0), 'today-dry-run'],
    ]),
  ];
}

function outcomes(d) {
  const o = d.outcomes || {};
  const total = OUTCOMES.reduce((n, k) => n + (o[k] || 0), 0);
  const rate = total ? `${((100 * d.answered) / total).toFixed(1)} %` : '—';
  return [
    facts([...OUTCOMES.map((k) => [k.charAt(0).toUpperCase() + k.slice(1).replace('_', ' '), num(o[k] || 0), `today-outcome-${k}`]),
      ['Answered (human ≥ 20 s)', num(d.answered), 'today-answered'],
      ['Answered rate', rate, 'today-answered-rate'],
      ['Unmatched completions', num(d.unmatched || 0), 'today-unmatched']]),
    h('p', { class: 'muted' }, 'Answered rate: answered calls over the outcomes of our calls today. '
      + 'Unmatched: completions for calls we did not place, counted apart.'),
  ];
}

function queueCard(q) {
  return facts([
    ['Deferred leads', num(q.total), 'today-queue-depth'],
    ['Due now', num(q.due), 'today-queue-due'],
    ['Oldest deferral', when(q.oldest_deferred_at)],
  ]);
}

function lines(a) {
  return [
    h('p', {}, h('strong', { id: 'today-lines-count' }, num(a.count)),
      a.count === 1 ? ' number with a call in flight' : ' numbers with a call in flight'),
    table([['Phone', (l) => l.phone], ['Lead', (l) => l.lead_id], ['Since', (l) => when(l.since)],
      ['Released by', (l) => when(l.auto_release_at)]], a.lines || []),
  ];
}

function unconfirmed(p, refresh) {
  const open = (p.entries || []).filter((e) => e.state === 'unconfirmed' || e.state === 'failed');
  const act = (e, resolution) => resolve(e, resolution).then(refresh);
  return [
    facts([['Queued', num(p.queued)], ['Sending', num(p.in_flight)],
      ['Unconfirmed', num(p.unconfirmed), 'today-unconfirmed-count'], ['Failed', num(p.failed)]]),
    table([
      ['Request', (e) => h('code', {}, e.request_id)], ['Phone', (e) => e.phone], ['State', (e) => status(e.state)],
      ['Last error', (e) => e.last_error || '—'],
      ['Resolve', (e) => h('div', { class: 'row-actions' },
        e.state === 'unconfirmed'
          ? h('button', { type: 'button', onclick: () => act(e, 'sent'), 'data-action': 'sent' }, 'Sent…') : null,
        h('button', { type: 'button', onclick: () => act(e, 'resend'), 'data-action': 'resend' }, 'Resend'),
        h('button', { type: 'button', class: 'danger', onclick: () => act(e, 'cancel'), 'data-action': 'cancel' }, 'Cancel'))],
    ], open, { id: 'unconfirmed-table' }),
  ];
}

async function resolve(entry, resolution) {
  const body = { resolution };
  if (resolution === 'sent') {
    const input = h('input', { id: 'resolve-call-id', name: 'call_id', autocomplete: 'off' });
    const answer = await ask(`Bland has ${entry.request_id}`,
      h('div', {}, h('p', {}, 'Give the call id Bland gave this call, so its outcome is matched.'),
        h('label', { for: 'resolve-call-id' }, 'Bland call id'), input),
      [['Back', '', 'secondary'], ['Mark sent', 'ok', '']]);
    if (answer !== 'ok') return;
    if (input.value.trim()) body.call_id = input.value.trim();
  } else if (resolution === 'cancel') {
    const sure = await confirmAction(`Cancel ${entry.request_id}?`,
      'The line is freed and the call is not sent again. It still counts: Bland may have it.', 'Cancel call');
    if (!sure) return;
  }
  try {
    await api(`/api/admin/calls/${encodeURIComponent(entry.request_id)}/resolve`, { method: 'POST', json: body });
    toast(`${entry.request_id}: resolved as ${resolution}`, 'ok');
  } catch (err) {
    toast(`${entry.request_id}: ${err.message}`, 'error');
  }
}

function sources({ feeds, lists }) {
  const out = [];
  if (lists.failed) out.push(h('p', { class: 'error' }, lists.failed));
  else {
    out.push(h('h3', {}, 'Do-not-call lists'), table([
      ['List', (l) => l.name], ['Kind', (l) => l.kind], ['Numbers', (l) => num(l.count)],
      ['Version', (l) => (l.snapshot ? l.snapshot.version : '—')],
      ['Age', (l) => (l.age_days == null ? '—' : `${l.age_days} d${l.max_age_days ? ` of ${l.max_age_days}` : ''}`)],
      ['Status', (l) => status(l.status)],
    ], lists.lists || [], { id: 'lists-table' }));
  }
  if (feeds.failed) out.push(h('p', { class: 'error' }, feeds.failed));
  else {
    out.push(h('h3', {}, 'Feeds'), table([
      ['Feed', (f) => f.name], ['Kind', (f) => f.kind], ['Entries', (f) => num(f.entries)],
      ['Last success', (f) => when(f.last_success)], ['Source', (f) => f.source],
      ['Status', (f) => status(f.stale ? 'stale' : f.last_error ? 'failing' : 'ok')],
    ], feeds.feeds || [], { id: 'feeds-table' }));
  }
  return out;
}

// What a component says beyond its status: an error or warning, and for dispatch a
// pause after a 429 and what is left of the calling budgets.
function healthNote(c) {
  if (c.error || c.warning) return c.error || c.warning;
  const parts = [];
  if (c.paused_until) parts.push(['sending paused until ', when(c.paused_until), ` (${c.paused_why || '429'})`]);
  const cap = c.capacity;
  if (cap) {
    for (const [k, label] of [['hour', 'this hour'], ['day', 'today']]) {
      if (cap[k] && cap[k].limit != null) parts.push(`${num(cap[k].used)} of ${num(cap[k].limit)} calls ${label}`);
    }
    if (cap.held_until) parts.push(['calls held until ', when(cap.held_until)]);
  }
  return parts.flatMap((p, i) => (i ? [' · ', p] : [p]));
}

function healthCard(hl) {
  const comps = Object.entries(hl.components || {});
  return [
    h('p', {}, 'Overall ', h('span', { id: 'health-status' }, status(hl.status)),
      ` · ${hl.mode} · version ${hl.version} · up ${Math.round((hl.uptime_s || 0) / 60)} min`),
    table([['Component', ([k]) => k], ['Status', ([, c]) => status(c.status)],
      ['Note', ([k, c]) => h('span', { id: `health-note-${k}` }, healthNote(c))]], comps),
  ];
}
