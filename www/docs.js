// The API reference at /docs: reads /openapi.json and shows every operation by tag, with its
// access rule, parameters, bodies, responses and a Try it form. Everything is built as DOM nodes.

import { h, append, markdown } from './dom.js';
import { operations, groupByTag, accessOf, requestBodyOf, responsesOf, describeSchema } from './docs-model.js';
import { schemaView, annotations } from './docs-schema.js';
import { tryIt } from './docs-try.js';

const SPEC_URL = '/openapi.json';
const KEY_STORE = 'picamd-api-key';

const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ API key (this tab only)

const keyInput = $('api-key');

function storedKey() {
  try {
    return sessionStorage.getItem(KEY_STORE) || '';
  } catch (_) {
    return '';
  }
}

function storeKey(value) {
  try {
    if (value) sessionStorage.setItem(KEY_STORE, value);
    else sessionStorage.removeItem(KEY_STORE);
  } catch (_) { /* kept in the field only */ }
}

keyInput.value = storedKey();
keyInput.addEventListener('input', () => storeKey(keyInput.value.trim()));
$('api-key-show').addEventListener('click', (ev) => {
  const show = keyInput.type === 'password';
  keyInput.type = show ? 'text' : 'password';
  ev.currentTarget.textContent = show ? 'Hide' : 'Show';
});
$('api-key-forget').addEventListener('click', () => {
  keyInput.value = '';
  storeKey('');
});
const getKey = () => keyInput.value.trim();

// ------------------------------------------------------------------ rendering

function methodBadge(method) {
  return h('span', { class: `method method-${method}` }, method.toUpperCase());
}

function accessBadge(access) {
  return h('span', { class: `access access-${access.kind}`, title: `Access: ${access.text}` },
    access.kind === 'key' ? 'key' : access.kind === 'local' ? 'LAN' : access.kind === 'none' ? 'open' : 'auth');
}

function parametersView(params) {
  if (!params.length) return null;
  return h('section', { class: 'op-part' },
    h('h4', {}, 'Parameters'),
    h('table', { class: 'params' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'In'), h('th', {}, 'Type and description'))),
      h('tbody', {}, params.map((p) => {
        const node = describeSchema(docRef, p.schema || {});
        return h('tr', { dataset: { param: p.name } },
          h('td', {}, h('code', {}, p.name), p.required ? h('span', { class: 'tag tag-req' }, 'required') : null,
            p.deprecated ? h('span', { class: 'tag tag-warn' }, 'deprecated') : null),
          h('td', {}, p.in),
          h('td', {}, annotations(node),
            p.description ? h('div', { class: 'schema-desc' }, markdown(p.description)) : null,
            node.description && !p.description ? h('div', { class: 'schema-desc' }, markdown(node.description)) : null));
      }))));
}

function contentsView(contents) {
  return contents.map((c) => h('div', { class: 'content' },
    h('p', { class: 'content-type' }, h('code', {}, c.type)),
    c.schema ? schemaView(c.schema) : null));
}

function requestBodyView(body) {
  if (!body) return null;
  return h('section', { class: 'op-part' },
    h('h4', {}, 'Request body', body.required ? h('span', { class: 'tag tag-req' }, 'required') : null),
    body.description ? h('div', { class: 'schema-desc' }, markdown(body.description)) : null,
    contentsView(body.contents));
}

function responsesView(responses) {
  if (!responses.length) return null;
  return h('section', { class: 'op-part' },
    h('h4', {}, 'Responses'),
    responses.map((r) => h('div', { class: 'response', dataset: { status: r.status } },
      h('p', { class: 'response-head' },
        h('span', { class: `status-code status-${r.status[0]}xx` }, r.status), ' ',
        r.description ? h('span', {}, r.description) : null),
      r.headers.length ? h('p', { class: 'muted' }, 'Headers: ', r.headers.map((n, i) => [i ? ', ' : '', h('code', {}, n)])) : null,
      contentsView(r.contents))));
}

