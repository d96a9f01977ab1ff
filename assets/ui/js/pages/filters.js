// Filters (args: the synchronization's id): rules by "starts with",
// "contains", "ends with", a glob or (expert) a regular expression, each
// checked by the daemon's own filter compiler as it is typed, a preview of
// the existing items they would leave out before saving, and the built-in
// rules, read-only.

const KINDS = [
  ['starts-with', 'Name starts with'],
  ['contains', 'Name contains'],
  ['ends-with', 'Name ends with'],
  ['glob', 'Path matches the pattern (glob: *.log, build/**)'],
  ['regex', 'Expert: regular expression on the path'],
];

export async function render(root, ctx) {
  const { api, dom } = ctx;
  const { h, clear } = dom;
  const id = ctx.args[0];
  clear(root);
  if (!id) {
    root.append(h('p', {}, 'No synchronization chosen. '), h('a', { href: '#/syncs' }, 'Back to the synchronizations'));
    return undefined;
  }
  const enc = encodeURIComponent;
  let entry;
  let builtin;
  try {
    [entry, builtin] = await Promise.all([api.get(`/api/syncs/${enc(id)}`), api.get('/api/filters/builtin')]);
  } catch (e) {
    root.append(h('p', { class: 'error', 'data-test': 'load-error' }, e.message));
    return undefined;
  }
  const cfg = entry.config;
  /** The rules as edited: [{kind, pattern, row, error}] */
  const rules = [];
  let valid = true;
  let timer = null;
  let generation = 0;

  const list = h('ol', { class: 'rules', 'data-test': 'rules' });
  const preview = h('section', { class: 'preview', 'data-test': 'preview', 'aria-live': 'polite' });
  const saveButton = h('button', { type: 'button', 'data-test': 'save', 'on:click': save }, 'Save');
  const status = h('p', { 'data-test': 'save-status' });

  function current() {
    return rules.map((r) => ({ kind: r.kind.value, pattern: r.pattern.value }));
  }

  function renumber() {
    rules.forEach((r, i) => {
      r.row.dataset.test = `rule-${i}`;
      r.kind.dataset.test = `rule-kind-${i}`;
      r.pattern.dataset.test = `rule-pattern-${i}`;
      r.error.dataset.test = `rule-error-${i}`;
      r.remove.dataset.test = `rule-remove-${i}`;
      r.kind.id = `rule-kind-${i}`;
      r.pattern.id = `rule-pattern-${i}`;
      r.kindLabel.setAttribute('for', r.kind.id);
      r.patternLabel.setAttribute('for', r.pattern.id);
    });
  }

  function addRule(kind, pattern) {
    const r = {};
    r.kind = h('select', {}, ...KINDS.map(([v, text]) => h('option', { value: v }, text)));
    r.kind.value = kind;
    r.pattern = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
    r.pattern.value = pattern;
    r.error = h('span', { class: 'error', role: 'alert' });
    r.kindLabel = h('label', {}, 'Leave out items whose');
    r.patternLabel = h('label', {}, 'text');
    r.remove = h('button', {
      type: 'button',
      'aria-label': 'Remove this rule',
      'on:click': () => {
        rules.splice(rules.indexOf(r), 1);
        r.row.remove();
        renumber();
        changed();
      },
    }, 'Remove');
    r.row = h('li', { class: 'rule' }, r.kindLabel, r.kind, r.patternLabel, r.pattern, r.remove, r.error);
    r.kind.addEventListener('change', changed);
    r.pattern.addEventListener('input', changed);
    rules.push(r);
    list.append(r.row);
    renumber();
    return r;
  }

  function changed() {
    status.textContent = '';
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  }

  async function check() {
    const mine = ++generation;
    const filters = current();
    let verdict;
    try {
      verdict = await api.post('/api/filters/check', { filters });
    } catch (e) {
      if (mine === generation) status.textContent = e.message;
      return;
    }
    if (mine !== generation) return;
    valid = verdict.ok;
    verdict.rules.forEach((v, i) => {
      const r = rules[i];
      if (!r) return;
      r.error.textContent = v.ok ? '' : v.error;
      r.pattern.setAttribute('aria-invalid', String(!v.ok));
    });
    saveButton.disabled = !valid;
    if (valid) await showPreview(filters, mine);
    else {
      clear(preview);
      preview.append(h('p', { 'data-test': 'preview-invalid' }, 'Fix the rules marked above to see what they would leave out.'));
    }
  }

  async function showPreview(filters, mine) {
    let answer;
    try {
      answer = await api.post(`/api/syncs/${enc(cfg.id)}/filters/preview`, { filters, limit: 200 });
    } catch (e) {
      if (mine === generation) {
        clear(preview);
        preview.append(h('p', { class: 'error', 'data-test': 'preview-error' }, e.message));
      }
      return;
    }
    if (mine !== generation) return;
    clear(preview);
    const count = answer.count;
    preview.append(
      h('h2', {}, 'What these rules leave out'),
      h(
        'p',
        { 'data-test': 'preview-count', 'data-count': String(count) },
        count === 0
          ? 'No existing item would be left out.'
          : `${count} existing item(s) would no longer be synchronized${answer.truncated ? ` (the first ${answer.items.length} are shown)` : ''}. They stay where they are on both sides: nothing is deleted because of a filter.`,
      ),
    );
    if (answer.items.length) {
      preview.append(
        h(
          'ul',
          { 'data-test': 'preview-list' },
          ...answer.items.map((it) =>
            h(
              'li',
              { 'data-test': 'preview-item', 'data-path': it.path },
              h('span', { class: 'path' }, it.kind === 'dir' ? `${it.path}/` : it.path),
              ` — ${it.rule}${it.already ? ' (left out already)' : ''}`,
            ),
          ),
        ),
      );
    }
  }

  async function save() {
    await check();
    if (!valid) {
      status.textContent = 'Some rules are not valid: nothing was saved.';
      return;
    }
    try {
      const updated = await api.patch(`/api/syncs/${enc(cfg.id)}`, { filters: current() });
      cfg.filters = updated.filters;
      status.textContent = 'Saved. Items these rules match are no longer synchronized from the next pass on.';
      ctx.notice(`${cfg.name}: filters saved.`, 'info');
    } catch (e) {
      status.textContent = e.message;
    }
  }

  for (const f of cfg.filters) addRule(f.kind, f.pattern);

  root.append(
    h('h1', {}, `Filters — ${cfg.name}`),
    h('p', {}, 'Items a rule matches are not synchronized: they stay as they are on this computer and on the server, and are never deleted because of the other side.'),
    list,
    h('button', {
      type: 'button',
      'data-test': 'add-rule',
      'on:click': () => {
        const r = addRule('ends-with', '');
        r.pattern.focus();
        changed();
      },
    }, 'Add a rule'),
    saveButton,
    status,
    preview,
    h(
      'section',
      { class: 'builtin' },
      h('h2', {}, 'Always left out'),
      h('p', {}, 'These rules apply to every synchronization and cannot be changed:'),
      h('ul', { 'data-test': 'builtin' }, ...builtin.rules.map((r) => h('li', {}, r))),
    ),
    h('a', { href: '#/syncs', 'data-test': 'back' }, 'Back to the synchronizations'),
  );
  await check();
  return () => clearTimeout(timer);
}
