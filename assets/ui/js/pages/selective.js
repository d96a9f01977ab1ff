// Selective sync (args: the synchronization's id): the server's folder
// tree, loaded one level at a time, with tri-state checkboxes. Saving
// PATCHes `deselected` (and `new_folders`) after saying plainly what
// happens to the copies on this computer.

function within(path, folder) {
  return path === folder || path.startsWith(`${folder}/`);
}

function parentOf(path) {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

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
  try {
    entry = await api.get(`/api/syncs/${enc(id)}`);
  } catch (e) {
    root.append(h('p', { class: 'error', 'data-test': 'load-error' }, e.message));
    return undefined;
  }
  const cfg = entry.config;
  const saved = [...cfg.deselected];
  /** The folders left out, as the page stands (saved with "Save"). */
  let deselected = [...cfg.deselected];
  /** path -> [child paths], for the levels loaded so far. */
  const children = new Map();
  /** path -> {row, box} for the folders shown. */
  const rows = new Map();

  const stateOf = (path) => {
    if (deselected.some((d) => within(path, d))) return 'off';
    if (deselected.some((d) => d.startsWith(`${path}/`))) return 'partly';
    return 'on';
  };

  function refreshBoxes() {
    for (const [path, r] of rows) {
      const st = stateOf(path);
      r.box.checked = st !== 'off';
      r.box.indeterminate = st === 'partly';
      r.row.dataset.state = st;
    }
    saveButton.disabled = same(deselected, saved) && newFolders() === cfg.new_folders;
  }

  function same(a, b) {
    const x = [...a].sort();
    const y = [...b].sort();
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }

  function toggle(path, on) {
    if (!on) {
      deselected = deselected.filter((d) => !within(d, path));
      deselected.push(path);
    } else {
      // Everything inside comes back.
      deselected = deselected.filter((d) => !within(d, path));
      // A deselected folder above it: select it again, but keep leaving
      // out the other folders along the way (they are loaded: the user
      // opened them to get here).
      const above = deselected.find((d) => path.startsWith(`${d}/`));
      if (above) {
        deselected = deselected.filter((d) => d !== above);
        let p = path;
        while (p !== above) {
          const parent = parentOf(p);
          for (const sib of children.get(parent) || []) {
            if (sib !== p) deselected.push(sib);
          }
          p = parent;
        }
      }
    }
    refreshBoxes();
  }

  async function loadLevel(path, into) {
    clear(into);
    into.append(h('li', { class: 'loading' }, 'Loading…'));
    let answer;
    try {
      answer = await api.get(`/api/syncs/${enc(cfg.id)}/folders?path=${enc(path)}`);
    } catch (e) {
      clear(into);
      into.append(h('li', { class: 'error', 'data-test': 'folders-error' }, e.message));
      return;
    }
    clear(into);
    children.set(path, answer.folders.map((f) => f.path));
    if (answer.folders.length === 0) {
      into.append(h('li', { class: 'none', 'data-test': `none-${path}` }, 'No folders inside.'));
    }
    for (const f of answer.folders) into.append(folderRow(f));
    refreshBoxes();
  }

  function folderRow(f) {
    const box = h('input', { type: 'checkbox', id: `sel-${f.path}`, 'data-test': `check-${f.path}` });
    box.addEventListener('change', () => toggle(f.path, box.checked));
    const sub = h('ul', { class: 'tree' });
    let open = false;
    const expand = h('button', {
      type: 'button',
      class: 'expand',
      'aria-expanded': 'false',
      'aria-label': `Show the folders in ${f.name}`,
      'data-test': `expand-${f.path}`,
      'on:click': async () => {
        open = !open;
        expand.setAttribute('aria-expanded', String(open));
        expand.textContent = open ? '▾' : '▸';
        if (open) await loadLevel(f.path, sub);
        else clear(sub);
      },
    }, '▸');
    const row = h('li', { 'data-test': `folder-${f.path}` }, expand, box, h('label', { for: `sel-${f.path}` }, f.name), sub);
    rows.set(f.path, { row, box });
    return row;
  }

  const tree = h('ul', { class: 'tree', 'data-test': 'tree' });
  const syncNew = h('input', { type: 'radio', name: 'new-folders', id: 'nf-sync', value: 'sync', 'data-test': 'new-folders-sync' });
  const skipNew = h('input', { type: 'radio', name: 'new-folders', id: 'nf-skip', value: 'skip', 'data-test': 'new-folders-skip' });
  (cfg.new_folders === 'skip' ? skipNew : syncNew).checked = true;
  const newFolders = () => (skipNew.checked ? 'skip' : 'sync');
  syncNew.addEventListener('change', refreshBoxes);
  skipNew.addEventListener('change', refreshBoxes);

  const confirmBox = h('div', { class: 'confirm', 'data-test': 'confirm-box' });
  const saveButton = h('button', { type: 'button', 'data-test': 'save', 'on:click': askSave }, 'Save…');

  function askSave() {
    clear(confirmBox);
    const gone = deselected.filter((d) => !saved.some((s) => within(d, s)));
    const back = saved.filter((s) => !deselected.some((d) => within(s, d)));
    const lines = [];
    if (gone.length) {
      lines.push(
        h('p', {}, 'These folders stop being synchronized. Their copy on this computer goes to the trash (you can restore it from there); the server keeps them:'),
        h('ul', { 'data-test': 'confirm-gone' }, ...gone.map((g) => h('li', {}, g))),
        h('p', {}, 'A file in them that changed on this computer and was not sent yet is kept, and its folder with it.'),
      );
    }
    if (back.length) {
      lines.push(
        h('p', {}, 'These folders are synchronized again: they come back from the server:'),
        h('ul', { 'data-test': 'confirm-back' }, ...back.map((g) => h('li', {}, g))),
      );
    }
    if (newFolders() !== cfg.new_folders) {
      lines.push(
        h('p', {}, newFolders() === 'skip'
          ? 'New folders that appear on the server from now on stay there, until you switch this back.'
          : 'New folders on the server are synchronized again, including those skipped so far.'),
      );
    }
    confirmBox.append(
      ...lines,
      h('button', { type: 'button', 'data-test': 'confirm-save', 'on:click': save }, 'Save'),
      h('button', { type: 'button', 'data-test': 'confirm-cancel', 'on:click': () => clear(confirmBox) }, 'Cancel'),
    );
  }

  async function save() {
    try {
      const updated = await api.patch(`/api/syncs/${enc(cfg.id)}`, {
        deselected,
        new_folders: newFolders(),
      });
      saved.splice(0, saved.length, ...updated.deselected);
      cfg.new_folders = updated.new_folders;
      clear(confirmBox);
      refreshBoxes();
      ctx.notice('Saved. The next pass applies it.', 'info');
    } catch (e) {
      clear(confirmBox);
      confirmBox.append(h('p', { class: 'error', 'data-test': 'save-error' }, e.message));
    }
  }

  root.append(
    h('h1', {}, `Choose folders — ${cfg.name}`),
    h('p', {}, 'Checked folders on the server are synchronized with this computer. Unchecking a folder removes its copy from this computer (to the trash); the server keeps it. A folder shown with a dash has some folders inside it left out.'),
    tree,
    h(
      'fieldset',
      { class: 'new-folders' },
      h('legend', {}, 'New folders that appear on the server'),
      h('div', {}, syncNew, h('label', { for: 'nf-sync' }, 'Synchronize them')),
      h('div', {}, skipNew, h('label', { for: 'nf-skip' }, 'Leave them on the server')),
    ),
    saveButton,
    h('a', { href: '#/syncs', 'data-test': 'back' }, 'Back to the synchronizations'),
    confirmBox,
  );
  await loadLevel('', tree);
  return undefined;
}
