// The daemon's event stream (`/api/events`, server-sent events), shared by
// every page: one EventSource for the whole page, opened on first use. A
// listener gets each event as the protocol's JSON (`{type: "state", sync}`,
// `{type: "transfer", ...}`, `{type: "config"}`, `{type: "lagged"}`); after
// `lagged` (or a reconnection) a page should re-read what it shows.

const listeners = new Set();
let source = null;

function open() {
  source = new EventSource('/api/events', { withCredentials: true });
  source.onmessage = (msg) => {
    let ev;
    try {
      ev = JSON.parse(msg.data);
    } catch (e) {
      return;
    }
    for (const fn of [...listeners]) {
      try {
        fn(ev);
      } catch (e) {
        console.error('event listener failed', e);
      }
    }
  };
  source.onopen = () => {
    // A reconnection may have missed events: tell the pages to re-read.
    for (const fn of [...listeners]) {
      try {
        fn({ type: 'lagged', missed: 0 });
      } catch (e) {
        console.error('event listener failed', e);
      }
    }
  };
}

// A page left for another (or kept in the back-forward cache) gives its
// connection back: browsers allow only six per server, and a page that kept
// its stream open would hold one of them while hidden.
window.addEventListener('pagehide', () => {
  if (source) {
    source.close();
    source = null;
  }
});
window.addEventListener('pageshow', () => {
  if (!source && listeners.size) open();
});

export const events = {
  /** Call `fn(event)` for each event; returns the function that stops it. */
  subscribe(fn) {
    listeners.add(fn);
    if (!source) open();
    return () => listeners.delete(fn);
  },
};
