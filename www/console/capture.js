// Take a still: POST /captures with the upload metadata the sinks use (product_id names the
// S3 folder and the backend's product; description travels along). The answer shows at once
// with its upload state, which is then followed in GET /captures until it settles.

import { h } from '../dom.js';
import { uploadState, stateChip } from './upload_state.js';

export const CAPTURED_EVENT = 'picamd:captured';

export async function mount(root, ctx) {
  const body = root.querySelector('[data-body]');
  const signIn = h('p', { class: 'needs-login' }, 'Sign in to take captures.');
  const product = h('input', { id: 'capture-product', name: 'product_id', type: 'text', inputmode: 'numeric', autocomplete: 'off', 'aria-describedby': 'capture-product-hint' });
  const description = h('input', { id: 'capture-description', name: 'description', type: 'text', maxlength: 1024, autocomplete: 'off' });
  const button = h('button', { type: 'submit', 'data-capture': '' }, 'Capture');
  const error = h('p', { class: 'form-error', role: 'alert', 'data-capture-error': '' });
  const sinkLine = h('p', { class: 'hint', id: 'capture-product-hint' }, 'The product id sorts the upload (the S3 folder, the RELab product).');
  const result = h('div', { class: 'capture-result', 'aria-live': 'polite', 'data-capture-result': '' });
  const form = h('form', { class: 'capture-form' },
    h('div', { class: 'field' }, h('label', { for: 'capture-product' }, 'Product id'), product),
    h('div', { class: 'field' }, h('label', { for: 'capture-description' }, 'Description'), description),
    sinkLine,
    h('div', { class: 'actions' }, button),
    error);
  const content = h('div', {}, form, result);
  body.replaceChildren(signIn, content);

  let follow = null;

  function metadata() {
    const out = {};
    const id = product.value.trim();
    if (id !== '') out.product_id = /^\d{1,15}$/.test(id) ? Number(id) : id;
    const text = description.value.trim();
    if (text !== '') out.description = text;
    return out;
  }

  function show(capture, uploads) {
    const state = uploadState(capture, uploads);
    const id = capture.image_id;
    const link = state.url ? h('a', { href: state.url, rel: 'noopener noreferrer', target: '_blank', 'data-image-url': '' }, 'Uploaded image') : null;
    result.dataset.state = state.key;
    result.dataset.imageId = id;
    result.replaceChildren(...[
      h('p', {}, stateChip(state), ' ', h('code', {}, id.slice(0, 8))),
      state.reason ? h('p', { class: 'form-error' }, state.reason) : null,
      h('p', {}, link, link ? ' · ' : null,
        state.key === 'uploaded' ? null : h('a', { href: `/captures/${id}`, download: `${id}.jpg` }, 'Download')),
    ].filter(Boolean));
    return state.settled;
  }

  async function followUp(id) {
    if (follow) follow.stop();
    let rounds = 0;
    follow = ctx.every(2000, async () => {
      rounds += 1;
      const [list, tele] = await Promise.all([ctx.api.get('/captures?limit=20'), ctx.api.get('/system/telemetry')]);
      if (!list.ok) { if (ctx.api.needsLogin(list)) { ctx.session.lost(); follow.stop(); } return; }
      const capture = (list.data.captures || []).find((c) => c.image_id === id);
      if (!capture) return;
      const settled = show(capture, tele.ok ? tele.data.uploads : null);
      if (settled || rounds > 150) follow.stop();
    });
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    button.disabled = true;
    button.textContent = 'Capturing…';
    const r = await ctx.api.send('POST', '/captures', metadata());
    button.disabled = false;
    button.textContent = 'Capture';
    if (!r.ok) {
      if (ctx.api.needsLogin(r)) { ctx.session.lost(); return; }
      error.textContent = r.status === 429
        ? `Too many captures: try again in ${r.retryAfter || 'a few'} s.`
        : r.detail;
      return;
    }
    const tele = await ctx.api.get('/system/telemetry');
    const settled = show(r.data, tele.ok ? tele.data.uploads : null);
    document.dispatchEvent(new CustomEvent(CAPTURED_EVENT, { detail: r.data }));
    if (!settled) followUp(r.data.image_id);
  });

  const sink = h('span', { 'data-sink': '' });
  sinkLine.append(' ', sink);
  ctx.session.onChange(async ({ known, authed }) => {
    signIn.hidden = !known || authed;
    content.hidden = !authed;
    if (!authed && follow) follow.stop();
    if (authed) {
      const t = await ctx.api.get('/system/telemetry');
      sink.textContent = t.ok ? sinkText(t.data.uploads) : '';
    }
  });
}

export function sinkText(uploads) {
  if (!uploads) return '';
  if (uploads.sink === 's3') return 'Captures go to S3.';
  if (uploads.sink === 'backend') return 'Captures go to the RELab backend.';
  return 'No upload target is set: captures stay on this camera.';
}
