// DOM helpers. Every value from the API goes in as text (textContent), never as markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/// A table with a header row; `columns` are `[label, (row) => cell]`. With no rows it is
/// one line saying so (an empty table's headers would only scroll and be cut on a phone).
export function table(columns, rows, attrs = {}) {
  if (!rows.length) return h('p', { ...attrs, class: 'muted empty-table' }, 'None.');
  return h('div', { class: 'table-wrap' },
    h('table', attrs,
      h('thead', {}, h('tr', {}, columns.map(([label]) => h('th', { scope: 'col' }, label)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, columns.map(([, cell]) => h('td', {}, cell(r))))))));
}

/// A labelled key/value list.
export function facts(pairs, attrs = {}) {
  return h('dl', { class: 'facts', ...attrs },
    pairs.map(([k, v, id]) => [h('dt', {}, k), h('dd', id ? { id } : {}, v ?? '—')]));
}

/// Replaces `el`'s children only when `key` differs from the last render: a refresh that
/// brings the same data changes nothing on screen (no flicker, focus kept).
export function renderInto(el, key, build) {
  if (el.dataset.key === key) return;
  el.replaceChildren(...[build()].flat());
  el.dataset.key = key;
}

export function card(title, id, ...body) {
  return h('section', { class: 'card', id, 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title), h('div', { class: 'card-body' }, ...body));
}

export function status(state) {
  return h('span', { class: `badge badge-${state}` }, state);
}

// Instants are shown in the business timezone (the server's TIMEZONE, the zone of every
// business date on these pages), with the UTC instant on hover.
let zone = 'UTC';
export function setZone(tz) {
  try {
    new Intl.DateTimeFormat('en-CA', { timeZone: tz });
    zone = tz;
  } catch {
    zone = 'UTC';
  }
}
export function businessZone() {
  return zone;
}

function utc(d) {
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// "2026-11-23 10:00:00 EST" in the business timezone.
export function whenText(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit',
    minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short',
  }).formatToParts(d);
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`;
}

export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return h('time', { datetime: d.toISOString(), title: `${utc(d)} (UTC)` }, whenText(iso));
}

let toastTimer;
export function toast(message, kind = 'info') {
  const el = document.getElementById('toast');
  el.className = `toast-${kind}`;
  el.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.textContent = ''; el.className = ''; }, 8000);
}

/// A modal dialog built from `body` (a form); resolves with the button value, or null.
export function ask(title, body, buttons) {
  const dlg = document.getElementById('dialog');
  const form = h('form', { method: 'dialog' },
    h('h2', {}, title), body,
    h('div', { class: 'actions' }, buttons.map(([label, value, cls]) =>
      h('button', { value, class: cls, type: 'submit' }, label))));
  dlg.replaceChildren(form);
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue || null), { once: true });
    dlg.returnValue = '';
    dlg.showModal();
    const first = form.querySelector('input, textarea, select, button');
    if (first) first.focus();
  });
}

export function confirmAction(title, text, label) {
  return ask(title, h('p', {}, text), [['Cancel', '', 'secondary'], [label, 'yes', 'danger']])
    .then((v) => v === 'yes');
}

export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function num(n) {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '—';
}

// "1 decision", "2 decisions" (`many` when the plural is not `one` + s).
export function count(n, one, many = `${one}s`) {
  return `${num(n)} ${n === 1 ? one : many}`;
}
