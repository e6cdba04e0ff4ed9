// Whether this browser is signed in (a session cookie from POST /auth/login). The cookie is
// HttpOnly, so the page asks GET /auth/session, which answers 200 either way (an anonymous
// visit logs no 401); panels subscribe to changes.

import { get } from './api.js';

const listeners = new Set();
let state = { known: false, authed: false };

export function current() {
  return state;
}

/** `fn(state)` now and on every change; returns the unsubscribe function. */
export function onChange(fn) {
  listeners.add(fn);
  fn(state);
  return () => listeners.delete(fn);
}

function set(authed) {
  if (state.known && state.authed === authed) return;
  state = { known: true, authed };
  for (const fn of listeners) fn(state);
}

/** Asks the camera; also call it when a panel saw a 401/403 (the session may have expired). */
export async function probe() {
  const r = await get('/auth/session');
  if (r.ok && r.data) set(r.data.authenticated === true);
  return state;
}

/** A panel got 401/403 on a keyed route: the session ended. */
export function lost() {
  set(false);
}
