// The setup assistant (first run and "add"), in five steps:
//  1. where the files are kept: a WebDAV server (an account: address, user,
//     password, "Test connection"; or one already added) or a folder on this
//     computer or another disk;
//  2. the folder on this computer, checked as it is typed (POST
//     /api/check-local: empty, holds N items, will be created, or refused and
//     why);
//  3. the server folder, browsed one level at a time (GET
//     /api/accounts/{id}/folders?path=);
//  4. the settings: name, direction, conflicts, comparison, live or
//     scheduled, filters (one pattern a line);
//  5. a simulation of the first pass (POST /api/simulate: nothing is saved or
//     touched) shown as a table; "Start" adds the synchronization with the
//     same settings, and it starts at once.

const DIRECTIONS = [
  ["both", "Both ways: changes on either side go to the other"],
  ["send", "Send only: this computer's changes go to the server; the server's are not brought back"],
  ["receive", "Receive only: the server's changes come here; changes made here are not sent"],
];
const CONFLICTS = [
  ["keep-both", "Keep both copies (the other one gets a “conflicted copy” name)"],
  ["newest", "Keep the newest; the other goes to the trash"],
  ["local", "Keep this computer's; the server's goes to the trash"],
  ["remote", "Keep the server's; this computer's goes to the trash"],
];
const COMPARES = [
  ["fast", "Fast: by size and modification time"],
  ["secure", "Thorough: by content (reads every changed file)"],
];

/// One planned op of a report as a table row: what, where, why.
function describeOp(op) {
  switch (op.op) {
    case "transfer":
      return [op.to === "remote" ? "upload" : "download", op.path,
        (op.backup ? "replaces the older copy (kept in the trash); " : "") + op.why];
    case "make-dir":
      return [op.side === "remote" ? "new folder on the server" : "new folder here", op.path, op.why];
    case "delete":
      return [op.side === "remote" ? "to the server's trash" : "to the trash here", op.path,
        reasonWords(op.reason) + (op.items ? ` (${op.items} items in it)` : "")];
    case "move":
      return [op.side === "remote" ? "move on the server" : "move here", `${op.from} → ${op.to}`, op.why];
    case "adopt":
      return ["already the same", op.path, "the same on both sides: nothing to copy"];
    case "forget":
      return ["forget", op.path, "gone from both sides"];
    default:
      return [op.op, op.path || "", ""];
  }
}

function reasonWords(reason) {
  return {
    "deleted-on-other-side": "deleted on the other side",
    mirror: "not on the side this synchronization copies from",
    "kind-changed": "replaced by another kind of item on the other side",
    deselected: "its folder is left out",
  }[reason] || reason;
}

