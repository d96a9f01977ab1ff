// Bandwidth limit fields (KiB/s; empty: no limit), shared by the Settings
// page (the global limits) and a synchronization's settings (its own).
// What is typed goes to the daemon as it is (a number, or the text when it
// is not one): the daemon checks it and its sentence is what is shown.

// A text field (not type=number: the browser would turn "abc" into "",
// which reads as "no limit") holding `value` (null: empty).
export function limitInput(h, test, value) {
  const el = h("input", { type: "text", inputmode: "numeric", size: "10", placeholder: "no limit", "data-test": test });
  el.value = value == null ? "" : String(value);
  return el;
}

// What to send for a field: null (no limit), a number, or the text typed.
export function limitValue(input) {
  const t = input.value.trim();
  if (t === "") return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

// A limit in words.
export function limitText(kib) {
  return kib == null ? "no limit" : `${kib} KiB/s`;
}
