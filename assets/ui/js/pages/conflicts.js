// The conflicts page: every open conflict with both versions of the file
// (size, modification time, which side each came from), the policy that
// made it, "open" for either file, and resolving one or all of them.
// Data: GET /api/conflicts; POST /api/conflicts/resolve; POST /api/open.
// Reloaded when a pass ends (the event stream), never polled.

const KEEP_TEXT = {
  local: "Use this computer's version",
  remote: "Use the other side's version",
  both: 'Keep both files',
};

const KEEP_HELP = {
  local: (c) =>
    `${c.copy} replaces ${c.path}; the version now at ${c.path} goes to the trash. The next synchronization sends it to the other side.`,
  remote: (c) =>
    `${c.copy} goes to the trash; ${c.path} stays as it is.`,
  both: (c) =>
    `${c.path} and ${c.copy} both stay, side by side, on both sides. The conflict leaves this list.`,
};

const POLICY_TEXT = {
  'keep-both': 'Both versions were kept (the setting "keep both").',
  local: "This computer's version won (the setting \"local wins\"); the other one is in the trash.",
  remote: "The other side's version won (the setting \"remote wins\"); this computer's version is in the trash.",
  newest: 'The most recently changed version won (the setting "newest wins"); the other one is in the trash.',
};

function fromText(v, c) {
  if (v.from === 'local') return 'Changed on this computer';
  if (v.from === 'remote') return 'Changed on the other side';
  return c.copy ? 'Version' : 'The version kept';
}

