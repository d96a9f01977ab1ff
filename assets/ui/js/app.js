// The preferences page's shell: a hash router (`#/NAME/ARG...?k=v` loads
// `pages/NAME.js` and calls its `render(root, ctx)`), the overall state and
// the open conflicts in the header (following the event stream), and the
// notices. Pages own everything inside `<main id="page">`.

import { api } from './api.js';
import { events } from './events.js';
import * as dom from './dom.js';

const { h, fill } = dom;
const PAGES = ['syncs', 'assistant', 'selective', 'filters', 'conflicts', 'transfers', 'accounts', 'settings'];
const root = document.getElementById('page');
let cleanup = null;
let generation = 0;

/** Show a short message at the bottom of the page (`kind`: info, error). */
function notice(text, kind = 'info') {
  const box = document.getElementById('notices');
  const item = h('p', { class: `notice ${kind}`, 'data-test': `notice-${kind}` }, text,
    h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss', 'on:click': () => item.remove() }, '×'));
  box.appendChild(item);
  if (kind !== 'error') setTimeout(() => item.remove(), 8000);
}

function parseHash() {
  const raw = (location.hash || '#/syncs').replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const name = PAGES.includes(parts[0]) ? parts[0] : 'syncs';
  return { name, args: parts.slice(1), query: new URLSearchParams(query) };
}

async function route() {
  const mine = ++generation;
  if (typeof cleanup === 'function') {
    try { cleanup(); } catch (e) { console.error(e); }
  }
  cleanup = null;
  const { name, args, query } = parseHash();
  for (const a of document.querySelectorAll('nav.side a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  fill(root, h('p', { class: 'loading' }, 'Loading…'));
  let page;
  try {
    page = await import(`./pages/${name}.js`);
  } catch (e) {
    fill(root, h('p', { class: 'error' }, `This page could not be loaded: ${e.message}`));
    return;
  }
  if (mine !== generation) return;
  const ctx = {
    api, events, dom, args, query, notice,
    go: (hash) => { location.hash = hash; },
  };
  const el = h('section', { class: `page page-${name}`, 'data-test': `page-${name}` });
  fill(root, el);
  try {
    const c = await page.render(el, ctx);
    if (mine === generation) cleanup = c; else if (typeof c === 'function') c();
  } catch (e) {
    fill(el, h('p', { class: 'error', 'data-test': 'page-error' }, e.message));
  }
  document.title = `Ferry — ${document.querySelector(`nav.side a[data-page="${name}"]`)?.textContent?.trim() || 'Preferences'}`;
}

const STATE_WORDS = {
  synced: 'Up to date', syncing: 'Syncing', paused: 'Paused', offline: 'Offline', error: 'Error',
  credentials_required: 'Password needed', needs_confirmation: 'Waiting for your confirmation',
  starting: 'Starting', disabled: 'Off',
};

/**
 * What needs the user, on every page, each with the button that resolves
 * it: a guard waiting for confirmation, a password needed, a
 * synchronization offline or in error.
 *
 * An alert stays the same element while its synchronization stays in the
 * same state: only its text follows (the retry countdown). Rebuilding it on
 * every refresh would replace its button under the user's pointer, and the
 * click would be lost.
 */
const shownAlerts = new Map();
function renderAlerts(status) {
  const box = document.getElementById('alerts');
  const act = (label, testId, run, cls = '') => h('button', {
    type: 'button', class: cls, 'data-test': testId,
    'on:click': async (ev) => {
      ev.target.disabled = true;
      try {
        await run();
      } catch (e) {
        notice(e.message, 'error');
      } finally {
        ev.target.disabled = false;
        refreshSoon();
      }
    },
  }, label);
  const id = (s) => encodeURIComponent(s.id);
  const wanted = [];
  for (const s of status.syncs) {
    let text = null;
    let buttons = () => [];
    switch (s.state) {
      case 'needs_confirmation':
        text = `${s.name} is waiting for your confirmation: ${s.reason}`;
        buttons = () => [
          act('Confirm and go on', 'alert-confirm', () => api.post(`/api/syncs/${id(s)}/confirm`), 'primary'),
          act('Cancel (pause it)', 'alert-cancel', () => api.post(`/api/syncs/${id(s)}/cancel`)),
          h('a', { class: 'button', href: '#/syncs', 'data-test': 'alert-review' }, 'Review what it would do'),
        ];
        break;
      case 'credentials_required':
        text = `${s.name}: ${s.reason}`;
        buttons = () => [h('a', { class: 'button primary', href: '#/accounts', 'data-test': 'alert-credentials' }, 'Update the password')];
        break;
      case 'offline':
        text = `${s.name} is offline (${s.reason}); ${s.retry_in_secs ? `retrying in ${dom.fmtSecs(s.retry_in_secs)}` : 'retrying now'}. Your changes wait and go out when it is back.`;
        buttons = () => [act('Retry now', 'alert-retry', () => api.post(`/api/syncs/${id(s)}/run`, {}))];
        break;
      case 'error':
        text = `${s.name} stopped with an error: ${s.reason}; retrying in ${dom.fmtSecs(s.retry_in_secs)}.`;
        buttons = () => [act('Retry now', 'alert-retry', () => api.post(`/api/syncs/${id(s)}/run`, {}))];
        break;
      default:
        break;
    }
    if (text) {
      const key = `sync|${s.id}|${s.state}|${s.name}`;
      let shown = shownAlerts.get(key);
      if (!shown) {
        const line = h('p', {}, text);
        shown = {
          line,
          el: h('div', { class: `alert state-${s.state}`, role: 'alert', 'data-test': 'alert', 'data-sync': s.name },
            line, h('p', { class: 'actions' }, buttons())),
        };
      } else if (shown.line.textContent !== text) {
        shown.line.textContent = text;
      }
      wanted.push([key, shown]);
    }
  }
  for (const w of status.config_warnings || []) {
    const key = `config|${w}`;
    wanted.push([key, shownAlerts.get(key) || { el: h('div', { class: 'alert', role: 'alert', 'data-test': 'alert-config' }, h('p', {}, w)) }]);
  }
  const keep = new Set(wanted.map(([key]) => key));
  for (const [key, shown] of shownAlerts) {
    if (!keep.has(key)) {
      shown.el.remove();
      shownAlerts.delete(key);
    }
  }
  // In order; an element already in its place is not moved.
  let at = box.firstElementChild;
  for (const [key, shown] of wanted) {
    shownAlerts.set(key, shown);
    if (shown.el === at) {
      at = at.nextElementSibling;
    } else {
      box.insertBefore(shown.el, at);
    }
  }
}

let statusTimer = null;
async function refreshHeader() {
  try {
    const s = await api.get('/api/status');
    renderAlerts(s);
    const overall = document.querySelector('[data-test=overall]');
    overall.textContent = s.syncs.length ? (STATE_WORDS[s.overall] || s.overall) : 'No synchronization yet';
    overall.className = `overall state-${s.overall}`;
    const badge = document.querySelector('[data-test=conflict-count]');
    badge.textContent = s.open_conflicts ? String(s.open_conflicts) : '';
  } catch (e) {
    // The page shows the error where it matters; the header stays as it was.
  }
}

function refreshSoon() {
  clearTimeout(statusTimer);
  statusTimer = setTimeout(refreshHeader, 300);
}

document.addEventListener('ferry:signed-out', () => {
  if (document.querySelector('.signed-out')) return;
  document.body.prepend(h('p', { class: 'signed-out', role: 'alert', 'data-test': 'signed-out' },
    'This page is no longer signed in. Open the preferences again from Ferry\'s tray icon (Preferences…) or run `ferry prefs`.'));
});

// A fault in a page is shown, not swallowed (and kept for the tests).
window.ferryErrors = [];
window.addEventListener('error', (ev) => {
  window.ferryErrors.push(String(ev.message));
  notice(`Something went wrong on this page: ${ev.message}`, 'error');
});
window.addEventListener('unhandledrejection', (ev) => {
  const msg = ev.reason && ev.reason.message ? ev.reason.message : String(ev.reason);
  window.ferryErrors.push(msg);
  notice(msg, 'error');
});

window.addEventListener('hashchange', route);
events.subscribe((ev) => {
  if (ev.type === 'state' || ev.type === 'config' || ev.type === 'lagged' || (ev.type === 'transfer' && ev.action === 'conflict')) refreshSoon();
});
refreshHeader();
route();
