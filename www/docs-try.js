// "Try it": a form per operation that sends the request with fetch and shows what came back.

import { h } from './dom.js';
import { describeSchema, exampleOf } from './docs-model.js';

// Streams (MJPEG, blocking playlists) never end on their own: read this much, then stop.
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const MAX_WAIT_MS = 30000;
const TEXT_SHOWN = 200000;

const TEXT_TYPES = /^(text\/|application\/(json|[\w.+-]+\+json|xml|[\w.+-]+\+xml|javascript|x-www-form-urlencoded|vnd\.apple\.mpegurl|x-mpegurl))/i;

function mediaType(contentType) {
  return String(contentType || '').split(';')[0].trim().toLowerCase();
}

function concat(chunks, size) {
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

/**
 * Reads at most `max` bytes, or until `enough(bytesSoFar)`. An aborted read (Cancel, time
 * limit) keeps what arrived so far.
 */
async function readCapped(resp, max, enough = null) {
  if (!resp.body) return { bytes: new Uint8Array(await resp.arrayBuffer()), truncated: false };
  const reader = resp.body.getReader();
  const chunks = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    let step;
    try {
      step = await reader.read();
    } catch (_) {
      truncated = true;
      break;
    }
    if (step.done) break;
    chunks.push(step.value);
    size += step.value.length;
    if (size >= max || (enough && enough(concat(chunks, size)))) {
      truncated = true;
      reader.cancel().catch(() => {});
      break;
    }
  }
  return { bytes: concat(chunks, size), truncated };
}

function dataUrl(type, bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return `data:${type};base64,${btoa(bin)}`;
}

/** The first complete JPEG (SOI … EOI) in a multipart stream, or null. */
function firstJpeg(bytes) {
  let start = -1;
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (start < 0 && bytes[i] === 0xff && bytes[i + 1] === 0xd8) start = i;
    else if (start >= 0 && bytes[i] === 0xff && bytes[i + 1] === 0xd9) return bytes.subarray(start, i + 2);
  }
  return null;
}

function hexPreview(bytes) {
  const shown = Array.from(bytes.subarray(0, 64), (b) => b.toString(16).padStart(2, '0'));
  const lines = [];
  for (let i = 0; i < shown.length; i += 16) lines.push(shown.slice(i, i + 16).join(' '));
  return lines.join('\n');
}