export async function render(root, ctx) {
  const { api, events, dom, notice } = ctx;
  const { h, clear, fmtBytes, fmtTime, whyLink } = dom;

  const status = h('p', { class: 'status', 'data-test': 'conflicts-status', role: 'status' });
  const bulk = h('div', { class: 'bulk', 'data-test': 'bulk' });
  const list = h('div', { class: 'conflict-list', 'data-test': 'conflict-list' });
  root.append(
    h('h1', {}, 'Conflicts'),
    h(
      'p',
      { class: 'intro' },
      'A conflict is a file that was changed on this computer and on the other side before Ferry could carry one change over. Nothing was lost: choose which version to keep.',
    ),
    status,
    bulk,
    list,
  );

  let shown = '';
  let working = false;
  // Each synchronization's local folder, for the "why?" of an item.
  let locals = new Map();

  async function resolve(c, keep) {
    await api.post('/api/conflicts/resolve', { sync: c.sync_id || c.sync, id: c.id, keep });
  }

  async function act(what, fn) {
    if (working) return;
    working = true;
    root.classList.add('busy');
    try {
      await fn();
    } catch (e) {
      notice(`${what}: ${e.message || e}`, 'error');
    } finally {
      working = false;
      root.classList.remove('busy');
      // Redrawn only if the conflicts changed (a resolved one leaves): an
      // "Open" changes nothing, and a redraw would replace the other
      // buttons under the user's pointer.
      await load(false);
    }
  }

  function versionRow(c, v) {
    const side = v.from || 'kept';
    return h(
      'tr',
      { 'data-test': `version-${side}` },
      h('th', { scope: 'row' }, fromText(v, c)),
      h('td', { class: 'path', 'data-test': 'version-path' }, v.path),
      h('td', { class: 'num', 'data-test': 'version-size' }, fmtBytes(v.size)),
      h('td', { 'data-test': 'version-modified' }, v.modified ? fmtTime(v.modified) : ''),
      h(
        'td',
        {},
        h(
          'button',
          {
            type: 'button',
            'data-test': `open-${side}`,
            'on:click': () =>
              act(`Opening ${v.path}`, async () => {
                await api.post('/api/open', { sync: c.sync_id || c.sync, path: v.path });
              }),
          },
          'Open',
        ),
      ),
    );
  }

  function conflictCard(c) {
    const versions = c.versions || [];
    const table = h(
      'table',
      { class: 'versions' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Where it changed'),
          h('th', { scope: 'col' }, 'File'),
          h('th', { scope: 'col' }, 'Size'),
          h('th', { scope: 'col' }, 'Modified'),
          h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Open')),
        ),
      ),
      h('tbody', {}, ...versions.map((v) => versionRow(c, v))),
    );
    const actions = h('div', { class: 'actions' });
    if (c.copy) {
      for (const keep of ['local', 'remote', 'both']) {
        const helpId = `help-${c.sync_id}-${c.id}-${keep}`;
        actions.append(
          h(
            'div',
            { class: 'choice' },
            h(
              'button',
              {
                type: 'button',
                'data-test': `use-${keep}`,
                'aria-describedby': helpId,
                'on:click': () => act(`Resolving ${c.path}`, () => resolve(c, keep)),
              },
              KEEP_TEXT[keep],
            ),
            h('span', { class: 'help', id: helpId }, KEEP_HELP[keep](c)),
          ),
        );
      }
    } else {
      actions.append(
        h(
          'div',
          { class: 'choice' },
          h(
            'button',
            {
              type: 'button',
              'data-test': 'use-both',
              'on:click': () => act(`Closing ${c.path}`, () => resolve(c, 'both')),
            },
            'OK, keep it this way',
          ),
          h(
            'span',
            { class: 'help' },
            'The file stays as it is; the other version stays in the trash, where you can still take it back.',
          ),
        ),
      );
    }
    return h(
      'section',
      { class: 'conflict', 'data-test': 'conflict', 'aria-label': c.path },
      h(
        'h2',
        {},
        h('span', { class: 'path', 'data-test': 'conflict-path' }, c.path),
        ' ',
        whyLink(locals.get(c.sync_id) || '', c.path),
      ),
      h(
        'p',
        { class: 'meta' },
        `In ${c.sync}, since ${fmtTime(c.time)}. `,
        h('span', { 'data-test': 'conflict-policy' }, POLICY_TEXT[c.policy] || `Policy: ${c.policy}.`),
      ),
      versions.length
        ? table
        : h('p', { class: 'meta' }, 'Neither file is on this computer any more.'),
      actions,
    );
  }

  function drawBulk(conflicts) {
    clear(bulk);
    if (conflicts.length < 2) return;
    const withCopy = conflicts.filter((c) => c.copy);
    const all = (keep) =>
      act(`Resolving ${conflicts.length} conflicts`, async () => {
        const targets = keep === 'both' ? conflicts : withCopy;
        let done = 0;
        for (const c of targets) {
          await resolve(c, keep);
          done += 1;
        }
        notice(`${done} conflict${done === 1 ? '' : 's'} resolved.`, 'info');
      });
    bulk.append(h('span', {}, `All ${conflicts.length}: `));
    for (const keep of ['local', 'remote', 'both']) {
      const b = h(
        'button',
        { type: 'button', 'data-test': `all-${keep}`, 'on:click': () => all(keep) },
        KEEP_TEXT[keep],
      );
      // A policy's conflict kept no copy: only "keep" applies to it.
      b.disabled = keep !== 'both' && withCopy.length === 0;
      bulk.append(b);
    }
  }

  function draw(conflicts) {
    clear(list);
    status.textContent =
      conflicts.length === 0
        ? 'No conflicts: every file is in sync or on its way.'
        : `${conflicts.length} open conflict${conflicts.length === 1 ? '' : 's'}.`;
    drawBulk(conflicts);
    for (const c of conflicts) list.append(conflictCard(c));
  }

  async function load(force) {
    let conflicts;
    try {
      const [list, syncs] = await Promise.all([api.get('/api/conflicts'), api.get('/api/syncs')]);
      conflicts = list;
      locals = new Map(syncs.map((s) => [s.config.id, s.config.local]));
    } catch (e) {
      status.textContent = `The conflicts could not be read: ${e.message || e}`;
      return;
    }
    const key = JSON.stringify(conflicts);
    if (!force && key === shown) return;
    shown = key;
    draw(conflicts);
  }

  let timer = null;
  const unsubscribe = events.subscribe((ev) => {
    // A pass ended (or the list of synchronizations changed): its
    // conflicts may have changed.
    if (ev.type === 'state' || ev.type === 'config' || ev.type === 'lagged') {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (!working) load(false);
      }, 300);
    }
  });

  await load(true);
  return () => {
    clearTimeout(timer);
    unsubscribe();
  };
}
