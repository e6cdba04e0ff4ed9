// The console's one way to talk to picamd: same-origin fetches that carry the browser session
// cookie (never a key: the page holds none). An answer is always an object, never a throw:
// { ok, status, data, detail, retryAfter }, where `detail` is a sentence fit to show next to a control.

const NO_ANSWER = 'the camera did not answer';

/** A FastAPI-style `detail`: a string, or a list of { loc, msg } (422), as one sentence. */
export function detailText(body, status) {
  const d = body && body.detail;
  if (typeof d === 'string') return d;
  if (Array.isArray(d)) {
    return d.map((e) => {
      const where = Array.isArray(e.loc) ? e.loc.filter((p) => p !== 'body').join('.') : '';
      return where ? `${where}: ${e.msg}` : String(e.msg);
    }).join('; ');
  }
  return `HTTP ${status}`;
}

/**
 * One request. `body` (when not undefined) is sent as JSON. `signal` aborts it.
 * Network failures come back as status 0 with a readable detail.
 */
export async function request(method, path, body, { signal } = {}) {
  const init = { method, cache: 'no-store', credentials: 'same-origin', signal, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    return { ok: false, status: 0, data: null, detail: NO_ANSWER };
  }
  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try { data = await res.json(); } catch (_) { data = null; }
  }
  return {
    ok: res.ok,
    status: res.status,
    data,
    detail: res.ok ? '' : detailText(data, res.status),
    retryAfter: Number(res.headers.get('Retry-After')) || 0, // seconds, with a 429 or 503
  };
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const send = (method, path, body, opts) => request(method, path, body, opts);

/** Whether an answer means "sign in first" rather than a fault. */
export const needsLogin = (r) => r.status === 401 || r.status === 403;
