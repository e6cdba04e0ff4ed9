// The setup page: the pairing-code countdown, copy buttons, "new code" and "unpair", and a poll
// of GET /pairing/state that reloads the page when the pairing state changes.

const POLL_MS = 2000;
// After asking for a new code, reload once the backend gave one (or failed), at the latest after:
const NEW_CODE_RELOAD_MS = 10000;

const shown = {
  status: document.body.dataset.pairingStatus || '',
  relayEnabled: document.body.dataset.relayEnabled === 'true',
};
const resultEl = document.querySelector('[data-action-result]');

function report(text, failed = false) {
  if (!resultEl) return;
  resultEl.textContent = text;
  resultEl.classList.toggle('failed', failed);
  resultEl.hidden = false;
}

// ------------------------------------------------------------------ countdown

/** Server clock minus ours, in ms: the Pi's clock decides when the code expires. */
async function serverOffsetMs() {
  try {
    const t0 = Date.now();
    const r = await fetch('/time', { cache: 'no-store' });
    const t1 = Date.now();
    if (!r.ok) return 0;
    const { unix_us: unixUs } = await r.json();
    return Number.isFinite(unixUs) ? unixUs / 1000 - (t0 + t1) / 2 : 0;
  } catch (_) {
    return 0;
  }
}

function formatLeft(ms) {
  const s = Math.ceil(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

async function startCountdown(el) {
  const ttl = Number(el.dataset.ttlMs) || 600000;
  const loadedAt = Date.now();
  const expiresAt = Date.parse(el.dataset.expiresAt || '');
  const offset = Number.isFinite(expiresAt) ? await serverOffsetMs() : 0;
  // No (or an unreadable) expiry time: the code is fresh, count the TTL from page load.
  const deadline = Number.isFinite(expiresAt) ? expiresAt - offset : loadedAt + ttl;
  const box = el.closest('.countdown') || el;
  const tick = () => {
    const left = deadline - Date.now();
    if (left > 0) {
      el.textContent = formatLeft(Math.min(left, ttl));
      return;
    }
    clearInterval(timer);
    box.classList.add('expired');
    box.textContent = 'This code has expired. Generate a new pairing code.';
  };
  const timer = setInterval(tick, 1000);
  tick();
}

const expiry = document.querySelector('[data-pairing-expiry]');
if (expiry) startCountdown(expiry);

// ------------------------------------------------------------------ copy buttons

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (_) { /* fall through */ }
  }
  // Plain http to a LAN address is not a secure context: copy through a selection instead.
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch (_) { /* not allowed */ }
  area.remove();
  return ok;
}

for (const button of document.querySelectorAll('[data-copy]')) {
  const label = button.textContent;
  button.addEventListener('click', async () => {
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const ok = await copyText(source.textContent.trim());
    if (!ok) {
      // Leave the text selected so the reader can copy it by hand.
      getSelection().selectAllChildren(source);
    }
    button.textContent = ok ? 'Copied' : 'Press Ctrl+C to copy';
    setTimeout(() => { button.textContent = label; }, 1500);
  });
}

// ------------------------------------------------------------------ new code, unpair

let newCodeAskedAt = null;

async function send(method, path) {
  try {
    // Pairing control needs the key (plugin 0.4+); this page shows it to local peers only.
    const key = document.getElementById('local-api-key')?.textContent.trim();
    const r = await fetch(path, { method, headers: key ? { 'X-API-Key': key } : {} });
    if (r.ok) return null;
    let detail = '';
    try {
      const body = await r.json();
      if (typeof body.detail === 'string') detail = `: ${body.detail}`;
    } catch (_) { /* no JSON body */ }
    return `HTTP ${r.status}${detail}`;
  } catch (e) {
    return 'the camera did not answer';
  }
}

for (const button of document.querySelectorAll('[data-new-code]')) {
  button.addEventListener('click', async () => {
    button.disabled = true;
    report('Asking the backend for a new pairing code…');
    const failure = await send('POST', '/pairing/code');
    if (failure) {
      button.disabled = false;
      report(`Could not ask for a new code: ${failure}.`, true);
      return;
    }
    newCodeAskedAt = Date.now();
  });
}

const dialog = document.getElementById('unpair-dialog');
const unpairOpen = document.querySelector('[data-unpair-open]');

async function unpair() {
  if (unpairOpen) unpairOpen.disabled = true;
  report('Unpairing…');
  const failure = await send('DELETE', '/pairing');
  if (failure) {
    if (unpairOpen) unpairOpen.disabled = false;
    report(`Could not unpair: ${failure}.`, true);
  }
  // Success: the poll sees relay_enabled turn false and reloads.
}

if (unpairOpen) {
  unpairOpen.addEventListener('click', () => {
    if (dialog && typeof dialog.showModal === 'function') dialog.showModal();
    else if (window.confirm('Unpair this camera from RELab?')) unpair();
  });
}
if (dialog) {
  dialog.addEventListener('close', () => {
    if (dialog.returnValue === 'unpair') unpair();
    dialog.returnValue = '';
  });
}

// ------------------------------------------------------------------ local access link

const localAccess = document.getElementById('local-access');
if (localAccess && location.hash === '#local-access') localAccess.open = true;

// ------------------------------------------------------------------ state poll

function shouldReload(state) {
  if (state.status !== shown.status || Boolean(state.relay_enabled) !== shown.relayEnabled) return true;
  if (newCodeAskedAt === null) return false;
  // A new code can go waiting → idle → registering → waiting between two polls.
  const waited = Date.now() - newCodeAskedAt;
  return (waited > 1000 && (state.status === 'waiting' || state.status === 'error')) ||
    waited > NEW_CODE_RELOAD_MS;
}

async function poll() {
  try {
    const r = await fetch('/pairing/state', { cache: 'no-store' });
    if (r.ok && shouldReload(await r.json())) {
      location.reload();
      return;
    }
  } catch (_) { /* the camera is restarting or the network blinked: keep asking */ }
  setTimeout(poll, POLL_MS);
}

setTimeout(poll, POLL_MS);
