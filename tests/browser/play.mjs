#!/usr/bin/env node
// Headless-Chromium check of picamd's landing page and LL-HLS player.
//
// usage: node play.mjs <base-url> [--mode live|hls] [--seconds N] [--screenshot out.png]
//                       [--restart] [--switch]
//
// Opens <base-url>/ (with ?mode=live|hls when --mode is given; the page's default otherwise) in Debian's Chromium (/usr/bin/chromium or $CHROMIUM), waits until the video
// has played >= 3 s (within 20 s), then samples the page's latency readout
// (#latency[data-latency-ms], a median of the last ~30 barcode readings) for N seconds (default 5).
// Prints one JSON line and exits 0 only if playback advanced, the latency median is < 2000 ms
// and there were no page errors.
// With --restart, once playing it stops the preview encoder (POST /preview/stop, with the key
// in PICAMD_KEY) while holding the page's HLS and live-stream requests for 2.8 s, so that the encoder session ends; the released requests
// wake it, and the playlist goes on behind EXT-X-DISCONTINUITY. Playback must then advance
// another 3 s within 20 s in the same player session (no reset); `restart` in the JSON says how.
// With --switch, after sampling it clicks the page's mode switch (#mode-toggle) and requires
// playback to advance another 2 s within 20 s in the other mode; `switch` says from/to, and
// console errors from then on are in `switch_console_errors`, not `console_errors`.

import { launchChromium } from './launch.mjs';

function usage(msg) {
  if (msg) console.error(msg);
  console.error('usage: node play.mjs <base-url> [--mode live|hls] [--seconds N] [--screenshot out.png] [--restart] [--switch]');
  process.exit(1);
}

const argv = process.argv.slice(2);
let baseUrl = null;
let seconds = 5;
let screenshot = null;
let restart = false;
let mode = null;
let switchMode = false;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--seconds') seconds = Number(argv[++i]);
  else if (a === '--screenshot') screenshot = argv[++i];
  else if (a === '--restart') restart = true;
  else if (a === '--switch') switchMode = true;
  else if (a === '--mode') mode = argv[++i];
  else if (a === '-h' || a === '--help') usage();
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else if (!baseUrl) baseUrl = a;
  else usage(`unexpected argument ${a}`);
}
if (!baseUrl) usage('missing <base-url>');
if (!Number.isFinite(seconds) || seconds <= 0) usage('--seconds needs a positive number');
if (screenshot === undefined) usage('--screenshot needs a file name');
if (mode !== null && mode !== 'live' && mode !== 'hls') usage('--mode must be live or hls');

const PLAY_NEEDED_S = 3;
const PLAY_TIMEOUT_MS = 20000;
const LATENCY_LIMIT_MS = 2000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(values, p) {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.round((p / 100) * (s.length - 1))));
  return s[idx];
}

const result = {
  played_s: 0,
  first_frame_ms: null,
  latency_ms_p50: null,
  latency_ms_max: null,
  console_errors: [],
  width: 0,
  height: 0,
};
const pageErrors = [];
// Console errors go here; after --switch, to result.switch_console_errors instead.
let consoleErrors = result.console_errors;

