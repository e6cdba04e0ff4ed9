// YouTube live: start with the stream key and the broadcast key (POST /streams/youtube), its
// state (telemetry's `youtube`, then GET /streams/youtube while one runs), stop (DELETE). The keys are
// secrets: password fields, read once when sending and cleared at once, never stored. The
// state is asked once when signed in and then only while a stream runs, so a camera that does
// not stream is not asked (and does not answer 404) every few seconds.

import { h } from '../dom.js';
import { failure, when } from './activity-format.js';

const LIVE_POLL_MS = 5000;
const KEY_PATTERN = '[A-Za-z0-9_\\-]+';

function secret(id, label, hint) {
  const input = h('input', {
    id, type: 'password', required: true, autocomplete: 'off', spellcheck: 'false',
    autocapitalize: 'off', pattern: KEY_PATTERN, 'aria-describedby': `${id}-hint`,
  });
  return {
    input,
    node: h('div', { class: 'act-field' },
      h('label', { for: id }, label), input, h('span', { class: 'hint', id: `${id}-hint` }, hint)),
  };
}

export function mount(root, { api, session, every }) {
  const body = root.querySelector('[data-body]');
  const login = h('p', { class: 'needs-login' }, 'Sign in to stream to YouTube.');

  const chip = h('span', { class: 'chip', 'data-yt-chip': '' }, '…');
  const watch = h('span', { class: 'act-detail', 'data-yt-detail': '' });
  const streamKey = secret('yt-stream-key', 'Stream key', 'YouTube Studio → Go live → Stream key');
  const broadcastKey = secret('yt-broadcast-key', 'Broadcast id', 'the id in the broadcast\'s watch URL (for the link)');
  const startButton = h('button', { type: 'submit', 'data-yt-start': '' }, 'Go live');
  const formError = h('p', { class: 'form-error', role: 'alert', 'data-yt-error': '' });
  const form = h('form', { class: 'act-form', 'data-yt-form': '', autocomplete: 'off', novalidate: true },
    h('div', { class: 'act-fields' }, streamKey.node, broadcastKey.node),
    h('div', { class: 'actions act-actions' }, startButton),
    formError);
  const stopButton = h('button', { type: 'button', class: 'secondary', 'data-yt-stop': '' }, 'Stop streaming');
  const stopError = h('p', { class: 'form-error', role: 'alert', 'data-yt-stop-error': '' });
  const live = h('div', { hidden: true }, h('div', { class: 'actions act-actions' }, stopButton), stopError);
  const signedIn = h('div', { hidden: true },
    h('div', { class: 'act-row', 'aria-live': 'polite' }, chip, watch), form, live);
  body.replaceChildren(login, signedIn);

  let poller = null;

  function showStream(view) {
    chip.className = 'chip chip-bad';
    chip.dataset.state = 'live';
    chip.textContent = 'Streaming';
    const href = /^https:\/\//.test(view.url) ? view.url : null;
    watch.replaceChildren(href ? h('a', { href, rel: 'noopener noreferrer', target: '_blank' }, 'watch on YouTube') : '',
      ` · since ${when(view.started_at)}`);
    form.hidden = true;
    live.hidden = false;
    if (!poller) poller = every(LIVE_POLL_MS, refresh);
  }

  function showIdle(text) {
    chip.className = 'chip chip-ready';
    chip.dataset.state = 'idle';
    chip.textContent = 'Not streaming';
    watch.textContent = text || '';
    form.hidden = false;
    live.hidden = true;
    if (poller) { poller.stop(); poller = null; }
  }

  // Telemetry's `youtube` (the running stream, else the last one) says whether one runs, so an
  // idle camera is never asked GET /streams/youtube, whose 404 would be a console error.
  async function refresh() {
    const t = await api.get('/system/telemetry');
    if (api.needsLogin(t)) { session.lost(); return; }
    if (!t.ok || !t.data) { watch.textContent = failure(t, 'Cannot read the stream'); return; }
    const y = t.data.youtube;
    if (!y || y.state === 'ended') {
      const why = y && y.ended && poller ? `the stream ended: ${y.ended.reason.replace(/_/g, ' ')}` : '';
      showIdle(why);
      return;
    }
    const r = await api.get('/streams/youtube');
    if (r.ok && r.data) showStream(r.data);
    else if (r.status === 404) showIdle(poller ? 'the stream ended' : '');
    else if (api.needsLogin(r)) session.lost();
    else watch.textContent = failure(r, 'Cannot read the stream');
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    formError.textContent = '';
    const missing = [streamKey, broadcastKey].find((f) => !f.input.value || !f.input.checkValidity());
    if (missing) {
      formError.textContent = `${missing.input.labels[0].textContent}: letters, digits, - and _ only, and not empty.`;
      missing.input.focus();
      return;
    }
    // Read once, cleared at once: the keys live only in this request.
    const payload = { stream_key: streamKey.input.value, broadcast_key: broadcastKey.input.value };
    streamKey.input.value = '';
    broadcastKey.input.value = '';
    startButton.disabled = true;
    chip.className = 'chip chip-ready';
    chip.textContent = 'Connecting…';
    watch.textContent = 'waiting for the ingest server (up to 10 s)';
    const r = await api.send('POST', '/streams/youtube', payload);
    startButton.disabled = false;
    if (r.ok && r.data) {
      showStream(r.data);
      return;
    }
    if (api.needsLogin(r)) session.lost();
    showIdle('');
    formError.textContent = r.status === 502
      ? `The ingest server did not take the stream: ${r.detail}`
      : failure(r, 'Cannot start the stream');
    if (r.status === 409) refresh();
  });

  stopButton.addEventListener('click', async () => {
    stopButton.disabled = true;
    stopError.textContent = '';
    const r = await api.send('DELETE', '/streams/youtube');
    stopButton.disabled = false;
    if (r.ok || r.status === 404) {
      showIdle('stopped');
      return;
    }
    if (api.needsLogin(r)) session.lost();
    stopError.textContent = failure(r, 'Cannot stop the stream');
  });

  session.onChange(({ known, authed }) => {
    login.hidden = !known || authed;
    signedIn.hidden = !authed;
    if (authed) refresh();
    else if (poller) { poller.stop(); poller = null; }
  });
}
