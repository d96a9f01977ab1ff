// Small DOM helpers shared by every page. Pages build their DOM with `h()`:
// text always goes in as text nodes, never as HTML (the page runs under a
// strict Content-Security-Policy, and file names are data).

/**
 * Make an element. `attrs`: `class`, `data-*`, `aria-*`, any attribute, and
 * `on:EVENT` for listeners; `true`/`false` for boolean attributes (`disabled`,
 * `checked`, `hidden`...). Children: nodes, strings (as text), arrays, or
 * null/undefined/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on:')) {
      el.addEventListener(k.slice(3), v);
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (k === 'checked' || k === 'indeterminate' || k === 'selected') {
      el[k] = !!v;
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Remove every child of `el`; returns `el`. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replace the children of `el` with `children`. */
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** 1536 → "1.5 KB" (powers of 1000, as file managers show). */
export function fmtBytes(n) {
  if (n === null || n === undefined) return '';
  let v = Number(n);
  let u = 0;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u += 1;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${UNITS[u]}`;
}

/** An RFC 3339 time in the user's locale. */
export function fmtTime(rfc3339) {
  if (!rfc3339) return '';
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? String(rfc3339) : d.toLocaleString();
}

/** "5 s ago", "3 min ago", "2 h ago", else the date. */
export function ago(rfc3339) {
  if (!rfc3339) return '';
  const d = new Date(rfc3339);
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (Number.isNaN(s)) return String(rfc3339);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return d.toLocaleDateString();
}

/** Seconds as "45 s", "3 min", "2 h 5 min". */
export function fmtSecs(secs) {
  const s = Math.max(0, Math.round(Number(secs) || 0));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  const m = Math.round((s % 3600) / 60);
  return m ? `${Math.floor(s / 3600)} h ${m} min` : `${Math.floor(s / 3600)} h`;
}

/**
 * Show `content` (nodes) in the page's one dialog, with a Close button;
 * resolves when it closes.
 */
export function showDialog(title, ...content) {
  const dialog = document.getElementById('dialog');
  return new Promise((resolve) => {
    const close = h('button', { type: 'button', 'data-test': 'dialog-close', 'on:click': () => dialog.close() }, 'Close');
    fill(dialog, h('h2', {}, title), h('div', { class: 'dialog-body' }, ...content), h('p', { class: 'actions' }, close));
    dialog.addEventListener('close', () => resolve(), { once: true });
    dialog.showModal();
  });
}

/**
 * Ask to confirm: `question` (text or nodes), a button labelled `yes`;
 * resolves to true when confirmed.
 */
export function confirmDialog(title, question, yes = 'Confirm') {
  const dialog = document.getElementById('dialog');
  return new Promise((resolve) => {
    let answer = false;
    const ok = h('button', { type: 'button', class: 'danger', 'data-test': 'dialog-confirm', 'on:click': () => { answer = true; dialog.close(); } }, yes);
    const cancel = h('button', { type: 'button', 'data-test': 'dialog-cancel', 'on:click': () => dialog.close() }, 'Cancel');
    fill(dialog, h('h2', {}, title), h('div', { class: 'dialog-body' }, question), h('p', { class: 'actions' }, cancel, ok));
    dialog.addEventListener('close', () => resolve(answer), { once: true });
    dialog.showModal();
  });
}

/**
 * A "why?" button for an item of a synchronization (`localFolder`: the
 * synchronization's local folder, `path`: the item relative to it): opens the
 * explanation of `POST /api/why` (what `ferry why PATH` prints) in the dialog.
 */
export function whyLink(localFolder, path) {
  return h('button', {
    type: 'button',
    class: 'link why',
    'data-test': 'why',
    title: `Why is ${path} as it is?`,
    'on:click': async () => {
      const { api } = await import('./api.js');
      const full = path ? `${String(localFolder).replace(/[\\/]+$/, '')}/${path}` : String(localFolder);
      try {
        const why = await api.post('/api/why', { path: full });
        await showDialog(`Why: ${path || 'the folder itself'}`, explainWhy(why));
      } catch (e) {
        await showDialog(`Why: ${path}`, h('p', { class: 'error' }, e.message));
      }
    },
  }, 'why?');
}

function explainWhy(why) {
  const rows = [];
  const add = (k, v) => { if (v !== null && v !== undefined && v !== '') rows.push(h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, String(v)))); };
  add('Synchronization', why.sync);
  add('Item', why.path || '(the folder itself)');
  add('Excluded by', why.excluded_by);
  if (why.on_disk) {
    const d = why.on_disk;
    add('On this computer', `${d.kind === 'dir' ? 'folder' : `file, ${fmtBytes(d.size)}`}, modified ${new Date(d.mtime_ns / 1e6).toLocaleString()}`);
  } else {
    add('On this computer', 'not there');
  }
  if (why.in_sync_as) {
    const b = why.in_sync_as;
    add('Last in sync as', b.kind === 'dir' ? 'folder' : `file, ${fmtBytes(b.local_size)} here, ${fmtBytes(b.remote_size)} on the server`);
  } else {
    add('Last in sync as', 'never in sync');
  }
  if (why.state) add('Synchronization state', why.state.reason ? `${why.state.state}: ${why.state.reason}` : why.state.state);
  const log = (why.log || []).slice(0, 5).map((e) => h('li', {}, `${fmtTime(e.time)} — ${e.action} ${e.path}: ${e.result}`));
  return [
    h('p', { class: 'verdict', 'data-test': 'why-verdict' }, why.verdict),
    h('table', { class: 'kv', 'data-test': 'why-table' }, rows),
    log.length ? [h('h3', {}, 'Latest log lines'), h('ul', { class: 'log-lines' }, log)] : null,
  ];
}
