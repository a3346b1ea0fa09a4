// Lead lookup — "why was this lead not called?": by phone (any spelling) or request id,
// the decisions with their traces, the dispatches and the outcomes; and "check now",
// the side-effect-free run of the pipeline that shows which rule would decide, and until when.

import { api, query } from './api.js';
import { count, h, status, table, when } from './dom.js';

const isRequestId = (v) => /^(req_|dq_)/.test(v) || (/[a-z]/i.test(v) && !/^[+\d\s().-]+$/.test(v) && !v.includes('@'));

export function mount(root) {
  const input = h('input', { id: 'lookup-q', name: 'q', required: true, autocomplete: 'off', placeholder: '(305) 555-0142 or req_…' });
  const start = h('input', { id: 'lookup-start', name: 'start', type: 'date' });
  const end = h('input', { id: 'lookup-end', name: 'end', type: 'date' });
  const error = h('p', { class: 'error', role: 'alert', id: 'lookup-error' });
  const out = h('div', { id: 'lookup-out', 'aria-live': 'polite' });
  const check = h('div', { id: 'check-out', 'aria-live': 'polite' });
  const form = h('form', { class: 'toolbar', id: 'lookup-form', role: 'search' },
    h('label', { for: 'lookup-q' }, 'Phone or request id'), input,
    h('label', { for: 'lookup-start' }, 'From'), start, h('label', { for: 'lookup-end' }, 'To'), end,
    h('button', { type: 'submit' }, 'Look up'));
  root.append(h('h1', {}, 'Lead lookup'),
    h('p', { class: 'muted' }, 'Every decision, dispatch, outcome and call placed by another dialer for a number (default: the last 7 business days) or one request.'),
    form, error, check, out);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    check.replaceChildren();
    const q = input.value.trim();
    if (!q) return;
    try {
      if (isRequestId(q)) {
        const r = await api(`/api/admin/calls/${encodeURIComponent(q)}`);
        out.replaceChildren(oneRequest(r, check));
      } else {
        const r = await api(`/api/admin/leads/lookup${query({ phone: q, start: start.value, end: end.value })}`);
        out.replaceChildren(byPhone(r, check));
      }
    } catch (err) {
      out.replaceChildren();
      error.textContent = err.message;
    }
  });
  input.focus();
  return undefined;
}

// The decision's own fields (journaled, bounded) when it has them, so a rule on `state`
// or `status` answers as it did for the real lead; else the lead id and number alone.
function checkButton(phone, leadId, slot, fields) {
  return h('button', { type: 'button', id: 'check-now', onclick: () => checkNow(phone, leadId, slot, fields) }, 'Check now');
}

async function checkNow(phone, leadId, slot, fields) {
  const lead = fields && typeof fields === 'object'
    ? { ...fields, phone_number: phone, lead_id: leadId || fields.lead_id || 'console-check' }
    : { lead_id: leadId || 'console-check', phone_number: phone };
  try {
    const r = await api('/api/admin/check', { method: 'POST', json: { lead } });
    slot.replaceChildren(h('section', { class: 'card', id: 'check-result', 'aria-labelledby': 'check-title' },
      h('h2', { id: 'check-title' }, 'If this lead came in now'),
      h('p', {}, status(r.decision), r.stage ? ` by ${r.stage}` : '', r.reason ? ` — ${r.reason}` : '',
        r.release_at ? [' · until ', when(r.release_at)] : ''),
      h('p', { class: 'muted' }, 'Checked at ', when(r.at), ` for lead ${leadId || 'console-check'}; nothing was journaled, sent or counted.`),
      traceTable(r.trace)));
  } catch (err) {
    slot.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message));
  }
}

function traceTable(trace) {
  return table([['Check', (t) => t.check], ['Verdict', (t) => status(t.verdict)], ['Reason', (t) => t.reason || ''],
    ['µs', (t) => (typeof t.micros === 'number' ? t.micros.toFixed(0) : '')]], trace || [], { class: 'trace' });
}

