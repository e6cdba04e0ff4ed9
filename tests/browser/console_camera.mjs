// The web console's camera panels in Debian's Chromium: sign in through the page's form with
// the key (PICAMD_KEY), turn auto exposure off and drag the exposure slider, and see the
// frame's mean brightness (GET /frame drawn into a canvas) rise; take a capture and find it in
// the gallery with its state; stop and start the camera from the health card; the key is
// nowhere in the page or its storage; no console errors; screenshots at phone and desktop
// widths into $PICAMD_ARTIFACTS.
//
//   node console_camera.mjs <base-url>     prints one JSON line; exit 0 when all held

import { launchChromium } from './launch.mjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const baseUrl = process.argv[2];
const key = process.env.PICAMD_KEY || '';
const artifacts = process.env.PICAMD_ARTIFACTS || '';
const host = new URL(baseUrl).hostname;
const result = { errors: [], checks: {} };
const check = (name, ok, detail) => {
  result.checks[name] = ok ? true : (detail === undefined ? false : detail);
};

// Chromium logs every 4xx as "Failed to load resource". The cached thumbnail may not exist
// yet (404), and the test provokes a 422 and a 429 on PATCH /camera/controls. Those, and only
// those, are expected: signed out, the page asks no keyed route.
const EXPECTED = [
  { status: 404, path: /\/preview-thumbnail\.jpg$/ },
  // The refusals the test provokes on purpose: a value out of range, and the rate limit.
  { status: 422, path: /\/camera\/controls$/ },
  { status: 429, path: /\/camera\/controls$/ },
];
const failedResponses = new Map(); // url → status

