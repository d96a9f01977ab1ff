// The transfers page: the log of what Ferry did, newest first, filtered by
// synchronization and action, searchable and paged; new lines come in as
// the event stream reports transfers (never polled). Below it, the recent
// files with their times. Every path has its "why?".
// Data: GET /api/log, GET /api/recent, GET /api/syncs; /api/events.

const PAGE = 50;

const ACTIONS = [
  ['upload', 'Sent to the other side'],
  ['download', 'Received from the other side'],
  ['move', 'Moved or renamed'],
  ['delete', 'Deleted (to the trash)'],
  ['mkdir', 'Folder created'],
  ['adopt', 'Found identical'],
  ['forget', 'No longer tracked'],
];
const ACTION_TEXT = Object.fromEntries(ACTIONS);

function resultText(r) {
  if (r === 'ok') return 'Done';
  if (r.startsWith('skipped: ')) return `Skipped: ${r.slice(9)}`;
  if (r.startsWith('error: ')) return `Failed: ${r.slice(7)}`;
  return r;
}

export async function render(root, ctx) {
  const { api, events, dom, query } = ctx;
  const { h, clear, fmtBytes, fmtTime, ago, whyLink } = dom;

  const state = {
    sync: query.get('sync') || '',
    action: query.get('action') || '',
    search: query.get('search') || '',
    offset: 0,
  };
  let syncs = [];

  const syncSelect = h('select', { id: 'log-sync', 'data-test': 'filter-sync' });
  const actionSelect = h(
    'select',
    { id: 'log-action', 'data-test': 'filter-action' },
    h('option', { value: '' }, 'All actions'),
    ...ACTIONS.map(([v, t]) => h('option', { value: v }, t)),
  );
  const searchInput = h('input', {
    id: 'log-search',
    type: 'search',
    'data-test': 'search',
    placeholder: 'Part of a file name or a message',
  });
  actionSelect.value = state.action;
  searchInput.value = state.search;

  const rows = h('tbody', { 'data-test': 'log-rows' });
  const summary = h('p', { class: 'status', 'data-test': 'log-status', role: 'status' });
  const prev = h('button', { type: 'button', 'data-test': 'page-newer' }, '← Newer');
  const next = h('button', { type: 'button', 'data-test': 'page-older' }, 'Older →');
  const pageLabel = h('span', { 'data-test': 'page' });
  const fresh = h(
    'button',
    { type: 'button', class: 'fresh', 'data-test': 'show-new' },
    'New transfers: show the newest',
  );
  fresh.hidden = true;
  const recentList = h('ul', { class: 'recent', 'data-test': 'recent' });

  root.append(
    h('h1', {}, 'Transfers'),
    h(
      'form',
      { class: 'filters', role: 'search', 'on:submit': (e) => e.preventDefault() },
      h('div', {}, h('label', { for: 'log-sync' }, 'Synchronization'), syncSelect),
      h('div', {}, h('label', { for: 'log-action' }, 'Action'), actionSelect),
      h('div', {}, h('label', { for: 'log-search' }, 'Search'), searchInput),
    ),
    summary,
    fresh,
    h(
      'table',
      { class: 'log', 'data-test': 'log' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['When', 'Synchronization', 'What', 'Item', 'Size', 'Result'].map((t) =>
            h('th', { scope: 'col' }, t),
          ),
        ),
      ),
      rows,
    ),
    h('nav', { class: 'pager', 'aria-label': 'Log pages' }, prev, pageLabel, next),
    h('h2', {}, 'Recent files'),
    recentList,
  );

  // The "why?" of an item needs its synchronization's local folder.
  function localOf(idOrName) {
    const s = syncs.find((x) => x.config.id === idOrName || x.config.name === idOrName);
    return s ? s.config.local : '';
  }

  function syncName(id) {
    const s = syncs.find((x) => x.config.id === id);
    return s ? s.config.name : id;
  }

  function drawSyncs() {
    // A link may name the synchronization rather than give its id.
    const named = syncs.find((s) => s.config.name === state.sync);
    if (named) state.sync = named.config.id;
    clear(syncSelect);
    syncSelect.append(h('option', { value: '' }, 'All synchronizations'));
    for (const s of syncs) syncSelect.append(h('option', { value: s.config.id }, s.config.name));
    syncSelect.value = state.sync;
  }

  function row(l) {
    return h(
      'tr',
      { 'data-test': 'log-row', class: l.result === 'ok' ? '' : 'problem' },
      h('td', { title: fmtTime(l.time) }, ago(l.time)),
      h('td', { 'data-test': 'log-sync' }, l.sync),
      h('td', { 'data-test': 'log-action' }, ACTION_TEXT[l.action] || l.action),
      h(
        'td',
        { class: 'path' },
        h('span', { 'data-test': 'log-path' }, l.path),
        ' ',
        whyLink(localOf(l.sync_id || l.sync), l.path),
      ),
      h('td', { class: 'num' }, l.bytes ? fmtBytes(l.bytes) : ''),
      h('td', { 'data-test': 'log-result' }, resultText(l.result)),
    );
  }

  let seq = 0;
  async function loadLog() {
    const mine = ++seq;
    const p = new URLSearchParams();
    if (state.sync) p.set('sync', state.sync);
    if (state.action) p.set('action', state.action);
    if (state.search.trim()) p.set('search', state.search.trim());
    p.set('offset', String(state.offset));
    // One more than a page: whether there is an older page.
    p.set('limit', String(PAGE + 1));
    let lines;
    try {
      lines = await api.get(`/api/log?${p}`);
    } catch (e) {
      if (mine === seq) summary.textContent = `The log could not be read: ${e.message || e}`;
      return;
    }
    // A later request was made meanwhile: its answer counts.
    if (mine !== seq) return;
    const more = lines.length > PAGE;
    lines = lines.slice(0, PAGE);
    clear(rows);
    for (const l of lines) rows.append(row(l));
    const first = state.offset + 1;
    summary.textContent =
      lines.length === 0
        ? state.offset === 0 && !state.sync && !state.action && !state.search.trim()
          ? 'Nothing was transferred yet.'
          : 'No lines match.'
        : `Lines ${first}–${state.offset + lines.length}, newest first.`;
    pageLabel.textContent = `Page ${Math.floor(state.offset / PAGE) + 1}`;
    prev.disabled = state.offset === 0;
    next.disabled = !more;
    if (state.offset === 0) fresh.hidden = true;
    root.dataset.loaded = String(mine);
  }

  async function loadRecent() {
    let recent;
    try {
      recent = await api.get('/api/recent');
    } catch {
      return;
    }
    clear(recentList);
    if (recent.length === 0) {
      recentList.append(h('li', {}, 'No files transferred since Ferry started.'));
      return;
    }
    for (const r of recent) {
      recentList.append(
        h(
          'li',
          { 'data-test': 'recent-file' },
          h('span', { class: 'path' }, r.path),
          ' ',
          h('span', { class: 'meta', title: fmtTime(r.time) }, `${ACTION_TEXT[r.action] || r.action} in ${syncName(r.sync)}, ${ago(r.time)}`),
          ' ',
          whyLink(localOf(r.sync), r.path),
        ),
      );
    }
  }

  function refilter() {
    state.offset = 0;
    loadLog();
  }
  syncSelect.addEventListener('change', () => {
    state.sync = syncSelect.value;
    refilter();
  });
  actionSelect.addEventListener('change', () => {
    state.action = actionSelect.value;
    refilter();
  });
  let typing = null;
  searchInput.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      state.search = searchInput.value;
      refilter();
    }, 250);
  });
  prev.addEventListener('click', () => {
    state.offset = Math.max(0, state.offset - PAGE);
    loadLog();
  });
  next.addEventListener('click', () => {
    state.offset += PAGE;
    loadLog();
  });
  fresh.addEventListener('click', () => {
    state.offset = 0;
    loadLog();
  });

  // Live: a transfer reported by the event stream reloads the newest page
  // (and the recent files); on an older page it offers to go back.
  let pending = null;
  const unsubscribe = events.subscribe((ev) => {
    if (ev.type === 'config') {
      api.get('/api/syncs').then((s) => {
        syncs = s;
        drawSyncs();
      }, () => {});
      return;
    }
    if (ev.type !== 'transfer' && ev.type !== 'lagged') return;
    clearTimeout(pending);
    pending = setTimeout(() => {
      if (state.offset === 0) loadLog();
      else fresh.hidden = false;
      loadRecent();
    }, 200);
  });

  try {
    syncs = await api.get('/api/syncs');
  } catch {
    syncs = [];
  }
  drawSyncs();
  await Promise.all([loadLog(), loadRecent()]);
  return () => {
    clearTimeout(pending);
    clearTimeout(typing);
    unsubscribe();
  };
}
