// The shell: sign-in, navigation between pages (#/today, #/statistics, #/flags, #/lookup,
// #/callerids, #/settings), and sign-out. Each page module exports mount(root) → unmount().

import { api, session, whenUnauthorized } from './api.js';
import { h, setZone } from './dom.js';
import * as today from './today.js';
import * as statistics from './statistics.js';
import * as flags from './flags.js';
import * as lookup from './lookup.js';
import * as settings from './settings.js';
import * as callerids from './caller_ids.js';

const pages = { today, statistics, flags, lookup, callerids, settings };
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signOut = document.getElementById('sign-out');
let unmount = null;

function leave() {
  if (unmount) unmount();
  unmount = null;
}

function showSignIn(message) {
  leave();
  nav.hidden = true;
  signOut.hidden = true;
  const error = h('p', { id: 'sign-in-error', class: 'error', role: 'alert' }, message || '');
  const input = h('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', required: true });
  const form = h('form', { id: 'sign-in', class: 'card narrow' },
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Enter an admin API key. It is kept in this tab only and sent as X-API-Key.'),
    h('label', { for: 'api-key' }, 'Admin API key'), input, error,
    h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const key = input.value.trim();
    try {
      await api('/api/admin/calls/active', { key });
      session.set(key);
      route();
    } catch (err) {
      error.textContent = err.message;
      input.select();
    }
  });
  main.replaceChildren(form);
  input.focus();
  probeKeyConfigured(error);
}

/// With no admin key configured the API answers 503 before looking at any key: say so.
async function probeKeyConfigured(error) {
  try {
    await api('/api/admin/calls/active', { key: '', accept: [401] });
  } catch (err) {
    if (err.status === 503) error.textContent = err.message;
  }
}

function route() {
  if (!session.key()) return showSignIn();
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1];
  if (!pages[name]) {
    location.replace('#/today');
    return undefined;
  }
  leave();
  nav.hidden = false;
  signOut.hidden = false;
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const root = h('div', { class: 'page', id: `page-${name}` });
  main.replaceChildren(root);
  unmount = pages[name].mount(root) || null;
  return undefined;
}

whenUnauthorized((err) => {
  session.clear();
  showSignIn(err.message);
});
signOut.addEventListener('click', () => {
  session.clear();
  showSignIn('Signed out.');
});
window.addEventListener('hashchange', route);
// The business timezone (no key needed) before the first page draws its times.
fetch('/health')
  .then((r) => r.json())
  .then((b) => setZone(b.timezone))
  .catch(() => {})
  .finally(route);
