// Synchronizations (the home page): each synchronization with its live
// state (from the event stream, never polled), last and next pass, what
// needs the user with the button that resolves it, and every action on it.

import { limitInput, limitValue } from '../limits.js';

const STATE_LABELS = {
  starting: 'Starting',
  synced: 'Up to date',
  syncing: 'Synchronizing',
  paused: 'Paused',
  disabled: 'Disabled',
  offline: 'Offline',
  error: 'Error',
  credentials_required: 'Password needed',
  needs_confirmation: 'Waiting for your confirmation',
};

const COUNT_WORDS = {
  upload: 'sent',
  download: 'received',
  delete: 'deleted',
  move: 'moved',
  mkdir: 'folders created',
  adopt: 'found already equal',
  forget: 'forgotten',
};

const DELETE_REASONS = {
  'deleted-on-other-side': 'deleted on the other side',
  mirror: 'not on the source side of the mirror',
  'kind-changed': 'replaced by another kind of item on the other side',
  deselected: 'its folder is deselected in selective sync',
};

function sideName(side) {
  return side === 'local' ? 'this computer' : 'the server';
}

export async function render(root, ctx) {
  const { api, events, dom } = ctx;
  const { h, clear } = dom;
  const enc = encodeURIComponent;

  /** id -> {entry, card, live, panel} */
  const cards = new Map();

  const list = h('div', { class: 'sync-list', 'data-test': 'sync-list' });
  const runMode = h(
    'select',
    { 'data-test': 'run-mode', id: 'run-mode' },
    h('option', { value: 'default' }, 'as in the settings'),
    h('option', { value: 'sequential' }, 'one after the other'),
    h('option', { value: 'parallel' }, 'all at the same time'),
  );
  const toolbar = h(
    'div',
    { class: 'toolbar', 'data-test': 'toolbar' },
    h('button', { type: 'button', 'data-test': 'run-all', 'on:click': runAll }, 'Run all now'),
    h('label', { for: 'run-mode' }, 'Order:'),
    runMode,
    h('button', { type: 'button', 'data-test': 'pause-all', 'on:click': () => act('/api/pause', 'Everything is paused.') }, 'Pause all'),
    h('button', { type: 'button', 'data-test': 'resume-all', 'on:click': () => act('/api/resume', 'Everything is running again.') }, 'Resume all'),
    h('button', { type: 'button', 'data-test': 'add', 'on:click': () => ctx.go('#/assistant') }, 'Add a synchronization…'),
  );
  clear(root);
  root.append(h('h1', {}, 'Synchronizations'), toolbar, list);

  async function act(path, done, body) {
    try {
      await api.post(path, body || {});
      if (done) ctx.notice(done, 'info');
    } catch (e) {
      ctx.notice(e.message, 'error');
    }
  }

  async function runAll() {
    const mode = runMode.value;
    const body = { wait: false };
    if (mode !== 'default') body.parallel = mode === 'parallel';
    await act('/api/run', 'Every synchronization is running.', body);
  }

  async function load() {
    let entries;
    try {
      entries = await api.get('/api/syncs');
    } catch (e) {
      ctx.notice(e.message, 'error');
      return;
    }
    // The panels (an open form, a report) of the synchronizations that
    // stay are kept.
    const keep = new Set(entries.map((e) => e.config.id));
    for (const [id, c] of cards) {
      if (!keep.has(id)) {
        c.card.remove();
        cards.delete(id);
      }
    }
    clear(list);
    if (entries.length === 0) {
      list.append(
        h(
          'div',
          { class: 'empty', 'data-test': 'empty' },
          h('p', {}, 'No synchronization yet. Set one up: choose a folder on this computer and one on your server.'),
          h('button', { type: 'button', 'data-test': 'add-first', 'on:click': () => ctx.go('#/assistant') }, 'Set up a synchronization…'),
        ),
      );
      return;
    }
    for (const entry of entries) {
      let c = cards.get(entry.config.id);
      if (!c) {
        c = makeCard(entry);
        cards.set(entry.config.id, c);
      }
      c.entry = entry;
      drawStatic(c);
      drawLive(c);
      list.append(c.card);
    }
  }

  function makeCard(entry) {
    const name = entry.config.name;
    const c = {
      entry,
      head: h('div', { class: 'sync-head' }),
      live: h('div', { class: 'sync-live', 'aria-live': 'polite' }),
      actions: h('div', { class: 'sync-actions' }),
      panel: h('div', { class: 'sync-panel', 'data-test': 'panel' }),
    };
    c.card = h('article', { class: 'sync', 'data-test': `sync-${name}` }, c.head, c.live, c.actions, c.panel);
    return c;
  }

  function remoteText(cfg, status) {
    if (status && status.remote) return status.remote;
    return cfg.remote.type === 'folder' ? cfg.remote.path : `${cfg.remote.account}: /${cfg.remote.path}`;
  }

  function drawStatic(c) {
    const cfg = c.entry.config;
    clear(c.head);
    c.head.append(
      h('h2', {}, cfg.name),
      h(
        'p',
        { class: 'places' },
        h('span', { 'data-test': 'local' }, cfg.local),
        ' ⇄ ',
        h('span', { 'data-test': 'remote' }, remoteText(cfg, c.entry.status)),
      ),
    );
  }

  function drawActions(c) {
    const cfg = c.entry.config;
    const id = enc(cfg.id);
    const state = c.entry.status ? c.entry.status.state : cfg.enabled ? 'starting' : 'disabled';
    clear(c.actions);
    const b = (test, label, fn) => h('button', { type: 'button', 'data-test': test, 'on:click': fn }, label);
    c.actions.append(
      b('run', 'Run now', () => act(`/api/syncs/${id}/run`, `${cfg.name}: a pass has started.`)),
      state === 'paused'
        ? b('resume', 'Resume', () => act(`/api/syncs/${id}/resume`))
        : b('pause', 'Pause', () => act(`/api/syncs/${id}/pause`)),
      b('simulate', 'Simulate', () => simulate(c)),
      b('edit', 'Edit…', () => edit(c)),
      cfg.enabled
        ? b('disable', 'Disable', () => act(`/api/syncs/${id}/disable`, `${cfg.name} is disabled: nothing is synchronized until you enable it.`))
        : b('enable', 'Enable', () => act(`/api/syncs/${id}/enable`, `${cfg.name} is enabled.`)),
      b('open', 'Open folder', () => act(`/api/syncs/${id}/open`)),
      b('selective', 'Choose folders…', () => ctx.go(`#/selective/${id}`)),
      b('filters', 'Filters…', () => ctx.go(`#/filters/${id}`)),
      b('remove', 'Remove…', () => askRemove(c)),
    );
  }

  function lastPassText(p) {
    if (!p) return 'Last pass: none since Ferry started.';
    const counts = Object.entries(p.counts || {})
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${n} ${COUNT_WORDS[k] || k}`);
    const what = counts.length ? counts.join(', ') : 'nothing to do';
    const errs = p.errors && p.errors.length ? `, ${p.errors.length} failed` : '';
    return `Last pass: ${dom.ago(p.finished_at)} — ${what}${errs}.`;
  }

  function nextPassText(cfg, status) {
    if (!cfg.enabled) return 'Disabled: no pass runs.';
    if (status && status.state === 'paused') return 'Paused: no pass runs until you resume.';
    if (cfg.live) {
      return `Live: changes on this computer go out within seconds; the server is checked every ${cfg.poll_interval_secs} s.`;
    }
    if (cfg.schedule_secs) {
      const last = status && status.last_pass ? Date.parse(status.last_pass.finished_at) : NaN;
      if (!Number.isNaN(last)) {
        const next = new Date(last + cfg.schedule_secs * 1000).toISOString();
        return `Next scheduled pass: about ${dom.fmtTime(next)} (every ${cfg.schedule_secs} s).`;
      }
      return `Scheduled every ${cfg.schedule_secs} s.`;
    }
    return 'Runs only when you click “Run now”.';
  }

  function drawLive(c) {
    const { config: cfg, status } = c.entry;
    const id = enc(cfg.id);
    const state = status ? status.state : cfg.enabled ? 'starting' : 'disabled';
    // Buttons are rebuilt only when what they offer changes (a button
    // replaced under the pointer would lose its click).
    const actionsKey = `${state === 'paused'}|${cfg.enabled}|${cfg.name}`;
    if (c.actionsKey !== actionsKey) {
      c.actionsKey = actionsKey;
      drawActions(c);
    }
    const liveKey = JSON.stringify([status, cfg]);
    if (c.liveKey === liveKey) return;
    c.liveKey = liveKey;
    clear(c.live);
    const badge = h('span', { class: `state state-${state}`, 'data-test': 'state', 'data-state': state }, STATE_LABELS[state] || state);
    c.live.append(h('p', { class: 'state-line' }, badge));
    if (state === 'syncing' && status) {
      const bar = h('progress', { 'data-test': 'progress', max: String(Math.max(status.files_total, 1)), value: String(status.files_done) });
      const eta = status.eta_secs != null ? `, about ${status.eta_secs} s left` : '';
      c.live.append(
        h(
          'p',
          { class: 'progress' },
          bar,
          ` ${status.files_done} of ${status.files_total} files, ${dom.fmtBytes(status.bytes_done)} of ${dom.fmtBytes(status.bytes_total)}${eta}`,
        ),
      );
    }
    c.live.append(
      h('p', { class: 'last-pass', 'data-test': 'last-pass' }, lastPassText(status && status.last_pass)),
      h('p', { class: 'next-pass', 'data-test': 'next-pass' }, nextPassText(cfg, status)),
    );
    const attention = h('div', { class: 'attention', 'data-test': 'attention' });
    const b = (test, label, fn) => h('button', { type: 'button', 'data-test': test, 'on:click': fn }, label);
    if (state === 'needs_confirmation') {
      attention.append(
        h('p', { 'data-test': 'guard' }, status.reason),
        h('p', {}, 'Nothing is changed until you decide. “Simulate” shows every item first.'),
        b('confirm', 'Confirm', () => act(`/api/syncs/${id}/confirm`, `${cfg.name}: confirmed, the pass goes on.`)),
        b('cancel', 'Cancel', () => act(`/api/syncs/${id}/cancel`, `${cfg.name} is paused; nothing was changed.`)),
        b('guard-simulate', 'Simulate', () => simulate(c)),
      );
    } else if (state === 'credentials_required') {
      attention.append(
        h('p', { 'data-test': 'credentials' }, status.reason),
        h('a', { href: '#/accounts', 'data-test': 'update-credentials' }, 'Update the password…'),
      );
    } else if (state === 'offline' || state === 'error') {
      attention.append(
        h('p', { 'data-test': state }, `${status.reason} — ${status.retry_in_secs ? `retrying in ${dom.fmtSecs(status.retry_in_secs)}` : 'retrying now'}.`),
        b('retry', 'Retry now', () => act(`/api/syncs/${id}/run`)),
      );
    } else if (state === 'paused') {
      attention.append(
        h('p', {}, status.reason || 'Paused: changes wait until you resume.'),
        b('attention-resume', 'Resume', () => act(`/api/syncs/${id}/resume`)),
      );
    }
    const failed = status && status.last_pass ? status.last_pass.errors || [] : [];
    if (failed.length) {
      const rows = failed.slice(0, 20).map((e) =>
        h('li', { 'data-test': 'failed-item' }, `${e.path}: ${e.message} `, dom.whyLink(cfg.local, e.path)),
      );
      attention.append(
        h('p', {}, `${failed.length} item(s) could not be synchronized in the last pass:`),
        h('ul', {}, ...rows),
        b('retry-failed', 'Try again now', () => act(`/api/syncs/${id}/run`)),
      );
    }
    if (status && status.watch_warning) {
      attention.append(h('p', { 'data-test': 'watch-warning' }, status.watch_warning));
    }
    if (attention.childNodes.length) c.live.append(attention);
  }

  // ---------------------------------------------------------- simulate --

  function opRow(cfg, op) {
    const path = op.path || op.to || '';
    let what;
    let why;
    switch (op.op) {
      case 'transfer':
        what = op.to === 'local' ? 'download' : 'upload';
        why = op.why;
        break;
      case 'delete':
        what = `delete on ${sideName(op.side)} (to its trash)`;
        why = DELETE_REASONS[op.reason] || op.reason;
        if (op.items) why += ` — ${op.items} items inside`;
        break;
      case 'move':
        what = `move on ${sideName(op.side)} from ${op.from}`;
        why = op.why;
        break;
      case 'make-dir':
        what = `create folder on ${sideName(op.side)}`;
        why = op.why;
        break;
      case 'adopt':
        what = 'record as in sync';
        why = 'already the same on both sides';
        break;
      case 'forget':
        what = 'forget';
        why = 'gone from both sides';
        break;
      default:
        what = op.op;
        why = '';
    }
    return h(
      'tr',
      { 'data-test': 'op' },
      h('td', { 'data-test': 'op-path' }, path),
      h('td', { 'data-test': 'op-action' }, what),
      h('td', { 'data-test': 'op-reason' }, why || ''),
      h('td', {}, dom.whyLink(cfg.local, path)),
    );
  }

  async function simulate(c) {
    const cfg = c.entry.config;
    clear(c.panel);
    c.panel.append(h('p', {}, 'Simulating… nothing is changed.'));
    let report;
    try {
      report = await api.post(`/api/syncs/${enc(cfg.id)}/simulate`, {});
    } catch (e) {
      clear(c.panel);
      c.panel.append(h('p', { class: 'error', 'data-test': 'simulate-error' }, e.message));
      return;
    }
    clear(c.panel);
    const box = h('section', { class: 'report', 'data-test': 'report' });
    box.append(h('h3', {}, 'What the next pass would do (nothing was changed)'));
    if (report.needs_confirmation) {
      box.append(h('p', { class: 'warning', 'data-test': 'report-guard' }, report.needs_confirmation));
    }
    if (report.ops.length === 0) {
      box.append(h('p', { 'data-test': 'report-empty' }, 'Nothing to do: both sides are in sync.'));
    } else {
      box.append(
        h(
          'table',
          { 'data-test': 'report-table' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Item'), h('th', {}, 'Action'), h('th', {}, 'Reason'), h('th', {}, ''))),
          h('tbody', {}, ...report.ops.map((op) => opRow(cfg, op))),
        ),
      );
    }
    const notes = [...(report.problems || []), ...(report.errors || [])];
    if (notes.length) {
      box.append(
        h('h4', {}, 'Notes'),
        h('ul', {}, ...notes.slice(0, 100).map((p) => h('li', { 'data-test': 'report-note' }, `${p.path}: ${p.message} `, dom.whyLink(cfg.local, p.path)))),
      );
    }
    box.append(h('button', { type: 'button', 'data-test': 'close-panel', 'on:click': () => clear(c.panel) }, 'Close'));
    c.panel.append(box);
  }

  // -------------------------------------------------------------- edit --

  function field(label, input) {
    return h('label', { class: 'field' }, h('span', {}, label), input);
  }

  function select(test, value, options) {
    const el = h('select', { 'data-test': test }, ...options.map(([v, text]) => h('option', { value: v }, text)));
    el.value = value;
    return el;
  }

  function number(test, value, min) {
    const el = h('input', { type: 'number', 'data-test': test, min: String(min), step: 'any' });
    el.value = value == null ? '' : String(value);
    return el;
  }

  function edit(c) {
    const cfg = c.entry.config;
    clear(c.panel);
    const direction = select('edit-direction', cfg.direction, [
      ['both', 'Both ways'],
      ['send', 'Only send (the server becomes a copy of this computer)'],
      ['receive', 'Only receive (this computer becomes a copy of the server)'],
    ]);
    const conflict = select('edit-conflict', cfg.conflict, [
      ['keep-both', 'Keep both versions (the other one is renamed)'],
      ['local', 'This computer’s version wins (the other goes to the trash)'],
      ['remote', 'The server’s version wins (the other goes to the trash)'],
      ['newest', 'The newest version wins (the other goes to the trash)'],
    ]);
    const compare = select('edit-compare', cfg.compare, [
      ['fast', 'Fast: size and modification time'],
      ['secure', 'Secure: also compare contents'],
    ]);
    const mode = select('edit-mode', cfg.live ? 'live' : cfg.schedule_secs ? 'scheduled' : 'manual', [
      ['live', 'Live: follow changes as they happen'],
      ['scheduled', 'Scheduled: run every so often'],
      ['manual', 'Only when I click “Run now”'],
    ]);
    const poll = number('edit-poll', cfg.poll_interval_secs, 1);
    const schedule = number('edit-schedule', cfg.schedule_secs || 3600, 1);
    const ratio = number('edit-guard-ratio', Math.round(cfg.guards.max_delete_ratio * 100), 0);
    const count = number('edit-guard-count', cfg.guards.max_delete_count, 0);
    const bw = cfg.bandwidth || {};
    const up = limitInput(h, 'edit-limit-up', bw.upload_kib_per_sec);
    const down = limitInput(h, 'edit-limit-down', bw.download_kib_per_sec);
    const error = h('p', { class: 'error', 'data-test': 'edit-error' });
    const form = h(
      'form',
      { class: 'edit', 'data-test': 'edit-form' },
      h('h3', {}, `Settings of ${cfg.name}`),
      field('Direction', direction),
      field('When both sides changed a file', conflict),
      field('How changes are detected', compare),
      field('When to synchronize', mode),
      field('Check the server every (seconds)', poll),
      field('Scheduled: run every (seconds)', schedule),
      h('h4', {}, 'Safety: ask me before a pass deletes'),
      field('more than this share of the files (%)', ratio),
      field('or more than this many items', count),
      h('h4', {}, 'Bandwidth (KiB/s; empty: no limit; the global limits in Settings apply too)'),
      field('Upload limit', up),
      field('Download limit', down),
      error,
      h('button', { type: 'submit', 'data-test': 'edit-save' }, 'Save'),
      h('button', { type: 'button', 'data-test': 'edit-cancel', 'on:click': () => clear(c.panel) }, 'Cancel'),
    );
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      const patch = {
        direction: direction.value,
        conflict: conflict.value,
        compare: compare.value,
        live: mode.value === 'live',
        poll_interval_secs: Number(poll.value),
        schedule_secs: mode.value === 'scheduled' ? Number(schedule.value) : null,
        guards: {
          max_delete_ratio: Number(ratio.value) / 100,
          max_delete_count: Number(count.value),
        },
        bandwidth: { upload_kib_per_sec: limitValue(up), download_kib_per_sec: limitValue(down) },
      };
      if (!Number.isInteger(patch.poll_interval_secs) || patch.poll_interval_secs < 1) {
        error.textContent = 'The server check interval must be a whole number of seconds, at least 1.';
        return;
      }
      if (mode.value === 'scheduled' && (!Number.isInteger(patch.schedule_secs) || patch.schedule_secs < 1)) {
        error.textContent = 'The schedule must be a whole number of seconds, at least 1.';
        return;
      }
      try {
        await api.patch(`/api/syncs/${enc(cfg.id)}`, patch);
        clear(c.panel);
        ctx.notice(`${cfg.name}: settings saved.`, 'info');
      } catch (e) {
        error.textContent = e.message;
      }
    });
    c.panel.append(form);
  }

  // ------------------------------------------------------------ remove --

  function askRemove(c) {
    const cfg = c.entry.config;
    clear(c.panel);
    c.panel.append(
      h(
        'div',
        { class: 'confirm', 'data-test': 'remove-confirm' },
        h('p', {}, `Stop synchronizing ${cfg.name}? Both folders are kept exactly as they are: nothing is deleted on this computer (${cfg.local}) or on the server. Only Ferry’s record of this synchronization goes.`),
        h('button', {
          type: 'button',
          'data-test': 'remove-yes',
          'on:click': async () => {
            try {
              await api.del(`/api/syncs/${enc(cfg.id)}`);
              ctx.notice(`${cfg.name} removed; both folders are kept.`, 'info');
              await load();
            } catch (e) {
              ctx.notice(e.message, 'error');
            }
          },
        }, 'Remove the synchronization'),
        h('button', { type: 'button', 'data-test': 'remove-no', 'on:click': () => clear(c.panel) }, 'Keep it'),
      ),
    );
  }

  // ------------------------------------------------------------- live --

  const unsubscribe = events.subscribe((ev) => {
    if (ev.type === 'state') {
      const c = cards.get(ev.sync.id);
      if (c) {
        c.entry.status = ev.sync;
        drawLive(c);
      }
    } else if (ev.type === 'config' || ev.type === 'lagged') {
      load();
    }
  });

  await load();
  return () => unsubscribe();
}
