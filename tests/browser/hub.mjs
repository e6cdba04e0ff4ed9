#!/usr/bin/env node
// Headless-Chromium check of picamd's camera hub (seed 004): our /hub page shows camera
// CAMERA_ID's pictures live over /video-output-stream, and a real EventSource reads
// /camera/stream-image with the reference framing (event `image-update`, data
// `data:image/jpg;base64,...`).
//
// usage: node hub.mjs <base-url> <camera-id>
// Prints one JSON line; exits 0 only if the page showed at least 3 pictures within 20 s, the
// EventSource got 3 events whose data decode to JPEGs, and there were no page or console errors.

import { launchChromium } from './launch.mjs';

const [baseUrl, cameraArg] = process.argv.slice(2);
if (!baseUrl || !cameraArg) {
  console.error('usage: node hub.mjs <base-url> <camera-id>');
  process.exit(1);
}
const cameraId = Number(cameraArg);
const result = { page_frames: 0, events: [], console_errors: [], page_errors: [] };
const pageHost = new URL(baseUrl).hostname;
let browser;
let exitCode = 1;
try {
  browser = await launchChromium({ hosts: [pageHost] });
  const page = await browser.newPage();
  page.on('console', (msg) => { if (msg.type() === 'error') result.console_errors.push(msg.text()); });
  page.on('pageerror', (err) => result.page_errors.push(String(err)));
  const resp = await page.goto(new URL('/hub', baseUrl).href, { waitUntil: 'domcontentloaded', timeout: 15000 });
  if (!resp || !resp.ok()) throw new Error(`GET /hub: HTTP ${resp ? resp.status() : 'no response'}`);

  const tile = `article[data-camera-id="${cameraId}"]`;
  await page.waitForFunction(
    (sel) => Number(document.querySelector(sel)?.dataset.frames || 0) >= 3,
    tile,
    { timeout: 20000 },
  );
  result.page_frames = await page.evaluate((sel) => Number(document.querySelector(sel).dataset.frames), tile);
  result.page_image_is_blob = await page.evaluate((sel) => document.querySelector(`${sel} img`).src.startsWith('blob:'), tile);

  // A real EventSource, as the reference front end used it before the output socket.
  result.events = await page.evaluate((id) => new Promise((resolve, reject) => {
    const seen = [];
    const source = new EventSource(`camera/stream-image?cameraId=${id}&updateDelay=50`);
    const timer = setTimeout(() => { source.close(); reject(new Error(`only ${seen.length} events`)); }, 15000);
    source.addEventListener('image-update', (event) => {
      const prefix = 'data:image/jpg;base64,';
      const ok = event.data.startsWith(prefix);
      const bytes = ok ? Uint8Array.from(atob(event.data.slice(prefix.length)), (c) => c.charCodeAt(0)) : new Uint8Array();
      seen.push({
        type: event.type,
        length: event.data.length,
        prefix: event.data.slice(0, prefix.length),
        jpeg: bytes.length > 4 && bytes[0] === 0xff && bytes[1] === 0xd8 &&
          bytes[bytes.length - 2] === 0xff && bytes[bytes.length - 1] === 0xd9,
      });
      if (seen.length >= 3) {
        clearTimeout(timer);
        source.close();
        resolve(seen);
      }
    });
  }), cameraId);
  const good = result.events.length >= 3 && result.events.every((e) => e.jpeg && e.length > 100);
  exitCode = good && result.page_frames >= 3 && !result.console_errors.length && !result.page_errors.length ? 0 : 1;
} catch (e) {
  result.error = String(e);
} finally {
  if (browser) await browser.close();
}
console.log(JSON.stringify(result));
process.exit(exitCode);
