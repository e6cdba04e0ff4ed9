// Sign in and out. The key is typed into a password field and posted once to /auth/login,
// which answers with an HttpOnly session cookie; the field is cleared at once and the key is
// never stored or shown by the page.

import { h } from '../dom.js';
import { detailText } from './api.js';
import * as session from './session.js';

async function postForm(path, fields) {
  try {
    const res = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      redirect: 'manual', // the 303 is the success; we stay on this page
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    });
    if (res.type === 'opaqueredirect' || res.ok) return null;
    let body = null;
    try { body = await res.json(); } catch (_) { /* no JSON */ }
    if (res.status === 429) {
      const wait = res.headers.get('Retry-After');
      return `Too many wrong keys: try again${wait ? ` in ${wait} s` : ' later'}.`;
    }
    if (res.status === 401 || res.status === 403) return 'That key is not this camera\'s key.';
    return detailText(body, res.status);
  } catch (_) {
    return 'The camera did not answer.';
  }
}

export function mount(root) {
  const body = root.querySelector('[data-body]');
  const message = h('p', { class: 'form-error', role: 'alert', 'data-account-error': '' });
  const keyInput = h('input', {
    type: 'password', name: 'api_key', id: 'account-key', autocomplete: 'current-password',
    required: true, spellcheck: 'false',
  });
  const loginForm = h('form', { class: 'account-login', 'data-login': '' },
    h('label', { for: 'account-key' }, 'API key'),
    keyInput,
    h('button', { type: 'submit' }, 'Sign in'),
    message,
    h('p', { class: 'hint' }, 'The key is on the ', h('a', { href: '/setup#local-access' }, 'setup page'),
      ' (Local access). Signing in keeps a session cookie in this browser; the page never keeps the key.'));
  const logoutButton = h('button', { type: 'button', class: 'secondary', 'data-logout': '' }, 'Sign out');
  const signedIn = h('div', { class: 'account-in' },
    h('span', { class: 'chip chip-ok', 'data-signed-in': '' }, 'Signed in'), logoutButton);

  loginForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = keyInput.value;
    keyInput.value = '';
    message.textContent = '';
    const failure = await postForm('/auth/login', { api_key: key, redirect_url: '/' });
    if (failure) {
      message.textContent = failure;
      keyInput.focus();
      return;
    }
    await session.probe();
  });
  logoutButton.addEventListener('click', async () => {
    await postForm('/auth/logout', {});
    session.lost();
  });

  body.replaceChildren(loginForm, signedIn);
  session.onChange(({ known, authed }) => {
    loginForm.hidden = !known || authed;
    signedIn.hidden = !authed;
  });
}
