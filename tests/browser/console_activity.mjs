// The console's activity panels in Debian's Chromium, driven as a person would: sign in
// through the page's account form, then recordings (start, stop, the file in the list, play it
// in the page, delete it after the confirmation, a 409 shown next to the button), timelapse
// (a 1 s interval, its pictures appear and load with the session cookie, stop), YouTube (a
// refused key shows the ingest server's reason; a real start against nginx-rtmp shows the
// state, stop), hub (a camera's picture in the grid with its age). Console errors and page
// errors are collected; screenshots at phone and desktop widths go to $PICAMD_ARTIFACTS.
//
//   node console_activity.mjs <base-url> [--youtube] [--hub-camera <id>] [--no-hub]
//   (PICAMD_KEY: the key typed into the form). Prints one JSON line; exit 0 when all held.
//   --no-hub: only an anonymous load of a daemon that is not a hub (the card stays hidden).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from './launch.mjs';

const baseUrl = process.argv[2];
const args = process.argv.slice(3);
const flag = (name) => args.includes(name);
const option = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : null; };
const key = process.env.PICAMD_KEY || '';
const artifacts = process.env.PICAMD_ARTIFACTS || '';
const host = new URL(baseUrl).hostname;
const TIMEOUT = 15000;

const result = { checks: {}, console_errors: [], page_errors: [] };
const failures = [];
function check(name, ok, detail) {
  result.checks[name] = detail === undefined ? ok : { ok, detail };
  if (!ok) failures.push(name);
}

function watchErrors(page, tag) {
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const loc = msg.location();
    let path = '';
    try { path = loc.url ? new URL(loc.url).pathname : ''; } catch (_) { path = loc.url; }
    result.console_errors.push({ tag, text: msg.text(), path });
  });
  page.on('pageerror', (e) => result.page_errors.push({ tag, text: String(e && e.message || e) }));
}

async function shoot(page, name) {
  if (!artifacts) return;
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

/** No horizontal scroll, every visible control of our panels at least 44 px tall, and no
 * header link broken over two lines. */
async function layout(page, width) {
  return page.evaluate((w) => {
    const panels = ['recordings', 'timelapse', 'youtube', 'hub'];
    const small = [];
    for (const p of panels) {
      const root = document.querySelector(`[data-panel="${p}"]`);
      if (!root || root.hidden) continue;
      for (const el of root.querySelectorAll('button, input, select, a.act-link, summary')) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue; // not shown
        if (r.height < 43.5) small.push(`${p}: ${el.tagName.toLowerCase()} "${(el.textContent || el.name || el.id).trim()}" ${r.height.toFixed(0)}px`);
      }
    }
    // A header link that wraps inside itself has its text on more than one line (a flex
    // item is one box either way: the text's range has a rectangle per line).
    for (const a of document.querySelectorAll('.site-nav a')) {
      const range = document.createRange();
      range.selectNodeContents(a);
      const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      if (tops.size > 1) small.push(`header link "${a.textContent.trim()}" wraps`);
    }
    return { scroll_width: document.documentElement.scrollWidth, width: w, small };
  }, width);
}

/** Every input of our panels has a label. */
async function unlabelled(page) {
  return page.evaluate(() => [...document.querySelectorAll(
    '[data-panel="recordings"] input, [data-panel="timelapse"] input, [data-panel="youtube"] input',
  )].filter((i) => !i.labels || i.labels.length === 0).map((i) => i.id || i.name));
}