function decisionBlock(d) {
  return h('article', { class: `decision decision-${d.decision}` },
    h('h3', {}, status(d.decision), ' ', when(d.timestamp), d.release ? ' (release from the queue)' : ''),
    h('p', {}, d.stage ? `${d.stage}: ` : '', d.reason || (d.decision === 'accepted' ? 'every check allowed the call' : ''),
      d.release_at ? [' · until ', when(d.release_at)] : ''),
    h('p', { class: 'muted' }, 'Lead ', d.lead_id || '—', ' · ', h('code', {}, d.request_id || '')),
    traceTable(d.trace));
}

function eventRows(events) {
  return table([
    ['When', (e) => when(e.timestamp)], ['Event', (e) => e.event],
    ['Request', (e) => h('code', {}, e.request_id || '')],
    ['Result', (e) => status(e.status || e.outcome || e.decision || e.why || e.action || '—')],
    ['Detail', detail],
  ], events);
}

function detail(e) {
  if (e.event === 'external') return ['placed by ', e.source, ' (', h('code', {}, e.id), ') at ', when(e.at)];
  if (e.event === 'reply') return [`text: “${e.body}”`, e.word ? ` · ${e.asked} (${e.word})` : ''];
  if (e.event === 'callback') return [`callback asked for (${e.source}) · at `, when(e.release_at)];
  if (e.event && e.event.startsWith('sms_')) {
    return [`text ${e.step} of ${e.of}`, e.due_at ? [' · due ', when(e.due_at)] : '', e.reason ? ` · ${e.reason}` : '', e.from ? ` · from ${e.from}` : ''];
  }
  return [e.call_id || e.error || e.reason || '',
    e.caller_id ? ` · from ${e.caller_id.number} (${e.caller_id.tier}, weight ${e.caller_id.weight})` : ''];
}

function byPhone(r, slot) {
  const decisions = r.events.filter((e) => e.event === 'decision');
  const other = r.events.filter((e) => e.event !== 'decision');
  const last = decisions[decisions.length - 1];
  return h('div', {},
    h('p', {}, `${r.phone || ''} ${r.lead_id ? `lead ${r.lead_id}` : ''} · ${r.date_range.start} – ${r.date_range.end}: `,
      `${count(r.decisions, 'decision')}, ${count(r.dispatches, 'dispatch', 'dispatches')}, ${count(r.outcomes, 'outcome')}${r.external ? `, ${count(r.external, 'call placed elsewhere', 'calls placed elsewhere')}` : ''}${r.replies ? `, ${count(r.replies, 'text')}` : ''}${r.callbacks ? `, ${count(r.callbacks, 'callback')}` : ''}${r.truncated ? ' (truncated)' : ''}`),
    r.phone ? checkButton(r.phone, last && last.lead_id, slot, last && last.fields) : null,
    h('h2', {}, 'Decisions'),
    decisions.length ? decisions.map(decisionBlock) : h('p', { class: 'muted' }, 'No decisions in this range.'),
    h('h2', {}, 'Dispatches, outcomes, calls placed elsewhere, texts and callbacks'), eventRows(other));
}

function oneRequest(r, slot) {
  const d = r.decision;
  return h('div', {},
    h('p', {}, h('code', {}, r.request_id), r.call_id ? ` · Bland call ${r.call_id}` : '',
      r.outbox ? ' · in the outbox: ' : '', r.outbox ? status(r.outbox.state) : ''),
    d && d.phone ? checkButton(d.phone, d.lead_id, slot, d.fields) : null,
    h('h2', {}, 'Decision'), d ? decisionBlock(d) : h('p', { class: 'muted' }, 'No decision journaled in the last 3 days.'),
    h('h2', {}, 'Dispatches'), eventRows(r.dispatches || []),
    h('h2', {}, 'Outcome'), r.outcome ? eventRows([r.outcome]) : h('p', { class: 'muted' }, 'No outcome yet.'));
}