export async function render(root, ctx) {
  const { api, dom } = ctx;
  const { h, clear } = dom;
  const accounts = await api.get("/api/accounts");
  const s = {
    step: 1,
    kind: "webdav",
    account: accounts.length ? accounts[0] : null,
    newAccount: accounts.length === 0,
    remoteFolder: "",
    remotePath: "",
    createRemote: false,
    local: "",
    localCheck: null,
    name: "",
    direction: "both",
    conflict: "keep-both",
    compare: "fast",
    live: true,
    scheduleMinutes: 60,
    filters: "",
    report: null,
  };
  let checkTimer = null;
  let checkSeq = 0;

  const steps = ["Where your files are kept", "The folder on this computer", "The server folder", "Settings", "Check and start"];

  function header() {
    return h("ol", { class: "steps", "aria-label": "Steps" }, ...steps.map((title, i) => {
      const skipped = i === 2 && s.kind === "folder";
      return h("li", { class: i + 1 === s.step ? "current" : skipped ? "skipped" : "" }, title);
    }));
  }

  function nav(canNext, nextLabel, onNext) {
    const row = h("div", { class: "row nav" });
    if (s.step > 1) {
      const back = h("button", { type: "button", "data-test": "back" }, "Back");
      back.addEventListener("click", () => go(s.step === 4 && s.kind === "folder" ? 2 : s.step - 1));
      row.append(back);
    }
    const next = h("button", { type: "button", class: "primary", "data-test": "next" }, nextLabel || "Next");
    next.disabled = !canNext;
    next.addEventListener("click", onNext);
    row.append(next);
    return row;
  }

  function go(step) {
    s.step = step;
    show();
  }

  function show() {
    clear(root);
    root.append(h("h1", {}, "Add a synchronization"), header());
    const body = [stepOne, stepTwo, stepThree, stepFour, stepFive][s.step - 1]();
    root.append(body);
    const first = body.querySelector("input, select, textarea, button");
    if (first) first.focus();
  }

  // ------------------------------------------------------------ step 1 --
  function stepOne() {
    const box = h("section", { class: "step", "data-test": "step-1" });
    const kindWebdav = h("input", { type: "radio", name: "kind", id: "kind-webdav", value: "webdav", "data-test": "kind-webdav" });
    const kindFolder = h("input", { type: "radio", name: "kind", id: "kind-folder", value: "folder", "data-test": "kind-folder" });
    kindWebdav.checked = s.kind === "webdav";
    kindFolder.checked = s.kind === "folder";
    for (const r of [kindWebdav, kindFolder]) r.addEventListener("change", () => { s.kind = r.value; show(); });
    box.append(
      h("fieldset", {},
        h("legend", {}, "Where are the files to keep in sync?"),
        h("div", { class: "check" }, kindWebdav, h("label", { for: "kind-webdav" }, "On a server (WebDAV: Nextcloud, ownCloud, a NAS…)")),
        h("div", { class: "check" }, kindFolder, h("label", { for: "kind-folder" }, "In a folder on this computer or another disk"))));

    if (s.kind === "folder") {
      const path = h("input", { type: "text", id: "remote-folder", value: s.remoteFolder, "data-test": "remote-folder", placeholder: "/media/backup/Documents" });
      const row = nav(s.remoteFolder.trim().startsWith("/"), "Next", () => go(2));
      const next = row.lastChild;
      path.addEventListener("input", () => { s.remoteFolder = path.value; next.disabled = !path.value.trim().startsWith("/"); });
      box.append(h("label", { for: "remote-folder" }, "The other folder (its whole path)"), path,
        h("p", { class: "hint" }, "For example a folder on a USB disk or a mounted network share."), row);
      return box;
    }

    const result = h("p", { class: "result", "data-test": "connection-result", role: "status" });
    if (accounts.length) {
      const choose = h("select", { id: "account", "data-test": "account" },
        ...accounts.map((a) => h("option", { value: a.id }, `${a.user} at ${a.url}`)),
        h("option", { value: "" }, "Another server or user…"));
      choose.value = s.newAccount ? "" : s.account.id;
      choose.addEventListener("change", () => {
        s.newAccount = choose.value === "";
        s.account = accounts.find((a) => a.id === choose.value) || null;
        show();
      });
      box.append(h("label", { for: "account" }, "Account"), choose);
    }
    if (!s.newAccount) {
      box.append(nav(true, "Next", () => go(2)));
      return box;
    }
    const url = h("input", { type: "url", id: "url", "data-test": "url", placeholder: "https://cloud.example.com/remote.php/dav/files/me/" });
    const user = h("input", { type: "text", id: "user", autocomplete: "username", "data-test": "user" });
    const password = h("input", { type: "password", id: "password", autocomplete: "current-password", "data-test": "password" });
    const test = h("button", { type: "button", "data-test": "test-connection" }, "Test connection");
    const row = nav(false, "Next", () => go(2));
    const next = row.lastChild;
    test.addEventListener("click", async () => {
      test.disabled = true;
      result.textContent = "Connecting…";
      try {
        const a = await api.post("/api/accounts", { url: url.value.trim(), user: user.value.trim(), password: password.value, test: true });
        password.value = "";
        s.account = a;
        s.newAccount = false;
        if (!accounts.some((x) => x.id === a.id)) accounts.push(a);
        result.textContent = `Connected to ${a.url} as ${a.user}. The password is kept in your system's keyring.`;
        next.disabled = false;
        next.focus();
      } catch (e) {
        result.textContent = `Could not connect: ${e.message}`;
      } finally {
        test.disabled = false;
      }
    });
    box.append(
      h("label", { for: "url" }, "Server address (WebDAV)"), url,
      h("label", { for: "user" }, "User name"), user,
      h("label", { for: "password" }, "Password"), password,
      h("p", { class: "hint" }, "Nextcloud and ownCloud app passwords are passwords. To sign in with a token instead, add the account under Accounts first."),
      h("div", { class: "row" }, test), result, row);
    return box;
  }

  // ------------------------------------------------------------ step 2 --
  function stepTwo() {
    const box = h("section", { class: "step", "data-test": "step-2" });
    const path = h("input", { type: "text", id: "local", value: s.local, "data-test": "local", placeholder: "/home/me/Documents", spellcheck: "false" });
    const verdict = h("p", { class: "verdict", "data-test": "local-check", role: "status", "aria-live": "polite" });
    const row = nav(false, "Next", () => go(s.kind === "folder" ? 4 : 3));
    const next = row.lastChild;
    function showCheck(c) {
      s.localCheck = c;
      verdict.className = `verdict verdict-${c.verdict}`;
      verdict.textContent = {
        empty: `${c.path} is empty: the other side's files will be copied into it.`,
        not_empty: `${c.path} holds ${c.items} item${c.items === 1 ? "" : "s"}. They stay and are combined with the other side's: nothing is deleted, and where a file differs on both sides the conflict rule of step 4 decides.`,
        will_create: `${c.path} does not exist yet: Ferry will create it.`,
        refused: `This folder cannot be used: ${c.reason}`,
      }[c.verdict];
      next.disabled = c.verdict === "refused";
    }
    async function check() {
      const seq = ++checkSeq;
      const typed = path.value;
      s.local = typed;
      if (!typed.trim()) {
        verdict.textContent = "";
        next.disabled = true;
        return;
      }
      try {
        const c = await api.post("/api/check-local", { path: typed });
        if (seq === checkSeq) showCheck(c);
      } catch (e) {
        if (seq === checkSeq) {
          verdict.textContent = `The folder could not be checked: ${e.message}`;
          next.disabled = true;
        }
      }
    }
    path.addEventListener("input", () => {
      next.disabled = true;
      clearTimeout(checkTimer);
      checkTimer = setTimeout(check, 250);
    });
    box.append(
      h("label", { for: "local" }, "The folder on this computer to keep in sync (its whole path)"), path, verdict,
      h("p", { class: "hint" }, "A folder of its own is best. It cannot be a system folder, Ferry's own folder, or inside another synchronization's folder."),
      row);
    if (s.local) check();
    return box;
  }

  // ------------------------------------------------------------ step 3 --
  function stepThree() {
    const box = h("section", { class: "step", "data-test": "step-3" });
    const where = h("p", { class: "where", "data-test": "remote-path" });
    const listing = h("ul", { class: "folders", "data-test": "folders" });
    const status = h("p", { class: "result", role: "status" });
    const newName = h("input", { type: "text", id: "new-folder", "data-test": "new-folder" });
    const row = nav(true, "Use this folder", () => {
      const extra = newName.value.trim().replace(/^\/+|\/+$/g, "");
      s.createRemote = extra !== "";
      s.remotePath = [s.remotePath, extra].filter(Boolean).join("/");
      go(4);
    });
    async function open(path) {
      s.remotePath = path;
      where.textContent = `${s.account.url}${path ? path + "/" : ""}`;
      clear(listing);
      status.textContent = "Loading…";
      try {
        const r = await api.get(`/api/accounts/${encodeURIComponent(s.account.id)}/folders?path=${encodeURIComponent(path)}`);
        status.textContent = r.folders.length ? "" : "No folder in here.";
        if (path) {
          const up = h("button", { type: "button", class: "link", "data-test": "folder-up" }, "⬑ Up one level");
          up.addEventListener("click", () => open(path.split("/").slice(0, -1).join("/")));
          listing.append(h("li", {}, up));
        }
        for (const name of r.folders) {
          const b = h("button", { type: "button", class: "link", "data-test": "folder", "data-name": name }, `📁 ${name}`);
          b.addEventListener("click", () => open(path ? `${path}/${name}` : name));
          listing.append(h("li", {}, b));
        }
      } catch (e) {
        status.textContent = `The server's folders could not be read: ${e.message}`;
      }
    }
    box.append(
      h("p", {}, "Open the server folder to keep in sync, then choose “Use this folder”."),
      where, listing, status,
      h("label", { for: "new-folder" }, "Or a new folder in it (created by the first synchronization):"), newName,
      row);
    open(s.createRemote ? "" : s.remotePath);
    return box;
  }

  // ------------------------------------------------------------ step 4 --
  function stepFour() {
    const box = h("section", { class: "step", "data-test": "step-4" });
    if (!s.name) {
      const last = (s.localCheck ? s.localCheck.path : s.local).split("/").filter(Boolean).pop();
      s.name = last || "Documents";
    }
    const name = h("input", { type: "text", id: "name", value: s.name, "data-test": "name" });
    name.addEventListener("input", () => { s.name = name.value; });
    const select = (id, options, value, set) => {
      const el = h("select", { id, "data-test": id }, ...options.map(([v, label]) => h("option", { value: v }, label)));
      el.value = value;
      el.addEventListener("change", () => set(el.value));
      return el;
    };
    const live = h("input", { type: "radio", name: "mode", id: "mode-live", "data-test": "mode-live" });
    const scheduled = h("input", { type: "radio", name: "mode", id: "mode-scheduled", "data-test": "mode-scheduled" });
    live.checked = s.live;
    scheduled.checked = !s.live;
    const minutes = h("input", { type: "number", id: "schedule", min: "1", value: String(s.scheduleMinutes), "data-test": "schedule" });
    live.addEventListener("change", () => { s.live = true; });
    scheduled.addEventListener("change", () => { s.live = false; });
    minutes.addEventListener("input", () => { s.scheduleMinutes = Number(minutes.value); });
    const filters = h("textarea", { id: "filters", rows: "4", "data-test": "filters", spellcheck: "false" });
    filters.value = s.filters;
    filters.addEventListener("input", () => { s.filters = filters.value; });
    const error = h("p", { class: "error", role: "alert", "data-test": "settings-error" });
    box.append(
      h("label", { for: "name" }, "Name"), name,
      h("label", { for: "direction" }, "Direction"),
      select("direction", DIRECTIONS, s.direction, (v) => { s.direction = v; }),
      h("label", { for: "conflict" }, "When a file changed on both sides"),
      select("conflict", CONFLICTS, s.conflict, (v) => { s.conflict = v; }),
      h("label", { for: "compare" }, "How to tell that a file changed"),
      select("compare", COMPARES, s.compare, (v) => { s.compare = v; }),
      h("fieldset", {},
        h("legend", {}, "When to synchronize"),
        h("div", { class: "check" }, live, h("label", { for: "mode-live" }, "As soon as something changes")),
        h("div", { class: "check" }, scheduled, h("label", { for: "mode-scheduled" }, "On a schedule, every"), minutes, h("span", {}, " minutes"))),
      h("label", { for: "filters" }, "Leave out (one pattern a line, e.g. *.tmp or build/)"), filters,
      h("p", { class: "hint" }, "Ferry already leaves out temporary and system files (such as ~$ Office locks, .DS_Store, Thumbs.db)."),
      error,
      nav(true, "Simulate the first synchronization", () => {
        if (!s.name.trim()) {
          error.textContent = "Give the synchronization a name.";
          return;
        }
        if (!s.live && !(Number.isInteger(s.scheduleMinutes) && s.scheduleMinutes >= 1)) {
          error.textContent = "Give the schedule in whole minutes (at least 1).";
          return;
        }
        s.report = null;
        go(5);
      }));
    return box;
  }

  /// The body of POST /api/simulate and POST /api/syncs: the same.
  function newSync() {
    const local = s.localCheck ? s.localCheck.path : s.local.trim();
    const remote = s.kind === "folder"
      ? { type: "folder", path: s.remoteFolder.trim() }
      : { type: "webdav", account: s.account.id, path: s.remotePath };
    const filters = s.filters.split("\n").map((l) => l.trim()).filter(Boolean)
      .map((pattern) => ({ kind: "glob", pattern }));
    return {
      name: s.name.trim(),
      local,
      remote,
      create_remote_root: s.createRemote,
      direction: s.direction,
      conflict: s.conflict,
      compare: s.compare,
      live: s.live,
      schedule_secs: s.live ? null : s.scheduleMinutes * 60,
      filters,
    };
  }

  // ------------------------------------------------------------ step 5 --
  function stepFive() {
    const box = h("section", { class: "step", "data-test": "step-5" });
    const status = h("p", { class: "result", role: "status", "data-test": "simulation-status" }, "Looking at both folders… nothing is changed yet.");
    const table = h("div", { class: "plan" });
    const row = nav(false, "Start", start);
    const startButton = row.lastChild;
    startButton.setAttribute("data-test", "start");
    box.append(
      h("p", {}, `${s.name}: ${newSync().local} ⇄ ${s.kind === "folder" ? s.remoteFolder : s.account.url + s.remotePath}`),
      status, table, row);

    (async () => {
      try {
        const report = await api.post("/api/simulate", newSync());
        s.report = report;
        showReport(report, status, table);
        startButton.disabled = false;
      } catch (e) {
        status.textContent = `The simulation failed, so nothing can start yet: ${e.message}`;
      }
    })();
    return box;
  }

  function showReport(report, status, table) {
    const ops = report.ops || [];
    const transfers = ops.filter((o) => o.op === "transfer").length;
    status.textContent = ops.length === 0
      ? "The first synchronization has nothing to do: both sides are the same."
      : `The first synchronization will do ${ops.length} thing${ops.length === 1 ? "" : "s"}` +
        ` (${transfers} file${transfers === 1 ? "" : "s"} to copy, ${dom.fmtBytes((report.bytes_up || 0) + (report.bytes_down || 0))}). Nothing has been changed yet.`;
    clear(table);
    if (report.needs_confirmation) {
      table.append(h("p", { class: "warn", "data-test": "needs-confirmation" },
        `It will stop and ask you first: ${report.needs_confirmation}`));
    }
    if (ops.length) {
      table.append(h("table", { "data-test": "plan" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "What"), h("th", { scope: "col" }, "Item"), h("th", { scope: "col" }, "Why"))),
        h("tbody", {}, ...ops.map((op) => {
          const [what, path, why] = describeOp(op);
          return h("tr", { "data-test": "plan-row", "data-op": what, "data-path": path },
            h("td", {}, what), h("td", {}, path), h("td", {}, why));
        }))));
    }
    const problems = report.problems || [];
    if (problems.length) {
      table.append(h("p", {}, "Left as they are:"),
        h("ul", { "data-test": "problems" }, ...problems.map((p) => h("li", {}, `${p.path || "(the folder)"}: ${p.message}`))));
    }
  }

  async function start() {
    const button = root.querySelector('[data-test="start"]');
    if (button) button.disabled = true;
    try {
      const sync = await api.post("/api/syncs", newSync());
      ctx.notice(`${sync.name} is set up and synchronizing now.`, "ok");
      ctx.go("#/syncs");
    } catch (e) {
      if (button) button.disabled = false;
      ctx.notice(`Not started: ${e.message}`, "error");
    }
  }

  show();
  return () => clearTimeout(checkTimer);
}
