// The daemon's loopback API, as the page uses it: same-origin requests with
// the session cookie (set by /login), JSON in and out. Errors are thrown as
// `ApiError` carrying the daemon's own message, which pages show as it is.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'unreachable', 'Ferry is not running (or stopped): start Ferry, then open the preferences again.');
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = null;
    }
  }
  if (!resp.ok) {
    if (resp.status === 401) {
      document.dispatchEvent(new CustomEvent('ferry:signed-out'));
      throw new ApiError(401, 'unauthorized', 'This page is no longer signed in: open the preferences again from Ferry\'s tray icon or with `ferry prefs`.');
    }
    const message = (data && data.error) || `${resp.status} ${resp.statusText}`;
    throw new ApiError(resp.status, (data && data.code) || 'error', message);
  }
  return data;
}

export const api = {
  get: (path) => call('GET', path),
  post: (path, body = {}) => call('POST', path, body),
  put: (path, body) => call('PUT', path, body),
  patch: (path, body) => call('PATCH', path, body),
  del: (path) => call('DELETE', path),
};

/** `path` with `params` (an object; empty values left out) as its query. */
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
