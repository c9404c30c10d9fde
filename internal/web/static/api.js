// The HTTP API of nbpair as the app calls it: bearer tokens, JSON bodies,
// errors as APIError with the API's numeric code, and the server-sent
// events of an activation read with fetch (EventSource cannot send the
// Authorization header).

const sessionKey = 'nbpair.session'; // localStorage: {token, uid, username, expiresAt}
const adminKey = 'nbpair.admin'; // sessionStorage: the admin token

/** An error answer of the API: {code, name, message} and the HTTP status. */
export class APIError extends Error {
  constructor(status, body, retryAfter) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || 0;
    this.name = body.name || 'Error';
    this.retryAfter = retryAfter || 0;
  }
}

/** The logged-in user's session, or null. */
export function session() {
  try {
    const s = JSON.parse(localStorage.getItem(sessionKey));
    if (s && s.token && (!s.expiresAt || Date.parse(s.expiresAt) > Date.now())) return s;
  } catch { /* a damaged entry is no session */ }
  return null;
}

export function setSession(s) {
  if (s) localStorage.setItem(sessionKey, JSON.stringify(s));
  else localStorage.removeItem(sessionKey);
}

export function adminToken() { return sessionStorage.getItem(adminKey) || ''; }

export function setAdminToken(t) {
  if (t) sessionStorage.setItem(adminKey, t);
  else sessionStorage.removeItem(adminKey);
}

/**
 * Calls the API. body is JSON unless it is a Blob (sent as it is, with
 * type as its Content-Type). Answers the decoded JSON, null for 204, or the
 * Response itself when raw is set; throws APIError.
 */
export async function call(method, path, { body, type, token, raw, signal } = {}) {
  const headers = {};
  if (token) headers.Authorization = 'Bearer ' + token;
  let payload;
  if (body instanceof Blob) {
    payload = body;
    headers['Content-Type'] = type || body.type || 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: payload, signal, cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new APIError(0, { code: 0, name: 'NetworkError', message: 'the server cannot be reached' });
  }
  if (!resp.ok) {
    let b;
    try { b = await resp.json(); } catch { b = { message: `HTTP ${resp.status} ${resp.statusText}` }; }
    throw new APIError(resp.status, b, Number(resp.headers.get('Retry-After')) || 0);
  }
  if (raw) return resp;
  if (resp.status === 204) return null;
  return resp.json();
}

/** Calls the API as the logged-in user. */
export function user(method, path, opts = {}) {
  return call(method, path, { ...opts, token: session()?.token });
}

/** Calls the admin API with the admin token. */
export function admin(method, path, opts = {}) {
  return call(method, path, { ...opts, token: adminToken() });
}

/**
 * Yields each "activation" event of GET /v1/activations/{id}/events until
 * the stream ends.
 */
export async function* activationEvents(id, signal) {
  const resp = await user('GET', `/v1/activations/${encodeURIComponent(id)}/events`, { raw: true, signal });
  for await (const { event, data } of serverEvents(resp, signal)) {
    if (event === 'activation') yield data;
  }
}

/** Yields each event of the admin dashboard's stream: {event, data}. */
export async function* dashboardEvents(signal) {
  const resp = await admin('GET', '/v1/admin/dashboard/events', { raw: true, signal });
  yield* serverEvents(resp, signal);
}

/**
 * Yields the server-sent events of a response, read with a stream reader
 * (EventSource cannot send the Authorization header), as {event, data}
 * with data decoded from JSON.
 */
async function* serverEvents(resp, signal) {
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  signal?.addEventListener('abort', () => reader.cancel().catch(() => {}));
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue; // a keepalive comment
        const [field, ...rest] = line.split(':');
        const v = rest.join(':').replace(/^ /, '');
        if (field === 'event') event = v;
        else if (field === 'data') data.push(v);
      }
      if (data.length) yield { event, data: JSON.parse(data.join('\n')) };
    }
  }
}

/** Downloads an API answer (admin) as a file through a blob URL. */
export async function download(path, fallbackName) {
  const resp = await admin('GET', path, { raw: true });
  const cd = resp.headers.get('Content-Disposition') || '';
  const m = /filename="([^"]+)"/.exec(cd);
  const url = URL.createObjectURL(await resp.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = m ? m[1] : fallbackName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return a.download;
}