function watch(page, label) {
  page.on('response', (r) => { if (r.status() >= 400) failedResponses.set(r.url(), r.status()); });
  page.on('pageerror', (e) => result.errors.push(`${label} pageerror: ${e.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const url = (msg.location() && msg.location().url) || '';
    const status = failedResponses.get(url);
    const path = url ? new URL(url).pathname : '';
    const expected = /Failed to load resource/.test(msg.text()) && EXPECTED.some((e) =>
      e.status === status && e.path.test(path));
    if (!expected) result.errors.push(`${label} console: ${msg.text()} ${url}`);
  });
}

/** Mean luma (0..255) of the newest /frame, drawn into a canvas. */
const frameBrightness = (page) => page.evaluate(async () => {
  const res = await fetch(`/frame?t=${Date.now()}`, { cache: 'no-store' });
  if (!res.ok) throw new Error(`/frame ${res.status}`);
  const bitmap = await createImageBitmap(await res.blob());
  const canvas = document.createElement('canvas');
  canvas.width = 160;
  canvas.height = 90;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  g.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const px = g.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  for (let i = 0; i < px.length; i += 4) sum += 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
  return sum / (px.length / 4);
});

async function settledBrightness(page) {
  // The camera applies a change within a frame or two; /frame is the newest frame.
  await page.waitForTimeout(400);
  return frameBrightness(page);
}

let browser;
let code = 1;
try {
  if (artifacts) mkdirSync(artifacts, { recursive: true });
  browser = await launchChromium({ hosts: [host] });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  watch(page, 'desktop');
  const patches = [];
  page.on('request', (r) => {
    if (r.method() === 'PATCH' && r.url().endsWith('/camera/controls')) patches.push(r.postDataJSON());
  });

  await page.goto(`${baseUrl}/`);
  if (process.argv.includes('--rate-limited')) {
    await rateLimited(page);
  } else if (process.argv.includes('--sink-down')) {
    await sinkDown(page);
  } else {
    await everything(page, ctx, patches);
  }
  check('no_console_errors', result.errors.length === 0, result.errors);
  code = Object.values(result.checks).every((v) => v === true) ? 0 : 1;
} catch (e) {
  result.error = String(e && e.stack || e);
} finally {
  if (browser) await browser.close();
}
console.log(JSON.stringify(result));
process.exit(code);

async function signIn(page) {
  await page.waitForSelector('[data-login]:not([hidden])');
  await page.fill('#account-key', key);
  await page.click('[data-login] button[type="submit"]');
  await page.waitForSelector('[data-signed-in]', { state: 'visible' });
}

// The daemon runs with RATE_LIMIT_CONTROLS_SESSION=2: the third change is refused (429), the
// wait shows next to the control, and nothing the user set is lost (it goes out later).
async function rateLimited(page) {
  await signIn(page);
  await page.waitForSelector('[data-control-value="Brightness"]');
  const statuses = [];
  page.on('response', (r) => {
    if (r.request().method() === 'PATCH') statuses.push(r.status());
  });
  for (const v of ['0.1', '0.2', '0.3']) {
    await page.fill('[data-control-value="Brightness"]', v);
    await page.press('[data-control-value="Brightness"]', 'Tab');
    await page.waitForTimeout(400);
  }
  await page.waitForFunction(() => /Too many changes/.test(document.querySelector('[data-error-for="Brightness"]').textContent));
  result.wait_text = await page.textContent('[data-error-for="Brightness"]');
  result.statuses = statuses;
  check('wait_next_to_control', /in \d+ s/.test(result.wait_text), result.wait_text);
  // One refused request, then the console holds back instead of retrying at once.
  await page.waitForTimeout(1500);
  check('holds_back', statuses.filter((s) => s === 429).length === 1 && statuses.length === 3, statuses);
}

// The daemon uploads to an S3 server that is down: the capture stays queued, and the card and
// the gallery say that the upload failed and why (the queue's last error). The script then
// prints FAILED_SHOWN; the test starts the server, and the same card and gallery entry turn
// into "Uploaded" with the link to the image, without a reload.
async function sinkDown(page) {
  await signIn(page);
  await page.waitForSelector('[data-sink]');
  await page.waitForFunction(() => /S3/.test(document.querySelector('[data-sink]').textContent));
  await page.fill('#capture-product', '42');
  const captured = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/captures'));
  await page.click('[data-capture]');
  const answer = await captured;
  result.capture_status = answer.status();
  const body = await answer.json();
  result.capture_answer_status = body.status;
  await page.waitForSelector('[data-capture-result][data-state="failed"]', { timeout: 15000 });
  result.reason = await page.textContent('[data-capture-result] .form-error');
  const shot = `.gallery li[data-image-id="${body.image_id}"]`;
  await page.waitForSelector(`${shot}[data-state="failed"]`, { timeout: 15000 });
  result.last_error = await page.textContent('[data-last-error] dd');
  const head = result.reason.slice(0, 24);
  check('failed_with_reason', result.capture_status === 201 && body.status === 'queued'
    && result.reason.length > 10 && result.last_error.startsWith(head),
  { reason: result.reason, last_error: result.last_error });
  console.log('FAILED_SHOWN');

  await page.waitForSelector('[data-capture-result][data-state="uploaded"]', { timeout: 30000 });
  result.image_url = await page.getAttribute('[data-capture-result] [data-image-url]', 'href');
  await page.waitForSelector(`${shot}[data-state="uploaded"]`, { timeout: 15000 });
  result.gallery_link = await page.getAttribute(`${shot} a.thumb`, 'href');
  result.gallery_chip = await page.textContent(`${shot} [data-upload-state]`);
  check('uploaded_with_link', /\/rpi-cam\/42\/[0-9a-f]{32}\.jpg$/.test(result.image_url || '')
    && result.gallery_link === result.image_url, { image_url: result.image_url, gallery: result.gallery_link });
  // The queue's old error stays listed, marked as past.
  await page.waitForFunction(() => /succeeded since/.test(document.querySelector('[data-last-error] dd').textContent), null, { timeout: 15000 });
  result.last_error_after = await page.textContent('[data-last-error] dd');
  check('old_error_marked_past', result.last_error_after.startsWith(head), result.last_error_after);
}

async function everything(page, ctx, patches) {
  // Signed out: the camera panels ask for a sign-in; health shows what is open.
  await page.waitForSelector('[data-login]:not([hidden])');
  check('signed_out_asks', await page.isVisible('[data-panel="controls"] .needs-login'));
  await page.waitForFunction(() => document.querySelector('[data-health="camera"]').textContent === 'running');

  // Sign in through the form, as a person would.
  await signIn(page);
  check('key_field_cleared', (await page.inputValue('#account-key')) === '');

  // Controls: turn auto exposure off with its switch (keyboard: focus and Space).
  await page.waitForSelector('[data-control="AeEnable"]');
  check('exposure_disabled_while_auto', await page.isDisabled('[data-control="ExposureTime"]'));
  await page.focus('[data-control="AeEnable"]');
  const aeOff = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().endsWith('/camera/controls'));
  await page.keyboard.press('Space');
  result.ae_off_status = (await aeOff).status();
  check('exposure_enabled_manual', await page.isEnabled('[data-control="ExposureTime"]'));
  const before = await settledBrightness(page);

  // Drag the exposure slider from its place to near the end, in small steps, as a finger does.
  const slider = await page.$('[data-control="ExposureTime"]');
  await slider.scrollIntoViewIfNeeded();
  const box = await slider.boundingBox();
  const y = box.y + box.height / 2;
  const startX = box.x + box.width * 0.55; // about 10 ms, where auto exposure left it
  const patchesBefore = patches.length;
  await page.mouse.move(startX, y);
  await page.mouse.down();
  const dragStart = Date.now();
  for (let i = 1; i <= 30; i += 1) {
    await page.mouse.move(startX + (box.width * 0.4 * i) / 30, y);
    await page.waitForTimeout(40);
  }
  await page.mouse.up();
  result.drag_ms = Date.now() - dragStart;
  await page.waitForFunction(() => {
    const v = Number(document.querySelector('[data-control-value="ExposureTime"]').value);
    return v > 30000;
  });
  // The change reaches the camera: wait until nothing is left to send.
  // (Not fatal: without it the brightness check below says what went wrong.)
  await page.waitForFunction((n) => Number(document.querySelector('[data-panel="controls"]').dataset.applied || 0) >= n, 2,
    { timeout: 5000 }).catch(() => { result.exposure_not_applied = true; });
  await page.waitForTimeout(600);
  result.patches_during_drag = patches.length - patchesBefore;
  result.exposure_sent = patches.length ? patches[patches.length - 1].controls.ExposureTime : null;
  const after = await settledBrightness(page);
  result.brightness = { before: Math.round(before * 10) / 10, after: Math.round(after * 10) / 10 };
  check('brightness_rises', after > before + 25, result.brightness);
  // Debounced: ~1.3 s of dragging (30 input events) is a few requests, not 30.
  check('drag_debounced', result.patches_during_drag >= 1 && result.patches_during_drag <= 5, result.patches_during_drag);

  // Reset to defaults: auto exposure comes back, the picture returns near where it was.
  const reset = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().endsWith('/camera/controls'));
  await page.click('[data-reset]');
  result.reset_status = (await reset).status();
  check('reset_restores_auto', await page.isChecked('[data-control="AeEnable"]'));
  const restored = await settledBrightness(page);
  result.brightness.reset = Math.round(restored * 10) / 10;
  check('reset_restores_picture', Math.abs(restored - before) < 10, result.brightness);

  // Focus: manual mode enables the lens slider; End moves it to the far end (PUT /camera/focus).
  const puts = [];
  page.on('request', (r) => { if (r.method() === 'PUT' && r.url().endsWith('/camera/focus')) puts.push(r.postDataJSON()); });
  await page.selectOption('#focus-mode', 'manual');
  await page.waitForFunction(() => !document.querySelector('[data-control="LensPosition"]').disabled);
  await page.focus('[data-control="LensPosition"]');
  // The select's own PUT (the slider's current position) may still be on its way: wait for
  // the one that carries the far end.
  const lensMax = Number(await page.$eval('[data-control-value="LensPosition"]', (el) => el.max));
  const lensPut = page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().endsWith('/camera/focus')
    && r.request().postDataJSON().lens_position === lensMax);
  await page.keyboard.press('End');
  result.focus_status = (await lensPut).status();
  const focusView = await (await ctx.request.get(`${baseUrl}/camera/controls`)).json();
  result.focus = { puts, AfMode: focusView.values.AfMode, LensPosition: focusView.values.LensPosition };
  check('manual_focus', result.focus_status === 200 && focusView.values.AfMode === 'manual'
    && focusView.values.LensPosition === focusView.controls.LensPosition.maximum, result.focus);
  await page.selectOption('#focus-mode', 'continuous');
  await page.waitForFunction(() => document.querySelector('[data-control="LensPosition"]').disabled);

  // A value the camera refuses (typed into the number field): its 422 shows next to it.
  await page.fill('[data-control-value="Brightness"]', '5');
  await page.press('[data-control-value="Brightness"]', 'Tab');
  await page.waitForFunction(() => document.querySelector('[data-error-for="Brightness"]').textContent !== '');
  result.refused_text = await page.textContent('[data-error-for="Brightness"]');
  check('refusal_next_to_control', /Brightness/.test(result.refused_text), result.refused_text);

  // Capture from the page; the answer shows at once, then the gallery has it with its state.
  await page.fill('#capture-product', '42');
  await page.fill('#capture-description', 'console test');
  const captured = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/captures'));
  await page.click('[data-capture]');
  const answer = await captured;
  result.capture_status = answer.status();
  const id = (await answer.json()).image_id;
  await page.waitForSelector(`[data-capture-result][data-image-id="${id}"]`);
  result.capture_state = await page.getAttribute('[data-capture-result]', 'data-state');
  const shot = `.gallery li[data-image-id="${id}"]`;
  await page.waitForSelector(shot);
  result.gallery_state = await page.getAttribute(shot, 'data-state');
  result.gallery_chip = await page.textContent(`${shot} [data-upload-state]`);
  await page.waitForFunction((sel) => {
    const img = document.querySelector(`${sel} img`);
    return img && img.complete && img.naturalWidth > 0;
  }, shot);
  result.thumbnail_width = await page.$eval(`${shot} img`, (img) => img.naturalWidth);
  result.queue_depth = await page.getAttribute('[data-queue-depth]', 'data-queue-depth');
  check('capture_in_gallery', result.capture_status === 201 && result.capture_state === 'local'
    && result.gallery_state === 'local' && result.thumbnail_width > 0);

  // Nothing shows a stray "null" or "undefined" (a missing value rendered as text).
  const shown = await page.$eval('.console', (el) => el.innerText);
  check('no_stray_null', !/\b(null|undefined|NaN)\b/.test(shown), shown.match(/.{0,30}\b(null|undefined|NaN)\b.{0,30}/));

  // Health: telemetry fields filled once signed in; Stop and Start the camera.
  await page.waitForFunction(() => /%/.test(document.querySelector('[data-health="disk"]').textContent));
  result.health = await page.$$eval('[data-health]', (els) => Object.fromEntries(els.map((e) => [e.dataset.health, e.textContent])));
  await page.click('[data-camera-stop]');
  await page.waitForFunction(() => document.querySelector('[data-panel="health"]').dataset.camera === 'stopped');
  result.stopped_status = await (await ctx.request.get(`${baseUrl}/camera/status`)).json();
  await page.click('[data-camera-start]');
  await page.waitForFunction(() => document.querySelector('[data-panel="health"]').dataset.camera === 'running', null, { timeout: 15000 });
  check('camera_stop_start', result.stopped_status.running === false);

  // The key is nowhere in the page, its storage or its cookies.
  const leaks = await page.evaluate((k) => {
    const where = [];
    if (document.documentElement.outerHTML.includes(k)) where.push('html');
    for (const [name, store] of [['localStorage', localStorage], ['sessionStorage', sessionStorage]]) {
      for (let i = 0; i < store.length; i += 1) {
        const name2 = store.key(i);
        if (name2.includes(k) || String(store.getItem(name2)).includes(k)) where.push(name);
      }
    }
    if (document.cookie.includes(k)) where.push('document.cookie');
    const inputs = [...document.querySelectorAll('input')].filter((i) => i.value.includes(k));
    if (inputs.length) where.push('inputs');
    return where;
  }, key);
  const cookies = (await ctx.cookies()).filter((c) => c.value.includes(key));
  check('key_not_in_page', key.length > 10 && leaks.length === 0 && cookies.length === 0, leaks);

  // The gallery's card was not rebuilt meanwhile (its thumbnail is still there, loaded).
  check('thumbnail_kept', await page.$eval(`.gallery li[data-image-id="${id}"] img`,
    (img) => img.complete && img.naturalWidth > 0).catch(() => false));

  // Phone and desktop screenshots; on a phone nothing scrolls sideways.
  if (artifacts) await page.screenshot({ path: join(artifacts, 'console-desktop.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  result.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check('phone_no_sideways_scroll', result.phone_overflow <= 0, result.phone_overflow);
  result.small_targets = await page.evaluate(() => [...document.querySelectorAll('.console button, .console select, .console input[type="range"], .console input[type="number"]')]
    .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().height < 40)
    .map((el) => el.dataset.control || el.id || el.textContent));
  check('touch_sized', result.small_targets.length === 0, result.small_targets);
  result.unlabelled = await page.evaluate(() => [...document.querySelectorAll('.console input, .console select')]
    .filter((el) => el.offsetParent !== null && el.labels.length === 0 && !el.getAttribute('aria-label'))
    .map((el) => el.id || el.name));
  check('inputs_labelled', result.unlabelled.length === 0, result.unlabelled);
  if (artifacts) {
    await page.screenshot({ path: join(artifacts, 'console-phone.png'), fullPage: true });
    await page.evaluate(() => document.documentElement.setAttribute('data-theme', 'dark'));
    await page.screenshot({ path: join(artifacts, 'console-phone-dark.png'), fullPage: true });
  }
}
