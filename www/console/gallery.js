// Recent captures (GET /captures) with thumbnails and downloads, each with its upload state,
// and the upload queue's depth and last error (GET /system/telemetry's `uploads`). A
// thumbnail is GET /captures/{id}: the JPEG while it is on the device (the session cookie
// goes along, same origin), a 303 to the uploaded image once it is uploaded. New captures
// appear without a reload: the list is polled, and at once after a capture from this page.

import { h } from '../dom.js';
import { CAPTURED_EVENT } from './capture.js';
import { uploadState, stateChip } from './upload_state.js';

const SHOWN = 12;
const POLL_MS = 5000;

export async function mount(root, ctx) {
  const body = root.querySelector('[data-body]');
  const signIn = h('p', { class: 'needs-login' }, 'Sign in to see the captures.');
  const queue = h('dl', { class: 'facts queue', 'data-queue': '' });
  const list = h('ul', { class: 'gallery', 'data-gallery': '' });
  const empty = h('p', { class: 'muted', hidden: true }, 'No captures yet.');
  const error = h('p', { class: 'form-error', role: 'status' });
  const content = h('div', {}, queue, error, list, empty);
  body.replaceChildren(signIn, content);

  const items = new Map(); // image_id → { li, key }
  let poller = null;
  let lastUploads = null;

  function fact(name, value, attrs = {}) {
    return h('div', attrs, h('dt', {}, name), h('dd', {}, value));
  }

  function showQueue(u) {
    if (!u) { queue.replaceChildren(); return; }
    const sink = u.sink === null ? 'none (kept on this camera)' : u.sink;
    queue.replaceChildren(
      fact('Upload target', sink),
      fact('Queue', `${u.queue_depth} waiting`, { 'data-queue-depth': String(u.queue_depth) }),
      fact('Uploaded', String(u.uploaded)),
      fact('Last error', lastError(u), { 'data-last-error': '' }),
    );
  }

  // Telemetry keeps the last error after the queue recovers: say when uploads worked since,
  // so an old failure does not read as a current one.
  function lastError(u) {
    if (!u.last_error) return 'none';
    const at = u.last_error_at ? ` (${new Date(u.last_error_at).toLocaleString()})` : '';
    const recovered = u.last_success_at && u.last_error_at
      && Date.parse(u.last_success_at) > Date.parse(u.last_error_at);
    return `${u.last_error}${at}${recovered ? '; uploads have succeeded since' : ''}`;
  }

  function card(c, uploads) {
    const state = uploadState(c, uploads);
    const id = c.image_id;
    const when = new Date(c.created_at);
    const product = c.upload_metadata && c.upload_metadata.product_id !== undefined ? `product ${c.upload_metadata.product_id}` : '';
    // Once uploaded, picamd keeps no copy and /captures/{id} redirects to the sink, which
    // this page's CSP does not load images from: the card links to it instead.
    const local = state.key !== 'uploaded';
    const thumb = local
      ? h('img', {
        src: `/captures/${id}`, alt: `Capture ${id.slice(0, 8)}, ${when.toLocaleString()}`,
        decoding: 'async', width: 160, height: 90,
      })
      : h('span', { class: 'thumb-missing' }, 'uploaded');
    const open = state.url || `/captures/${id}`;
    const li = h('li', { class: 'shot', 'data-image-id': id, 'data-state': state.key },
      h('a', { class: 'thumb', href: open, target: '_blank', rel: 'noopener noreferrer', 'aria-label': `Open capture ${id.slice(0, 8)}` }, thumb),
      h('div', { class: 'shot-text' },
        stateChip(state),
        h('span', { class: 'muted' }, when.toLocaleTimeString(), product ? ` · ${product}` : ''),
        state.reason ? h('span', { class: 'form-error' }, state.reason) : null,
        local
          ? h('a', { href: `/captures/${id}`, download: `${id}.jpg` }, 'Download')
          : (state.url ? h('a', { href: state.url, rel: 'noopener noreferrer', target: '_blank' }, 'Uploaded image') : null)));
    return { li, key: `${state.key}|${state.reason}` };
  }

  async function refresh() {
    const [r, t] = await Promise.all([ctx.api.get(`/captures?limit=${SHOWN}`), ctx.api.get('/system/telemetry')]);
    if (!r.ok) {
      if (ctx.api.needsLogin(r)) { ctx.session.lost(); return; }
      error.textContent = r.detail;
      return;
    }
    error.textContent = '';
    // A telemetry answer that did not come keeps the last one, so the cards do not flicker.
    if (t.ok) lastUploads = t.data.uploads;
    const uploads = lastUploads;
    showQueue(uploads);
    const captures = r.data.captures || [];
    const keep = new Set(captures.map((c) => c.image_id));
    for (const [id, item] of items) if (!keep.has(id)) { item.li.remove(); items.delete(id); }
    let before = list.firstChild;
    for (const c of captures) {
      const next = card(c, uploads);
      const old = items.get(c.image_id);
      let li = old ? old.li : null;
      // Only a changed state rebuilds a card, so thumbnails are not fetched again.
      if (!old || old.key !== next.key) {
        if (old) old.li.replaceWith(next.li);
        li = next.li;
        items.set(c.image_id, next);
      }
      if (li !== before) list.insertBefore(li, before);
      before = li.nextSibling;
    }
    empty.hidden = captures.length > 0;
  }

  document.addEventListener(CAPTURED_EVENT, () => { if (poller) poller.now(); });
  ctx.session.onChange(({ known, authed }) => {
    signIn.hidden = !known || authed;
    content.hidden = !authed;
    if (authed && !poller) poller = ctx.every(POLL_MS, refresh);
    if (!authed && poller) {
      poller.stop();
      poller = null;
      items.clear();
      list.replaceChildren();
      queue.replaceChildren();
    }
  });
}
