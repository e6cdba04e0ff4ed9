#!/usr/bin/env node
// Headless-Chromium check of picamd's API reference page (www/docs.html).
//
// usage: node docs.mjs <docs-url> [--spec file.json] [--csp POLICY] [--try "GET /path"]...
//                      [--screenshot out.png]
//
// Opens <docs-url> (e.g. http://127.0.0.1:8018/docs) and checks that every operation of the
// OpenAPI document is rendered: its method and path, its parameters, its response codes and the
// top-level fields of its request and response schemas. The document is <origin>/openapi.json,
// or --spec FILE, served in its place. --csp adds that Content-Security-Policy to the page (for a
// server that sets none, such as python3 -m http.server). --try sends an operation with its Try it
// form and expects a 2xx answer. Prints one JSON line; exits 0 only if everything was found and
// the page raised no errors, broke no CSP rule and asked no other host for anything.

import { readFileSync } from 'node:fs';
import { launchChromium } from './launch.mjs';

function usage(msg) {
  if (msg) console.error(msg);
  console.error('usage: node docs.mjs <docs-url> [--spec file.json] [--csp POLICY] [--try "GET /path"]... [--screenshot out.png]');
  process.exit(2);
}

const argv = process.argv.slice(2);
let pageUrl = null;
let specFile = null;
let csp = null;
let screenshot = null;
const tries = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
  if (a === '--spec') specFile = value();
  else if (a === '--csp') csp = value();
  else if (a === '--try') tries.push(value());
  else if (a === '--screenshot') screenshot = value();
  else if (a === '-h' || a === '--help') usage();
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else if (!pageUrl) pageUrl = a;
  else usage(`unexpected argument ${a}`);
}
if (!pageUrl) usage('missing <docs-url>');

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const origin = new URL(pageUrl).origin;
const specUrl = new URL('/openapi.json', origin).href;

// ------------------------------------------------------------------ what the page must show
// (read here independently of the page's own code)

function pointer(doc, ref) {
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return undefined;
  return ref.slice(2).split('/').reduce((node, raw) => {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    return node && typeof node === 'object' ? node[key] : undefined;
  }, doc);
}

function follow(doc, obj) {
  for (let n = 0; obj && typeof obj === 'object' && obj.$ref && n < 20; n++) obj = pointer(doc, obj.$ref);
  return obj && typeof obj === 'object' ? obj : {};
}

/** Top-level property names and enum values of a schema (through $ref, anyOf/oneOf, allOf). */
function topLevel(doc, schema, out = { names: new Set(), enums: new Set() }, depth = 0) {
  const s = follow(doc, schema);
  if (depth > 5) return out;
  for (const alt of [...(s.anyOf || []), ...(s.oneOf || []), ...(s.allOf || [])]) topLevel(doc, alt, out, depth + 1);
  for (const name of Object.keys(s.properties || {})) out.names.add(name);
  for (const v of s.enum || []) if (v !== null) out.enums.add(JSON.stringify(v));
  return out;
}

function expectations(doc) {
  const ops = [];
  for (const [path, rawItem] of Object.entries(doc.paths || {})) {
    const item = follow(doc, rawItem);
    for (const method of METHODS) {
      const op = item[method];
      if (!op || typeof op !== 'object') continue;
      const strings = new Set([path]);
      for (const p of [...(item.parameters || []), ...(op.parameters || [])]) {
        const param = follow(doc, p);
        if (param.name) strings.add(param.name);
      }
      const schemas = [];
      const body = follow(doc, op.requestBody);
      for (const media of Object.values(body.content || {})) schemas.push(media.schema);
      for (const [status, raw] of Object.entries(op.responses || {})) {
        strings.add(status);
        for (const media of Object.values(follow(doc, raw).content || {})) schemas.push(media.schema);
      }
      for (const schema of schemas) {
        const { names, enums } = topLevel(doc, schema);
        for (const n of names) strings.add(n);
        for (const e of enums) strings.add(e);
      }
      ops.push({ method, path, strings: [...strings] });
    }
  }
  return ops;
}