const pageHost = new URL(baseUrl).hostname;
let browser;
let exitCode = 1;
let reason = null;
try {
  browser = await launchChromium({ hosts: [pageHost], media: true });
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  // The page must only talk to its own origin (no CDN): note anything else (it cannot resolve).
  const foreign = [];
  page.on('request', (req) => {
    const u = new URL(req.url());
    if ((u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'ws:' || u.protocol === 'wss:') &&
        u.hostname !== pageHost) foreign.push(u.href);
  });
  page.on('console', (msg) => {
    // With where it came from: a failed resource load names no URL in its text.
    if (msg.type() === 'error') {
      const at = msg.location() && msg.location().url ? new URL(msg.location().url).pathname : '';
      consoleErrors.push(at ? `${msg.text()} [${at}]` : msg.text());
    }
  });
  page.on('pageerror', (err) => pageErrors.push(String(err && err.stack ? err.stack.split('\n')[0] : err)));

  const url = new URL(mode ? `/?mode=${mode}` : '/', baseUrl).href;
  const navStart = Date.now();
  const resp = await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 15000 });
  if (!resp || !resp.ok()) throw new Error(`GET ${url}: HTTP ${resp ? resp.status() : 'no response'}`);

  // Played time = sum of forward currentTime steps no larger than the wall time that passed
  // (seeks to the live edge and session resets are not counted as playback).
  const state = () => page.evaluate(() => {
    const v = document.querySelector('video');
    const lat = document.getElementById('latency');
    return {
      t: v ? v.currentTime : 0,
      w: v ? v.videoWidth : 0,
      h: v ? v.videoHeight : 0,
      lat: lat && lat.dataset.latencyMs !== undefined ? Number(lat.dataset.latencyMs) : null,
      status: (document.getElementById('status') || {}).textContent || '',
    };
  });
  let prev = await state();
  let prevWall = Date.now();
  const track = async () => {
    const s = await state();
    const wall = Date.now();
    const dt = s.t - prev.t;
    const dw = (wall - prevWall) / 1000;
    if (dt > 0 && dt <= dw * 1.5 + 0.05) result.played_s += dt;
    prev = s;
    prevWall = wall;
    if (s.w) { result.width = s.w; result.height = s.h; }
    if (s.t > 0 && result.first_frame_ms === null) result.first_frame_ms = wall - navStart;
    return s;
  };

  const deadline = Date.now() + PLAY_TIMEOUT_MS;
  let s = prev;
  while (result.played_s < PLAY_NEEDED_S && Date.now() < deadline) {
    await sleep(200);
    s = await track();
  }
  if (result.played_s < PLAY_NEEDED_S) {
    reason = `playback advanced only ${result.played_s.toFixed(2)} s in ${PLAY_TIMEOUT_MS / 1000} s (status: "${s.status}")`;
  }

  if (!reason && restart) {
    const stats = () => page.evaluate(() => ({ ...window.picamd.player.stats }));
    const before = await stats();
    let release;
    const held = new Promise((r) => { release = r; });
    const pattern = '**/preview/{hls/**,live.mp4}';
    await page.route(pattern, async (route) => { await held; await route.continue().catch(() => {}); });
    const key = process.env.PICAMD_KEY || '';
    const stop = await fetch(new URL('/preview/stop', baseUrl), { method: 'POST', headers: { 'X-API-Key': key } });
    if (stop.status !== 204) throw new Error(`POST /preview/stop: HTTP ${stop.status}`);
    await sleep(2800); // the muxer ends a session after 2 s without frames
    release();
    await page.unroute(pattern);
    const releasedAt = Date.now();
    const playedBefore = result.played_s;
    while (result.played_s < playedBefore + PLAY_NEEDED_S && Date.now() < releasedAt + PLAY_TIMEOUT_MS) {
      await sleep(200);
      s = await track();
    }
    const after = await stats();
    result.restart = {
      resumed_s: Math.round((Date.now() - releasedAt) / 100) / 10,
      played_after_s: Math.round((result.played_s - playedBefore) * 100) / 100,
      player_sessions: after.sessions - before.sessions,
      discontinuities: (after.discontinuities || 0) - (before.discontinuities || 0),
    };
    if (result.played_s < playedBefore + PLAY_NEEDED_S) {
      reason = `after the restart playback advanced only ${(result.played_s - playedBefore).toFixed(2)} s (status: "${s.status}")`;
    }
  }

  // Latency: sample the readout; also collect the page's raw per-frame readings for the max.
  const samples = [];
  const t0 = Date.now();
  const sampleEnd = reason ? t0 : t0 + seconds * 1000;
  while (Date.now() < sampleEnd) {
    await sleep(250);
    s = await track();
    if (s.lat !== null && Number.isFinite(s.lat)) samples.push(s.lat);
  }
  const raw = await page.evaluate((since) => {
    const m = window.picamd && window.picamd.meter;
    return m ? m.all.filter((r) => r.t >= since).map((r) => r.ms) : [];
  }, t0);
  const extra = await page.evaluate(() => {
    const p = window.picamd && window.picamd.player;
    const v = document.querySelector('video');
    const q = v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
    return {
      status: (document.getElementById('status') || {}).textContent || '',
      stats: p ? { ...p.stats } : null,
      frames: q ? { total: q.totalVideoFrames, dropped: q.droppedVideoFrames } : null,
      bad_barcodes: window.picamd ? window.picamd.meter.badFrames : null,
      clock: window.picamd ? {
        synced: window.picamd.clock.synced,
        offset_us: Math.round(window.picamd.clock.offsetUs),
        rtt_us: window.picamd.clock.rttUs === null ? null : Math.round(window.picamd.clock.rttUs),
      } : null,
    };
  });

  result.played_s = Math.round(result.played_s * 100) / 100;
  result.latency_ms_p50 = percentile(samples, 50);
  const maxPool = raw.length ? raw : samples;
  result.latency_ms_max = maxPool.length ? Math.round(Math.max(...maxPool)) : null;
  result.latency_samples = samples.length;
  result.latency_readings = raw.length;
  result.latency_raw_p50 = raw.length ? Math.round(percentile(raw, 50)) : null;
  result.latency_raw_p95 = raw.length ? Math.round(percentile(raw, 95)) : null;
  result.status = extra.status;
  result.player = extra.stats;
  result.frames = extra.frames;
  result.bad_barcodes = extra.bad_barcodes;
  result.clock = extra.clock;
  result.page_errors = pageErrors;
  if (foreign.length) result.foreign_requests = foreign.slice(0, 10);

  result.mode = await page.evaluate(() => window.picamd.player.mode);
  if (!reason && switchMode) {
    const from = result.mode;
    result.switch_console_errors = [];
    consoleErrors = result.switch_console_errors;
    await page.click('#mode-toggle');
    const clickedAt = Date.now();
    const playedBefore = result.played_s;
    while (result.played_s < playedBefore + 2 && Date.now() < clickedAt + PLAY_TIMEOUT_MS) {
      await sleep(200);
      s = await track();
    }
    const to = await page.evaluate(() => window.picamd.player.mode);
    result.switch = {
      from, to,
      shown: await page.evaluate(() => document.getElementById('mode-name').textContent),
      resumed_s: Math.round((Date.now() - clickedAt) / 100) / 10,
    };
    if (to === from) reason = `the switch did not change the mode (${from})`;
    else if (result.played_s < playedBefore + 2) reason = `after switching to ${to} playback advanced only ${(result.played_s - playedBefore).toFixed(2)} s`;
  }

  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

  if (!reason && result.latency_ms_p50 === null) reason = 'no latency readings (barcode not decoded or /time missing)';
  if (!reason && result.latency_ms_p50 >= LATENCY_LIMIT_MS) reason = `latency p50 ${result.latency_ms_p50} ms >= ${LATENCY_LIMIT_MS} ms`;
  if (!reason && pageErrors.length) reason = `page errors: ${pageErrors.join('; ')}`;
  if (!reason && foreign.length) reason = `requests to other hosts: ${foreign.slice(0, 3).join(', ')}`;
  if (!reason) exitCode = 0;
} catch (e) {
  reason = `test failed: ${e && e.message ? e.message.split('\n')[0] : e}`;
} finally {
  if (browser) await browser.close().catch(() => {});
}

if (reason) result.reason = reason;
result.ok = exitCode === 0;
console.log(JSON.stringify(result));
if (reason) console.error(`FAIL: ${reason}`);
process.exit(exitCode);