function operationView(entry) {
  const { op } = entry;
  const access = accessOf(docRef, op);
  const body = requestBodyOf(docRef, op);
  return h('details', { class: 'op', id: entry.id, dataset: { method: entry.method, path: entry.path } },
    h('summary', {},
      methodBadge(entry.method),
      h('code', { class: 'op-path' }, entry.path),
      op.summary ? h('span', { class: 'op-summary' }, op.summary) : null,
      op.deprecated ? h('span', { class: 'tag tag-warn' }, 'deprecated') : null,
      accessBadge(access)),
    h('div', { class: 'op-body' },
      op.description ? h('div', { class: 'op-desc' }, markdown(op.description)) : null,
      h('p', { class: 'op-access' }, h('strong', {}, 'Access: '), access.text,
        op.operationId ? h('span', { class: 'muted op-id' }, ` · operationId ${op.operationId}`) : null),
      parametersView(entry.parameters),
      requestBodyView(body),
      responsesView(responsesOf(docRef, op)),
      h('section', { class: 'op-part try' },
        h('h4', {}, 'Try it'),
        tryIt(docRef, entry, access, body, getKey))));
}

function tagId(name) {
  return `tag-${name.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase() || 'x'}`;
}

let docRef = null;

function render(doc) {
  docRef = doc;
  const info = doc.info && typeof doc.info === 'object' ? doc.info : {};
  $('api-title').textContent = info.title ? `${info.title} — API reference` : 'API reference';
  $('api-meta').replaceChildren();
  append($('api-meta'), [
    info.version ? h('span', { class: 'badge' }, `version ${info.version}`) : null,
    h('span', { class: 'badge' }, `OpenAPI ${doc.openapi}`),
    h('a', { href: SPEC_URL }, SPEC_URL),
  ]);
  if (info.description) $('api-description').replaceChildren(markdown(info.description));

  const ops = operations(doc);
  const groups = groupByTag(doc, ops);
  $('toc').replaceChildren(h('ul', {}, groups.map((g) => h('li', {},
    h('a', { href: `#${tagId(g.name)}`, class: 'toc-tag' }, g.name),
    h('ul', {}, g.ops.map((o) => h('li', {},
      h('a', { href: `#${o.id}` }, methodBadge(o.method), ' ', h('span', { class: 'toc-path' }, o.path)))))))));
  $('operations').replaceChildren(...groups.map((g) => h('section', { class: 'tag-group', id: tagId(g.name) },
    h('h2', {}, g.name),
    g.description ? h('div', { class: 'tag-desc' }, markdown(g.description)) : null,
    g.ops.map(operationView))));
  $('op-count').textContent = `${ops.length} operation${ops.length === 1 ? '' : 's'}`;
  $('docs-tools').hidden = false;
  openFromHash();
  document.body.dataset.docsReady = 'true';
}

function openFromHash() {
  const id = decodeURIComponent(location.hash.slice(1));
  const target = id && document.getElementById(id);
  if (target && target.classList.contains('op')) {
    target.open = true;
    target.scrollIntoView({ block: 'start' });
  }
}
window.addEventListener('hashchange', openFromHash);

$('expand-all').addEventListener('click', () => {
  for (const d of document.querySelectorAll('details.op')) d.open = true;
});
$('collapse-all').addEventListener('click', () => {
  for (const d of document.querySelectorAll('details.op')) d.open = false;
});
$('filter').addEventListener('input', (ev) => {
  const words = ev.target.value.toLowerCase().split(/\s+/).filter(Boolean);
  for (const d of document.querySelectorAll('details.op')) {
    const text = d.querySelector('summary').textContent.toLowerCase();
    d.hidden = !words.every((w) => text.includes(w));
  }
  for (const g of document.querySelectorAll('.tag-group')) {
    g.hidden = ![...g.querySelectorAll('details.op')].some((d) => !d.hidden);
  }
});

function fail(message) {
  $('api-meta').textContent = '';
  const el = $('docs-error');
  el.textContent = message;
  el.hidden = false;
  document.body.dataset.docsReady = 'error';
}

async function load() {
  let resp;
  try {
    resp = await fetch(SPEC_URL, { cache: 'no-store' });
  } catch (e) {
    fail(`Could not load ${SPEC_URL}: the camera did not answer.`);
    return;
  }
  if (!resp.ok) {
    fail(`Could not load ${SPEC_URL}: HTTP ${resp.status}.`);
    return;
  }
  let doc;
  try {
    doc = await resp.json();
  } catch (e) {
    fail(`${SPEC_URL} is not valid JSON: ${e.message}`);
    return;
  }
  if (!doc || typeof doc !== 'object' || !/^3\./.test(String(doc.openapi || ''))) {
    fail(`${SPEC_URL} is not an OpenAPI 3 document.`);
    return;
  }
  try {
    render(doc);
  } catch (e) {
    fail(`Could not show ${SPEC_URL}: ${e.message}`);
  }
}

load();
