// Accounts: the servers Ferry signs in to. Add one (the connection is
// tested first), test one, update its password ("credentials required"
// anywhere links here: #/accounts?update=ID), and remove one: the page
// first lists the synchronizations that go with it and says that their
// files stay on this computer, then asks to confirm.

const STATE_WORDS = {
  credentials_required: "password needed",
  synced: "up to date",
  syncing: "syncing",
  offline: "offline",
  error: "error",
  paused: "paused",
  disabled: "turned off",
  needs_confirmation: "waits for you",
  starting: "starting",
};

export async function render(root, ctx) {
  const { api, dom, events } = ctx;
  const { h, clear } = dom;
  const list = h("div", { class: "accounts", "data-test": "accounts" });
  let openUpdate = ctx.query.get("update");

  // One element per account, kept while the account exists: a state change
  // updates its list of synchronizations in place, so a button is never
  // replaced under the user's pointer (the click would be lost).
  const items = new Map();
  const empty = h("p", { class: "empty", "data-test": "no-accounts" }, "No server account yet. Add one below, or use the assistant.");
  empty.hidden = true;
  list.append(empty);

  // The state each synchronization is shown in: an event that says
  // otherwise redraws.
  const states = new Map();

  async function load() {
    const [accounts, syncs] = await Promise.all([api.get("/api/accounts"), api.get("/api/syncs")]);
    for (const s of syncs) states.set(s.config.id, s.status ? s.status.state : null);
    const ids = new Set(accounts.map((a) => a.id));
    for (const [id, it] of items) {
      if (!ids.has(id)) {
        it.item.remove();
        items.delete(id);
      }
    }
    empty.hidden = accounts.length !== 0;
    for (const account of accounts) {
      let it = items.get(account.id);
      if (!it) {
        it = accountItem(account);
        items.set(account.id, it);
        list.append(it.item);
      }
      it.show(syncs.filter((s) => s.config.remote.account === account.id));
    }
  }

  function accountItem(account) {
    let syncs = [];
    let userOpened = false;
    const message = h("p", { class: "result", "data-test": "result", role: "status" });
    const usedBy = h("div", { class: "account-used-by" });
    const item = h("section", { class: "account", "data-test": `account-${account.id}` },
      h("h2", {}, account.url),
      h("p", {}, `Signed in as ${account.user}`),
      usedBy);
    let drawn = null;

    function show(now) {
      syncs = now;
      const waiting = syncs.filter((s) => s.status && s.status.state === "credentials_required");
      const key = JSON.stringify(syncs.map((s) => [s.config.name, s.config.local, s.status ? s.status.state : null]));
      if (key !== drawn) {
        drawn = key;
        clear(usedBy);
        if (syncs.length) {
          usedBy.append(h("ul", { class: "account-syncs" }, ...syncs.map((s) => {
            const state = s.status ? s.status.state : "starting";
            return h("li", { "data-test": "account-sync" },
              `${s.config.name} — ${s.config.local} `,
              h("span", { class: `state state-${state}` }, STATE_WORDS[state] || state));
          })));
        } else {
          usedBy.append(h("p", { class: "hint" }, "No synchronization uses it."));
        }
        if (waiting.length) {
          usedBy.append(h("p", { class: "warn", "data-test": "credentials-required" },
            `The server refused the saved password: ${waiting.map((s) => s.config.name).join(", ")} wait${waiting.length === 1 ? "s" : ""} for a new one.`));
        }
      }
      if (openUpdate === account.id || waiting.length > 0) updateForm.hidden = false;
      else if (!userOpened && !pw.value) updateForm.hidden = true;
    }

    // A token account is tested with, and updated to, a token.
    const noun = account.secret === "token" ? "token" : "password";
    const test = h("button", { type: "button", "data-test": "test" }, "Test connection");
    test.addEventListener("click", async () => {
      message.textContent = "Testing…";
      try {
        await api.post(`/api/accounts/${encodeURIComponent(account.id)}/test`, {});
        message.textContent = `The server accepts the saved ${noun}.`;
      } catch (e) {
        message.textContent = `The test failed: ${e.message}`;
      }
    });

    // Update credentials.
    const pw = h("input", { type: "password", id: `pw-${account.id}`, autocomplete: "current-password", "data-test": "password" });
    const save = h("button", { type: "submit", "data-test": "save-password" }, "Test and save");
    const updateForm = h("form", { class: "update-password", "data-test": "update-form" },
      h("label", { for: `pw-${account.id}` }, `New ${noun} for ${account.user}`),
      h("div", { class: "row" }, pw, save),
      h("p", { class: "hint" }, "Ferry tries it on the server first; it is kept in your system's keyring, never in a file."));
    updateForm.hidden = true;
    updateForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!pw.value) {
        message.textContent = `Type the new ${noun}.`;
        return;
      }
      save.disabled = true;
      message.textContent = `Trying the new ${noun}…`;
      try {
        const body = noun === "token" ? { token: pw.value } : { password: pw.value };
        await api.put(`/api/accounts/${encodeURIComponent(account.id)}/password`, body);
        pw.value = "";
        openUpdate = null;
        userOpened = false;
        ctx.notice(`The new ${noun} for ${account.url} is saved; its synchronizations start again.`, "ok");
        await load();
      } catch (e) {
        message.textContent = `Not saved: ${e.message}`;
      } finally {
        save.disabled = false;
      }
    });
    const update = h("button", { type: "button", "data-test": "update-password" }, `Update ${noun}…`);
    update.addEventListener("click", () => {
      userOpened = true;
      updateForm.hidden = false;
      pw.focus();
    });

    // Deregistration, with a confirm step that names what goes.
    const remove = h("button", { type: "button", class: "danger", "data-test": "remove" }, "Remove account…");
    const confirm = h("div", { class: "confirm", "data-test": "remove-confirm", role: "alertdialog" });
    confirm.hidden = true;
    remove.addEventListener("click", () => {
      clear(confirm);
      confirm.append(h("p", {}, `Remove the account ${account.user} at ${account.url}?`));
      if (syncs.length) {
        confirm.append(
          h("p", {}, `These synchronizations go with it (${syncs.length}):`),
          h("ul", { "data-test": "remove-syncs" }, ...syncs.map((s) =>
            h("li", { "data-test": "remove-sync" }, `${s.config.name} — ${s.config.local}`))),
        );
      } else {
        confirm.append(h("p", {}, "No synchronization uses it."));
      }
      confirm.append(h("p", { "data-test": "files-stay" },
        "Your files stay where they are: nothing is deleted on this computer or on the server. Ferry only stops synchronizing them and forgets the password."));
      const yes = h("button", { type: "button", class: "danger", "data-test": "confirm-remove" }, "Remove account");
      const no = h("button", { type: "button", "data-test": "cancel-remove" }, "Cancel");
      no.addEventListener("click", () => {
        confirm.hidden = true;
        remove.focus();
      });
      yes.addEventListener("click", async () => {
        yes.disabled = true;
        try {
          const r = await api.del(`/api/accounts/${encodeURIComponent(account.id)}`);
          const gone = r.removed_syncs.length ? ` Stopped: ${r.removed_syncs.join(", ")}; their files are still on this computer.` : "";
          ctx.notice(`The account ${account.url} is removed.${gone}`, "ok");
          await load();
        } catch (e) {
          yes.disabled = false;
          ctx.notice(`The account could not be removed: ${e.message}`, "error");
        }
      });
      confirm.append(h("div", { class: "row" }, yes, no));
      confirm.hidden = false;
      no.focus();
    });

    item.append(h("div", { class: "row" }, test, update, remove), updateForm, confirm, message);
    if (openUpdate === account.id) setTimeout(() => pw.focus(), 0);
    return { item, show };
  }

  // Adding an account.
  const url = h("input", { type: "url", id: "new-url", placeholder: "https://cloud.example.com/remote.php/dav/files/me/", "data-test": "new-url" });
  const user = h("input", { type: "text", id: "new-user", autocomplete: "username", "data-test": "new-user" });
  const password = h("input", { type: "password", id: "new-password", autocomplete: "current-password", "data-test": "new-password" });
  // A password (Basic or Digest, as the server asks; an app password is
  // one) or a token (sent as "Authorization: Bearer").
  const kind = h("select", { id: "new-kind", "data-test": "new-kind" },
    h("option", { value: "password" }, "Password"),
    h("option", { value: "token" }, "Token"));
  const secretLabel = h("label", { for: "new-password" }, "Password");
  const kindHint = h("p", { class: "hint", "data-test": "kind-hint" });
  const showKind = () => {
    const token = kind.value === "token";
    secretLabel.textContent = token ? "Token" : "Password";
    password.autocomplete = token ? "off" : "current-password";
    kindHint.textContent = token
      ? "A token the server gave you, sent as \u201cAuthorization: Bearer\u201d. It is kept in your system's keyring, never in a file."
      : "Nextcloud and ownCloud app passwords (Settings \u2192 Security) are passwords: choose Password for them.";
  };
  kind.addEventListener("change", showKind);
  showKind();
  const addResult = h("p", { class: "result", "data-test": "add-result", role: "status" });
  const add = h("button", { type: "submit", "data-test": "add-account" }, "Test and add");
  const form = h("form", { class: "add-account" },
    h("h2", {}, "Add an account"),
    h("label", { for: "new-url" }, "Server address (WebDAV)"), url,
    h("label", { for: "new-user" }, "User name"), user,
    h("label", { for: "new-kind" }, "Sign in with"), kind,
    secretLabel, password,
    kindHint,
    h("div", { class: "row" }, add),
    addResult);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    add.disabled = true;
    addResult.textContent = "Connecting…";
    try {
      const secret = kind.value === "token" ? { token: password.value } : { password: password.value };
      const a = await api.post("/api/accounts", { url: url.value.trim(), user: user.value.trim(), ...secret, test: true });
      password.value = "";
      addResult.textContent = `Connected: ${a.user} at ${a.url} is added.`;
      await load();
    } catch (e) {
      addResult.textContent = `Not added: ${e.message}`;
    } finally {
      add.disabled = false;
    }
  });

  clear(root);
  root.append(h("h1", {}, "Accounts"), list, form);
  await load();
  // A state change of a synchronization (credentials required, or running
  // again after a new password) shows here as it happens; the items are
  // updated in place (see `items`).
  let timer = null;
  const unsubscribe = events.subscribe((ev) => {
    if (ev.type === "state") {
      if (states.get(ev.sync.id) === ev.sync.state) return;
      states.set(ev.sync.id, ev.sync.state);
    } else if (ev.type !== "config" && ev.type !== "lagged") {
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(() => load().catch(() => {}), 300);
  });
  return () => {
    clearTimeout(timer);
    unsubscribe();
  };
}
