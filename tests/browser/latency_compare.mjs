#!/usr/bin/env node
// Glass-to-glass latency, side by side, in one headless Chromium (benchmark, not a test; run by
// scripts/latency_compare.sh, which starts picamd, ffmpeg and nginx).
//
// usage: node latency_compare.mjs --picamd <base-url> --peer <playlist-url> [--seconds N]
//                                 [--rows 1,2,3,4] [--json out.json]
//
// Rows, each played for N seconds (default 60) in its own page, one after the other so that they
// do not compete for the CPU:
//   1 picamd live mode       <base>/?mode=live (our page and player, /preview/live.mp4)
//   2 picamd LL-HLS          <base>/?mode=hls  (our page and player)
//   3 picamd LL-HLS, hls.js  a harness page playing <base>/preview/hls/... with lowLatencyMode
//   4 ffmpeg HLS + nginx     the same harness playing <playlist-url> (ffmpeg's HLS muxer, served
//                            by nginx; what a user would otherwise assemble)
// Every row reads latency the same way: picamd's own barcode reader (www/latency.js
// LatencyMeter: the capture-time barcode of the synthetic camera, read from the frame shown by
// requestVideoFrameCallback, against picamd's /time clock). Harness pages are served under
// picamd's origin through Playwright routing (picamd serves none of it); the hls.js library is
// this folder's node_modules copy.
// Per row: p50/p90/max of the per-frame readings after a 5 s warm-up, first frame after page
// open (navigation start → first presented frame), frames presented vs expected, and the
// browser's droppedVideoFrames over the window.

import { readFileSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const argv = process.argv.slice(2);
const opt = { seconds: 60, rows: '1,2,3,4', picamd: null, peer: null, json: null };
for (let i = 0; i < argv.length; i++) {
  const k = argv[i].replace(/^--/, '');
  if (!(k in opt)) { console.error(`unknown option ${argv[i]}`); process.exit(2); }
  opt[k] = argv[++i];
}
if (!opt.picamd) { console.error('usage: node latency_compare.mjs --picamd <base-url> --peer <playlist-url> [--seconds N]'); process.exit(2); }
const seconds = Number(opt.seconds);
const WARMUP_MS = 5000;
const FPS = 30;
const base = new URL(opt.picamd);
const hlsVersion = JSON.parse(readFileSync('node_modules/hls.js/package.json')).version;
const hlsJs = readFileSync('node_modules/hls.js/dist/hls.min.js');

const ROWS = {
  1: { name: 'picamd live mode (our player)', url: '/?mode=live' },
  2: { name: 'picamd LL-HLS (our player)', url: '/?mode=hls' },
  3: { name: `picamd LL-HLS, hls.js ${hlsVersion} lowLatencyMode`, url: '/__bench/hlsjs.html', src: new URL('/preview/hls/cam-preview/index.m3u8', base).href },
  4: { name: `ffmpeg HLS muxer (fMP4, 1 s) + nginx, hls.js ${hlsVersion}`, url: '/__bench/hlsjs.html', src: opt.peer },
};

const harness = (src) => `<!doctype html><meta charset="utf-8"><title>bench</title>
<video id="video" muted autoplay playsinline style="width:640px"></video>
<script src="/__bench/hls.min.js"></script>
<script type="module">
import { ClockSync, LatencyMeter } from '/static/latency.js';
const video = document.getElementById('video');
const clock = new ClockSync('/time');
const meter = new LatencyMeter(video, clock);
const errors = [];
const hls = new Hls({ lowLatencyMode: true });
hls.on(Hls.Events.ERROR, (_, d) => errors.push(d.details + (d.fatal ? ' (fatal)' : '')));
hls.loadSource(${JSON.stringify(src)});
hls.attachMedia(video);
video.play().catch(() => {});
const sync = async (n) => { try { await clock.sync(5); } catch (_) {} setTimeout(() => sync(n + 1), n < 3 ? 3000 : 60000); };
sync(0);
meter.start();
video.addEventListener('loadeddata', () => meter.restart());
window.picamd = { meter, clock, errors };
</script>`;

// Records the first presented frame and the presented-frame count, in any page.
const PROBE = `(() => {
  window.__bench = { firstFrameMs: null, presented: 0 };
  const hook = () => {
    const v = document.querySelector('video');
    if (!v || !v.requestVideoFrameCallback) return setTimeout(hook, 10);
    const cb = (now, meta) => {
      if (window.__bench.firstFrameMs === null) window.__bench.firstFrameMs = Math.round(meta.expectedDisplayTime || now);
      window.__bench.presented = meta.presentedFrames;
      v.requestVideoFrameCallback(cb);
    };
    v.requestVideoFrameCallback(cb);
  };
  hook();
})();`;

function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function metric(name) {
  try {
    const key = process.env.PICAMD_KEY || '';
    const text = await (await fetch(new URL('/metrics', base), { headers: { 'X-API-Key': key } })).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : null;
  } catch (_) {
    return null;
  }
}

async function runRow(browser, id) {
  const row = ROWS[id];
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.addInitScript(PROBE);
  if (row.src) {
    await page.route('**/__bench/hlsjs.html', (r) => r.fulfill({ contentType: 'text/html', body: harness(row.src) }));
    await page.route('**/__bench/hls.min.js', (r) => r.fulfill({ contentType: 'text/javascript', body: hlsJs }));
  }
  const droppedBefore = id === 1 ? await metric('picamd_live_units_dropped_total') : null;
  await page.goto(new URL(row.url, base).href, { waitUntil: 'domcontentloaded' });
  await sleep(WARMUP_MS);
  const q = () => page.evaluate(() => {
    const v = document.querySelector('video');
    const pq = v.getVideoPlaybackQuality();
    return { dropped: pq.droppedVideoFrames, presented: window.__bench.presented, at: performance.now() };
  });
  const start = await q();
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const end = await q();
  const out = await page.evaluate((since) => ({
    readings: window.picamd.meter.all.filter((r) => r.t >= since).map((r) => r.ms),
    bad: window.picamd.meter.badFrames,
    firstFrameMs: window.__bench.firstFrameMs,
    errors: window.picamd.errors || [],
  }), t0);
  const droppedAfter = id === 1 ? await metric('picamd_live_units_dropped_total') : null;
  await context.close();
  const sorted = out.readings.slice().sort((a, b) => a - b);
  const windowS = (end.at - start.at) / 1000;
  const presented = end.presented - start.presented;
  return {
    row: id,
    name: row.name,
    readings: sorted.length,
    p50: pct(sorted, 50),
    p90: pct(sorted, 90),
    max: sorted.length ? sorted[sorted.length - 1] : null,
    first_frame_ms: out.firstFrameMs,
    window_s: Math.round(windowS * 10) / 10,
    frames_presented: presented,
    frames_not_presented: Math.max(0, Math.round(windowS * FPS) - presented),
    dropped_video_frames: end.dropped - start.dropped,
    server_units_dropped: droppedBefore === null || droppedAfter === null ? null : droppedAfter - droppedBefore,
    bad_barcodes: out.bad,
    errors: [...consoleErrors, ...out.errors].slice(0, 5),
  };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
    // Row 4's playlist is on nginx's port: a loopback request from a page Playwright fulfilled.
    '--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessRespectPreflightResults'],
});
const results = [];
try {
  for (const id of opt.rows.split(',').map(Number)) {
    if (id === 4 && !opt.peer) continue;
    process.stderr.write(`row ${id}: ${ROWS[id].name} (${seconds} s)\n`);
    results.push(await runRow(browser, id));
  }
} finally {
  await browser.close();
}

const ref = results.find((r) => r.row === 4);
const f = (v) => (v === null || v === undefined ? '—' : String(Math.round(v)));
const ratio = (r) => (ref && ref.p50 && r.p50 !== null ? (r.p50 / ref.p50).toFixed(2) : '—');
console.log(`| # | player | p50 ms | p90 ms | max ms | p50 / row 4 | first frame ms | frames not shown / dropped (${seconds} s) |`);
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(`| ${r.row} | ${r.name} | ${f(r.p50)} | ${f(r.p90)} | ${f(r.max)} | ${ratio(r)} | ${f(r.first_frame_ms)} | ${r.frames_not_presented} / ${r.dropped_video_frames} |`);
}
for (const r of results) {
  if (r.errors.length || r.readings < 10) console.error(`row ${r.row}: ${r.readings} readings, errors: ${r.errors.join('; ')}`);
}
if (opt.json) writeFileSync(opt.json, JSON.stringify(results, null, 2));