let browser;
let code = 1;
try {
  browser = await launchChromium({ hosts: [host], media: true });

  if (flag('--no-hub')) {
    // Not a hub, not signed in: the hub card stays hidden, the keyed panels ask to sign in.
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await ctx.newPage();
    watchErrors(page, 'anonymous');
    await page.goto(`${baseUrl}/`);
    await page.waitForFunction(() => !document.querySelector('[data-login]').hidden, null, { timeout: TIMEOUT });
    await page.waitForTimeout(500);
    check('hub_card_hidden', await page.$eval('[data-panel="hub"]', (el) => el.hidden && el.offsetHeight === 0));
    const prompts = await page.$$eval('[data-panel] .needs-login', (els) => els.filter((e) => !e.hidden && e.offsetHeight > 0).map((e) => e.textContent));
    check('sign_in_prompts', prompts.length >= 3, prompts);
    const l = await layout(page, 390);
    check('anonymous_phone_layout', l.scroll_width <= 390 && l.small.length === 0, l);
    await shoot(page, 'anonymous-phone');
    await ctx.close();
  } else {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    watchErrors(page, 'console');
    await page.goto(`${baseUrl}/`);

    // Sign in through the page's own form.
    await page.waitForSelector('[data-login]:not([hidden])', { timeout: TIMEOUT });
    await page.fill('#account-key', key);
    await page.click('[data-login] button[type="submit"]');
    await page.waitForSelector('[data-signed-in]', { state: 'visible', timeout: TIMEOUT });
    check('key_field_cleared', (await page.inputValue('#account-key')) === '');
    check('labels', (await unlabelled(page)).length === 0, await unlabelled(page));

    // ---- Recordings: start from the page; the live page's REC indicator follows.
    const rec = '[data-panel="recordings"]';
    await page.waitForSelector(`${rec} [data-rec-start]:not([disabled])`, { timeout: TIMEOUT });
    await page.click(`${rec} [data-rec-start]`);
    await page.waitForSelector(`${rec} [data-rec-chip][data-state="recording"]`, { timeout: TIMEOUT });
    await page.waitForFunction(() => document.querySelector('#rec-state [data-rec-label]').textContent === 'REC',
      null, { timeout: TIMEOUT });
    check('live_rec_indicator', true);
    await page.waitForTimeout(3000); // a few one-second fragments
    await page.click(`${rec} [data-rec-stop]`);
    await page.waitForSelector(`${rec} [data-rec-chip][data-state="idle"]`, { timeout: TIMEOUT });
    const file = await page.waitForSelector(`${rec} [data-rec-file] [data-rec-play]:not([disabled])`, { timeout: TIMEOUT });
    const name = await file.evaluate((b) => b.closest('[data-rec-file]').dataset.recFile);
    check('recording_listed', /\.mp4$/.test(name), name);

    // A 409 next to the button: a recording started elsewhere (a script with the key) while
    // the page still shows the recorder idle.
    let conflict = null;
    for (let attempt = 0; attempt < 3 && !conflict; attempt += 1) {
      const startBtn = await page.$(`${rec} [data-rec-start]`);
      if (await startBtn.isDisabled()) { await page.waitForTimeout(300); continue; }
      const other = await ctx.request.post(`${baseUrl}/recorder/start`, { headers: { 'X-API-Key': key } });
      const enabled = !(await startBtn.isDisabled());
      if (other.status() === 201 && enabled) {
        await startBtn.click();
        await page.waitForFunction((s) => document.querySelector(s).textContent !== '',
          `${rec} [data-rec-error]`, { timeout: TIMEOUT });
        conflict = await page.$eval(`${rec} [data-rec-error]`, (el) => el.textContent);
      }
      await ctx.request.post(`${baseUrl}/recorder/stop`, { headers: { 'X-API-Key': key } });
    }
    check('conflict_shown', conflict !== null && /in progress/i.test(conflict), conflict);
    await page.waitForSelector(`${rec} [data-rec-chip][data-state="idle"]`, { timeout: TIMEOUT });

    // Play it in the page.
    await page.click(`${rec} [data-rec-file="${name}"] [data-rec-play]`);
    await page.waitForFunction(() => {
      const v = document.querySelector('[data-rec-video]');
      return v && v.readyState >= 2 && Number.isFinite(v.duration) && v.duration > 0;
    }, null, { timeout: TIMEOUT });
    const video = await page.$eval('[data-rec-video]', (v) => ({
      ready_state: v.readyState, duration: v.duration, width: v.videoWidth, height: v.videoHeight,
      src: new URL(v.currentSrc).pathname, error: v.error && v.error.message,
    }));
    check('video_plays', video.ready_state >= 2 && video.duration >= 1 && video.width > 0, video);
    const download = await page.$eval(`${rec} [data-rec-file="${name}"] a[download]`, (a) => new URL(a.href).pathname);
    check('download_link', download === `/recordings/${name}`, download);
    await shoot(page, 'desktop-recording');

    // Delete it, after the inline confirmation.
    await page.click(`${rec} [data-rec-file="${name}"] [data-rec-delete]`);
    await page.waitForSelector(`${rec} [data-rec-file="${name}"] [data-rec-confirm]`, { state: 'visible', timeout: TIMEOUT });
    await page.click(`${rec} [data-rec-file="${name}"] [data-rec-confirm]`);
    await page.waitForSelector(`${rec} [data-rec-file="${name}"]`, { state: 'detached', timeout: TIMEOUT });
    const after = await (await ctx.request.get(`${baseUrl}/recordings`, { headers: { 'X-API-Key': key } })).json();
    check('recording_deleted', !after.files.some((f) => f.name === name), after.files.map((f) => f.name));

    // ---- Timelapse: a picture a second, shown as it comes, then stopped.
    const tl = '[data-panel="timelapse"]';
    await page.waitForSelector(`${tl} [data-tl-chip][data-state="off"]`, { timeout: TIMEOUT });
    await page.fill(`${tl} [data-tl-interval]`, '1');
    await page.click(`${tl} [data-tl-start]`);
    await page.waitForSelector(`${tl} [data-tl-chip][data-state="running"]`, { timeout: TIMEOUT });
    await page.waitForFunction((s) => {
      const imgs = [...document.querySelectorAll(`${s} [data-tl-image] img`)];
      return imgs.length >= 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    }, tl, { timeout: TIMEOUT });
    const pictures = await page.$$eval(`${tl} [data-tl-image] img`, (imgs) => imgs.map((i) => ({
      src: new URL(i.src).pathname, width: i.naturalWidth,
    })));
    check('timelapse_pictures', pictures.length >= 2 && pictures.every((p) => p.width > 0), pictures);
    const onDisk = Number(await page.$eval(`${tl} [data-tl-fact="images"]`, (el) => el.textContent));
    check('timelapse_count', onDisk >= 2, onDisk);
    await page.click(`${tl} [data-tl-stop]`);
    await page.waitForSelector(`${tl} [data-tl-chip][data-state="off"]`, { timeout: TIMEOUT });
    const tlState = await (await ctx.request.get(`${baseUrl}/timelapse`, { headers: { 'X-API-Key': key } })).json();
    check('timelapse_stopped', tlState.enabled === false && tlState.settings.interval_s === 0, tlState.settings);
    // A wrong value is refused by the page before it is sent, next to the form.
    await page.fill(`${tl} [data-tl-interval]`, '0');
    await page.click(`${tl} [data-tl-start]`);
    const tlError = await page.$eval(`${tl} [data-tl-error]`, (el) => el.textContent);
    check('timelapse_invalid_shown', /Seconds between pictures/.test(tlError), tlError);

    // ---- YouTube.
    if (flag('--youtube')) {
      const yt = '[data-panel="youtube"]';
      // A key the ingest server refuses: its reason, next to the form.
      await page.fill('#yt-stream-key', 'bad-key-1');
      await page.fill('#yt-broadcast-key', 'bcast1');
      await page.click(`${yt} [data-yt-start]`);
      check('youtube_keys_cleared', (await page.inputValue('#yt-stream-key')) === '' && (await page.inputValue('#yt-broadcast-key')) === '');
      check('youtube_key_fields_are_password', await page.$$eval(`${yt} input`, (is) => is.every((i) => i.type === 'password')));
      await page.waitForFunction((s) => document.querySelector(s).textContent !== '', `${yt} [data-yt-error]`, { timeout: TIMEOUT });
      const refused = await page.$eval(`${yt} [data-yt-error]`, (el) => el.textContent);
      check('youtube_refused_shown', /ingest server/i.test(refused) && /refused/i.test(refused) && !refused.includes('bad-key-1'), refused);
      // A real start, its state, then stop.
      await page.fill('#yt-stream-key', 'good-key-1');
      await page.fill('#yt-broadcast-key', 'bcast1');
      await page.click(`${yt} [data-yt-start]`);
      await page.waitForSelector(`${yt} [data-yt-chip][data-state="live"]`, { timeout: TIMEOUT });
      const watch = await page.$eval(`${yt} [data-yt-detail] a`, (a) => a.href);
      check('youtube_live', watch === 'https://youtube.com/watch?v=bcast1', watch);
      const stored = await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie);
      check('youtube_key_not_stored', !stored.includes('good-key-1'));
      await shoot(page, 'desktop-youtube-live');
      await page.click(`${yt} [data-yt-stop]`);
      await page.waitForSelector(`${yt} [data-yt-chip][data-state="idle"]`, { timeout: TIMEOUT });
      const gone = await ctx.request.get(`${baseUrl}/streams/youtube`, { headers: { 'X-API-Key': key } });
      check('youtube_stopped', gone.status() === 404, gone.status());
    }

    // ---- Hub.
    const hubCamera = option('--hub-camera');
    if (hubCamera) {
      const tile = `[data-panel="hub"] [data-hub-camera="${hubCamera}"]`;
      await page.waitForFunction((s) => {
        const img = document.querySelector(`${s} img`);
        return img && !img.hidden && img.complete && img.naturalWidth > 0;
      }, tile, { timeout: TIMEOUT });
      const shown = await page.$eval(tile, (el) => ({
        name: el.querySelector('strong').textContent,
        age: el.querySelector('[data-hub-age]').textContent,
        width: el.querySelector('img').naturalWidth,
        src: new URL(el.querySelector('img').src).pathname,
        // The card lists from /hub/state; /camera/list carries every picture in base64.
        listed: performance.getEntriesByType('resource').some((e) => e.name.includes('/camera/list')),
      }));
      check('hub_picture', shown.width > 0 && /ago$/.test(shown.age)
        && shown.src === '/camera/get-image' && !shown.listed, shown);
    }

    // ---- Layout: desktop, then a phone, light and dark.
    const desk = await layout(page, 1280);
    check('desktop_layout', desk.scroll_width <= 1280 && desk.small.length === 0, desk);
    await shoot(page, 'desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const phone = await layout(page, 390);
    check('phone_layout', phone.scroll_width <= 390 && phone.small.length === 0, phone);
    await shoot(page, 'phone');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(200);
    const dark = await page.evaluate(() => getComputedStyle(document.querySelector('[data-panel="timelapse"]')).backgroundColor);
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await page.evaluate(() => getComputedStyle(document.querySelector('[data-panel="timelapse"]')).backgroundColor);
    check('themes_differ', dark !== light, { dark, light });
    await page.emulateMedia({ colorScheme: 'dark' });
    await shoot(page, 'phone-dark');

    // Keyboard: Tab reaches the recorder's button and Enter starts it... then stops it again.
    await page.focus('#account-key').catch(() => {});
    await page.evaluate(() => document.querySelector('[data-panel="recordings"] h2').scrollIntoView());
    let reached = false;
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await page.evaluate(() => { const h = document.querySelector('#recordings-title'); h.tabIndex = -1; h.focus(); });
    for (let i = 0; i < 5 && !reached; i += 1) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement && document.activeElement.matches('[data-rec-start]'));
    }
    check('keyboard_reaches_record', reached);
    await ctx.close();
  }

  // Expected refusals, by resource: the live view's cached
  // /preview-thumbnail.jpg is 404 on a daemon just started (the page hides it); and the two
  // refusals this test provokes on purpose: 409 from POST /recorder/start while recording,
  // 502 from POST /streams/youtube with a key the ingest server refuses.
  const expected = (e) => (/status of 404/.test(e.text) && e.path === '/preview-thumbnail.jpg')
    || (/status of 409/.test(e.text) && e.path === '/recorder/start')
    || (/status of 502/.test(e.text) && e.path === '/streams/youtube');
  result.ignored_errors = result.console_errors.filter(expected);
  result.console_errors = result.console_errors.filter((e) => !expected(e));
  check('no_console_errors', result.console_errors.length === 0 && result.page_errors.length === 0);
  code = failures.length === 0 ? 0 : 1;
} catch (e) {
  result.error = String(e && e.stack || e);
} finally {
  if (browser) await browser.close();
}
result.failures = failures;
console.log(JSON.stringify(result));
process.exit(code);