function formatSize(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

function bodyView(type, bytes, truncated) {
  const cut = truncated ? ` (stopped after ${formatSize(bytes.length)})` : '';
  if (!bytes.length) return h('p', { class: 'muted' }, 'No body.');
  if (type.startsWith('image/')) {
    return h('div', { class: 'body-image' },
      h('p', {}, `${type}, ${formatSize(bytes.length)}${cut}`),
      truncated ? null : h('img', { src: dataUrl(type, bytes), alt: 'Response image' }));
  }
  if (type === 'multipart/x-mixed-replace') {
    const jpeg = firstJpeg(bytes);
    return h('div', { class: 'body-image' },
      h('p', {}, `A stream (${type}): read ${formatSize(bytes.length)}${cut}.${jpeg ? ' Its first frame:' : ''}`),
      jpeg ? h('img', { src: dataUrl('image/jpeg', jpeg), alt: 'First frame of the stream' }) : null);
  }
  if (TEXT_TYPES.test(type) || type === '') {
    let text = new TextDecoder('utf-8').decode(bytes);
    if (type.includes('json')) {
      try {
        text = JSON.stringify(JSON.parse(text), null, 2);
      } catch (_) { /* shown as sent */ }
    }
    const more = text.length > TEXT_SHOWN ? `\n… (${text.length - TEXT_SHOWN} more characters)` : '';
    return h('div', {}, cut ? h('p', { class: 'muted' }, cut.trim()) : null,
      h('pre', { class: 'body-text' }, text.slice(0, TEXT_SHOWN) + more));
  }
  return h('div', {},
    h('p', {}, `${type}, ${formatSize(bytes.length)}${cut}. First bytes:`),
    h('pre', { class: 'body-text' }, hexPreview(bytes)));
}

function paramInput(p, id) {
  const schema = p.schema || {};
  const values = Array.isArray(schema.enum) ? schema.enum.filter((v) => v !== null)
    : schema.type === 'boolean' ? [true, false] : null;
  if (values) {
    return h('select', { id, name: p.name },
      h('option', { value: '' }, p.required ? 'choose…' : '(not sent)'),
      values.map((v) => h('option', { value: String(v) }, String(v))));
  }
  const hint = p.example !== undefined ? p.example : schema.default !== undefined ? schema.default : schema.example;
  const input = h('input', {
    id, name: p.name, type: 'text', autocomplete: 'off', spellcheck: 'false',
    placeholder: hint !== undefined ? String(hint) : '',
  });
  // A path cannot be sent without its parameters: start from the documented example.
  if (p.in === 'path' && p.example !== undefined) input.value = String(p.example);
  return input;
}

function pickBody(doc, body) {
  if (!body || !body.contents.length) return null;
  const json = body.contents.find((c) => /json/i.test(c.type));
  const chosen = json || body.contents[0];
  const type = chosen.type;
  if (/json/i.test(type)) {
    const example = chosen.example !== undefined ? chosen.example : exampleOf(chosen.schema || describeSchema(doc, {}));
    return { type, kind: 'text', initial: JSON.stringify(example, null, 2) };
  }
  if (/^text\/|x-www-form-urlencoded/i.test(type)) return { type, kind: 'text', initial: '' };
  if (/^multipart\//i.test(type)) return { type, kind: 'unsupported', initial: '' };
  return { type, kind: 'file', initial: '' };
}

/**
 * The form for one operation. `entry` comes from operations(); `access` from accessOf();
 * `getKey()` returns the API key typed on the page.
 */
export function tryIt(doc, entry, access, requestBody, getKey) {
  const uid = entry.id;
  const params = entry.parameters.filter((p) => p.in === 'path' || p.in === 'query' || p.in === 'header');
  const inputs = new Map();
  const rows = params.map((p, i) => {
    const id = `${uid}-p${i}`;
    const input = paramInput(p, id);
    inputs.set(p, input);
    return h('div', { class: 'try-row' },
      h('label', { for: id }, h('code', {}, p.name), ` (${p.in})`, p.required ? h('span', { class: 'tag tag-req' }, 'required') : null),
      input);
  });

  const bodySpec = pickBody(doc, requestBody);
  let bodyInput = null;
  let bodyRow = null;
  if (bodySpec) {
    const id = `${uid}-body`;
    if (bodySpec.kind === 'text') {
      bodyInput = h('textarea', { id, rows: Math.min(14, Math.max(3, bodySpec.initial.split('\n').length + 1)), spellcheck: 'false' });
      bodyInput.value = bodySpec.initial;
    } else if (bodySpec.kind === 'file') {
      bodyInput = h('input', { id, type: 'file' });
    }
    bodyRow = h('div', { class: 'try-row try-body' },
      h('label', { for: id }, `Body (${bodySpec.type})`),
      bodyInput || h('p', { class: 'muted' }, 'This body type cannot be sent from here; use curl.'));
  }

  const keyNote = access.headers.length
    ? h('p', { class: 'hint' }, `Sends the API key above as ${access.headers.join(', ')}.`)
    : null;
  const sendButton = h('button', { type: 'submit' }, 'Send');
  const cancelButton = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Cancel');
  const result = h('div', { class: 'try-result', 'aria-live': 'polite' });
  let controller = null;

  const form = h('form', { class: 'try-form', novalidate: true },
    rows, bodyRow, keyNote,
    h('div', { class: 'actions' }, sendButton, cancelButton),
    result);

  cancelButton.addEventListener('click', () => {
    if (controller) controller.abort();
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const missing = [];
    let path = entry.path;
    const query = new URLSearchParams();
    const headers = new Headers();
    for (const [p, input] of inputs) {
      const value = input.value;
      if (value === '') {
        if (p.required) missing.push(p.name);
        continue;
      }
      if (p.in === 'path') {
        // Keep slashes: a `{path}` parameter may be several segments (the HLS route).
        const encoded = value.split('/').map(encodeURIComponent).join('/');
        path = path.split(`{${p.name}}`).join(encoded);
      } else if (p.in === 'query') {
        query.append(p.name, value);
      } else {
        headers.set(p.name, value);
      }
    }
    if (missing.length) {
      result.replaceChildren(h('p', { class: 'error-text' }, `Fill in: ${missing.join(', ')}.`));
      return;
    }
    const key = getKey();
    for (const name of access.headers) if (key) headers.set(name, key);

    const init = { method: entry.method.toUpperCase(), headers, cache: 'no-store' };
    if (bodySpec && bodyInput) {
      if (bodySpec.kind === 'file') {
        const file = bodyInput.files && bodyInput.files[0];
        if (file) init.body = file;
      } else if (bodyInput.value.trim() !== '') {
        if (/json/i.test(bodySpec.type)) {
          try {
            JSON.parse(bodyInput.value);
          } catch (e) {
            result.replaceChildren(h('p', { class: 'error-text' }, `The body is not valid JSON: ${e.message}`));
            return;
          }
        }
        init.body = bodyInput.value;
      }
      if (init.body !== undefined) headers.set('Content-Type', bodySpec.type);
    }

    // Requests stay on this camera: a document path like `//host/x` would leave it.
    if (!path.startsWith('/') || path.startsWith('//')) {
      result.replaceChildren(h('p', { class: 'error-text' }, `Not sent: ${path} is not a path on this camera.`));
      return;
    }
    const qs = query.toString();
    const url = path + (qs ? `?${qs}` : '');
    controller = new AbortController();
    init.signal = controller.signal;
    const timer = setTimeout(() => controller.abort(), MAX_WAIT_MS);
    sendButton.disabled = true;
    cancelButton.hidden = false;
    result.replaceChildren(h('p', { class: 'muted' }, `${init.method} ${url} …`));
    const started = performance.now();
    try {
      const resp = await fetch(url, init);
      const type = mediaType(resp.headers.get('content-type'));
      // An MJPEG stream never ends: its first frame is enough.
      const read = type === 'multipart/x-mixed-replace'
        ? await readCapped(resp, MAX_BODY_BYTES, (bytes) => firstJpeg(bytes) !== null)
        : await readCapped(resp, MAX_BODY_BYTES);
      const ms = Math.round(performance.now() - started);
      const headerLines = [...resp.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
      result.replaceChildren(
        h('p', { class: 'try-status' },
          h('span', { class: `status-code status-${String(resp.status)[0]}xx` }, `HTTP ${resp.status}`),
          ` ${resp.statusText} · ${ms} ms · `, h('code', {}, `${init.method} ${url}`)),
        h('details', { class: 'try-headers' }, h('summary', {}, 'Response headers'), h('pre', { class: 'body-text' }, headerLines)),
        bodyView(type, read.bytes, read.truncated));
    } catch (e) {
      const why = controller.signal.aborted ? 'cancelled (or no answer within 30 s)' : (e && e.message) || String(e);
      result.replaceChildren(h('p', { class: 'error-text' }, `Request failed: ${why}`));
    } finally {
      clearTimeout(timer);
      controller = null;
      sendButton.disabled = false;
      cancelButton.hidden = true;
    }
  });

  return form;
}