// ------------------------------------------------------------------ the browser

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const result = { ok: false, operations: 0, rendered: 0, missing: [], tried: [], page_errors: [], console_errors: [], csp_violations: [] };
let browser;
let reason = null;
try {
  const specText = specFile ? readFileSync(specFile, 'utf8') : null;
  let doc;
  if (specText !== null) {
    doc = JSON.parse(specText);
  } else {
    const resp = await fetch(specUrl);
    if (!resp.ok) throw new Error(`GET ${specUrl}: HTTP ${resp.status}`);
    doc = await resp.json();
  }
  const expected = expectations(doc);
  result.operations = expected.length;
  if (!expected.length) throw new Error('the OpenAPI document has no operations to look for');

  const pageHost = new URL(pageUrl).hostname;
  browser = await launchChromium({ hosts: [pageHost] });
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const foreign = [];
  page.on('request', (req) => {
    const u = new URL(req.url());
    if (/^(https?|wss?):$/.test(u.protocol) && u.origin !== origin) foreign.push(u.href);
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (/Content Security Policy|Refused to/i.test(text)) result.csp_violations.push(text);
    else result.console_errors.push(text);
  });
  page.on('pageerror', (err) => result.page_errors.push(String(err && err.message ? err.message : err)));

  if (specText !== null) {
    await page.route(specUrl, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: specText }));
  }
  if (csp) {
    await page.route((url) => url.origin === origin, async (route) => {
      if (route.request().resourceType() !== 'document') return route.fallback();
      const resp = await route.fetch();
      return route.fulfill({ response: resp, headers: { ...resp.headers(), 'content-security-policy': csp } });
    });
  }

  const resp = await page.goto(pageUrl, { waitUntil: 'domcontentloaded', timeout: 15000 });
  if (!resp || !resp.ok()) throw new Error(`GET ${pageUrl}: HTTP ${resp ? resp.status() : 'no response'}`);
  await page.waitForSelector('body[data-docs-ready]', { timeout: 15000 });
  const ready = await page.evaluate(() => document.body.dataset.docsReady);
  if (ready !== 'true') {
    const msg = await page.evaluate(() => (document.getElementById('docs-error') || {}).textContent || '');
    throw new Error(`the page could not show the document: ${msg}`);
  }

  const found = await page.evaluate((exp) => exp.map(({ method, path, strings }) => {
    const el = [...document.querySelectorAll('details.op')]
      .find((d) => d.dataset.method === method && d.dataset.path === path);
    if (!el) return { method, path, absent: true, lacking: [] };
    const summary = el.querySelector('summary').textContent;
    const text = el.textContent;
    const lacking = strings.filter((s) => !text.includes(s));
    if (!summary.includes(path)) lacking.push(`${path} (in the summary line)`);
    if (!summary.includes(method.toUpperCase())) lacking.push(`${method.toUpperCase()} (in the summary line)`);
    const inToc = [...document.querySelectorAll('#toc a')].some((a) => a.getAttribute('href') === `#${el.id}`);
    if (!inToc) lacking.push('(a link in the table of contents)');
    return { method, path, absent: false, lacking };
  }), expected);
  for (const f of found) {
    if (f.absent) result.missing.push(`${f.method.toUpperCase()} ${f.path}: not rendered`);
    else if (f.lacking.length) result.missing.push(`${f.method.toUpperCase()} ${f.path}: lacks ${f.lacking.join(', ')}`);
    else result.rendered++;
  }

  for (const t of tries) {
    const m = /^\s*([A-Za-z]+)\s+(\S+)\s*$/.exec(t);
    if (!m) throw new Error(`--try wants "METHOD /path", got ${JSON.stringify(t)}`);
    const [method, path] = [m[1].toLowerCase(), m[2]];
    const id = await page.evaluate(([mm, pp]) => {
      const el = [...document.querySelectorAll('details.op')].find((d) => d.dataset.method === mm && d.dataset.path === pp);
      if (!el) return null;
      el.open = true;
      return el.id;
    }, [method, path]);
    if (!id) {
      result.tried.push({ op: t, error: 'not rendered' });
      continue;
    }
    await page.click(`#${id} .try-form button[type=submit]`);
    let status = null;
    for (let waited = 0; waited < 15000 && status === null; waited += 100) {
      await sleep(100);
      status = await page.evaluate((opId) => {
        const r = document.querySelector(`#${opId} .try-result`);
        if (!r) return null;
        const code = r.querySelector('.try-status .status-code');
        if (code) return code.textContent;
        const err = r.querySelector('.error-text');
        return err ? `error: ${err.textContent}` : null;
      }, id);
    }
    result.tried.push({ op: t, status });
  }

  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

  if (result.missing.length) reason = `${result.missing.length} of ${result.operations} operations incomplete: ${result.missing.slice(0, 3).join('; ')}`;
  const badTry = result.tried.find((r) => !(r.status && /^HTTP 2\d\d$/.test(r.status)));
  if (!reason && badTry) reason = `Try it ${badTry.op}: ${badTry.status || badTry.error || 'no answer shown'}`;
  if (!reason && result.page_errors.length) reason = `page errors: ${result.page_errors.join('; ')}`;
  if (!reason && result.csp_violations.length) reason = `CSP violations: ${result.csp_violations.slice(0, 2).join('; ')}`;
  if (!reason && foreign.length) reason = `requests to other hosts: ${foreign.slice(0, 3).join(', ')}`;
} catch (e) {
  reason = `test failed: ${e && e.message ? e.message.split('\n')[0] : e}`;
} finally {
  if (browser) await browser.close().catch(() => {});
}

result.ok = reason === null;
if (reason) result.reason = reason;
console.log(JSON.stringify(result));
if (reason) console.error(`FAIL: ${reason}`);
process.exit(result.ok ? 0 : 1);
