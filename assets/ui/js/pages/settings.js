// Settings: auto-start at login (the real state, read from the desktop's
// startup entry), notifications per category, how "Run all" starts the
// synchronizations, the default poll interval of new synchronizations, the
// global bandwidth limits (shared by every synchronization's transfers; a
// change applies to transfers under way), and the diagnostics bundle. Each control saves on its own (PATCH
// /api/settings) and shows the state the daemon answers.

import { limitInput, limitText, limitValue } from "../limits.js";

const CATEGORIES = [
  ["credentials", "A server asks for a password again"],
  ["confirmation", "A synchronization waits for you to confirm many deletions"],
  ["conflicts", "Conflicts: a file changed on both sides (both copies are kept)"],
  ["errors", "A synchronization stopped with an error"],
];

export async function render(root, ctx) {
  const { api, dom } = ctx;
  const { h, clear } = dom;
  let settings = await api.get("/api/settings");

  const autostartBox = h("input", { type: "checkbox", id: "autostart", "data-test": "autostart" });
  const autostartState = h("p", { class: "hint", "data-test": "autostart-state" });
  const notifyBoxes = {};
  const saved = h("p", { class: "saved", "data-test": "saved", role: "status" });
  const parallelBox = h("input", { type: "checkbox", id: "start-all-parallel", "data-test": "start-all-parallel" });
  const pollInput = h("input", {
    type: "number", id: "default-poll", min: "5", max: "86400", step: "1", "data-test": "default-poll",
  });
  const pollError = h("p", { class: "error", "data-test": "default-poll-error", role: "alert" });
  const diagResult = h("p", { class: "hint", "data-test": "diagnostics-result", role: "status" });
  const upInput = limitInput(h, "limit-up", null);
  upInput.id = "limit-up";
  const downInput = limitInput(h, "limit-down", null);
  downInput.id = "limit-down";
  const limitError = h("p", { class: "error", "data-test": "limit-error", role: "alert" });

  function show(s) {
    settings = s;
    autostartBox.checked = s.autostart.on;
    let state;
    if (s.autostart.error) {
      state = `Ferry cannot tell whether it starts at login: ${s.autostart.error}`;
    } else if (s.autostart.on) {
      state = "On: Ferry starts when you log in" + (s.autostart.file ? ` (${s.autostart.file}).` : ".");
    } else if (s.autostart.off_in_desktop_settings) {
      state = "Off: it was turned off in your desktop's startup settings" +
        (s.autostart.file ? ` (${s.autostart.file})` : "") +
        ". Tick the box to start Ferry at login again.";
    } else {
      state = "Off: start Ferry yourself after you log in (your files are synchronized only while it runs).";
    }
    autostartState.textContent = state;
    for (const [key] of CATEGORIES) notifyBoxes[key].checked = s.notifications[key];
    parallelBox.checked = s.start_all_parallel;
    pollInput.value = String(s.default_poll_interval_secs);
    const b = s.bandwidth || {};
    upInput.value = b.upload_kib_per_sec == null ? "" : String(b.upload_kib_per_sec);
    downInput.value = b.download_kib_per_sec == null ? "" : String(b.download_kib_per_sec);
  }

  async function change(patch, what) {
    saved.textContent = "";
    try {
      show(await api.patch("/api/settings", patch));
      saved.textContent = `Saved: ${what}.`;
      return true;
    } catch (e) {
      ctx.notice(e.message, "error");
      show(await api.get("/api/settings"));
      return false;
    }
  }

  autostartBox.addEventListener("change", () =>
    change({ autostart: autostartBox.checked }, autostartBox.checked ? "Ferry starts at login" : "Ferry does not start at login"));

  const notifyRows = CATEGORIES.map(([key, label]) => {
    const box = h("input", { type: "checkbox", id: `notify-${key}`, "data-test": `notify-${key}` });
    notifyBoxes[key] = box;
    box.addEventListener("change", () =>
      change({ notifications: { [key]: box.checked } }, `${box.checked ? "show" : "do not show"} “${label}”`));
    return h("div", { class: "check" }, box, h("label", { for: `notify-${key}` }, label));
  });

  parallelBox.addEventListener("change", () =>
    change({ start_all_parallel: parallelBox.checked },
      parallelBox.checked ? "“Run all” starts every synchronization at once" : "“Run all” runs them one after the other"));

  const pollSave = h("button", { type: "button", "data-test": "save-poll" }, "Save");
  async function savePoll() {
    pollError.textContent = "";
    const secs = Number(pollInput.value);
    if (!Number.isInteger(secs) || secs < 5 || secs > 86400) {
      pollError.textContent = "Give a whole number of seconds between 5 and 86400 (one day).";
      return;
    }
    await change({ default_poll_interval_secs: secs }, `new synchronizations look for changes on the server every ${secs} s`);
  }
  pollSave.addEventListener("click", savePoll);
  pollInput.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") savePoll();
  });

  const limitSave = h("button", { type: "button", "data-test": "save-limits" }, "Save");
  limitSave.addEventListener("click", async () => {
    limitError.textContent = "";
    const up = limitValue(upInput);
    const down = limitValue(downInput);
    saved.textContent = "";
    try {
      show(await api.patch("/api/settings", { bandwidth: { upload_kib_per_sec: up, download_kib_per_sec: down } }));
      const b = settings.bandwidth || {};
      saved.textContent = `Saved: upload ${limitText(b.upload_kib_per_sec)}, download ${limitText(b.download_kib_per_sec)}.`;
    } catch (e) {
      limitError.textContent = e.message;
    }
  });

  const diagButton = h("button", { type: "button", "data-test": "diagnostics" }, "Write a diagnostics file");
  diagButton.addEventListener("click", async () => {
    diagButton.disabled = true;
    diagResult.textContent = "Writing…";
    try {
      const d = await api.post("/api/diagnostics", {});
      diagResult.textContent = "";
      diagResult.append(
        "Written to ",
        h("code", { "data-test": "diagnostics-path" }, d.path),
        ` (${d.files} files, ${dom.fmtBytes(d.bytes)}). Passwords and user names were removed; ` +
          "look inside before you send it to anyone.",
      );
    } catch (e) {
      diagResult.textContent = `The diagnostics file could not be written: ${e.message}`;
    } finally {
      diagButton.disabled = false;
    }
  });

  clear(root);
  root.append(
    h("h1", {}, "Settings"),
    h("section", { class: "settings-group" },
      h("h2", {}, "Start at login"),
      h("div", { class: "check" }, autostartBox, h("label", { for: "autostart" }, "Start Ferry when I log in")),
      autostartState),
    h("section", { class: "settings-group" },
      h("h2", {}, "Notifications"),
      h("p", { class: "hint" }, "Ferry tells you when something needs you. Choose what:"),
      ...notifyRows),
    h("section", { class: "settings-group" },
      h("h2", {}, "Run all"),
      h("div", { class: "check" }, parallelBox,
        h("label", { for: "start-all-parallel" }, "Run all synchronizations at the same time (otherwise one after the other)"))),
    h("section", { class: "settings-group" },
      h("h2", {}, "New synchronizations"),
      h("label", { for: "default-poll" }, "Look for changes on the server every (seconds)"),
      h("div", { class: "row" }, pollInput, pollSave),
      pollError,
      h("p", { class: "hint" }, "Applies to synchronizations you add from now on; each one can be changed later.")),
    h("section", { class: "settings-group" },
      h("h2", {}, "Bandwidth"),
      h("p", { class: "hint" },
        "How fast all synchronizations together may send and receive files, in KiB/s (1024 KiB/s = 1 MiB/s). " +
          "Leave a field empty for no limit. Each synchronization can have its own limits too; both apply. " +
          "A change applies at once, also to files being transferred. Folders on another disk are not limited."),
      h("label", { for: "limit-up" }, "Upload limit (KiB/s)"),
      h("div", { class: "row" }, upInput),
      h("label", { for: "limit-down" }, "Download limit (KiB/s)"),
      h("div", { class: "row" }, downInput, limitSave),
      limitError),
    h("section", { class: "settings-group" },
      h("h2", {}, "Diagnostics"),
      h("p", { class: "hint" },
        "A file with Ferry's settings, recent log and statistics, to attach to a problem report. It holds no passwords and no file contents."),
      diagButton,
      diagResult),
    saved,
  );
  show(settings);
}
