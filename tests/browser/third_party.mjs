#!/usr/bin/env node
// Third-party players against picamd's LL-HLS playlist in Debian's headless Chromium.
//
// usage: node third_party.mjs <base-url> --player hls.js|shaka [--seconds N]
//
// The player library comes from this folder's node_modules (hls.js, shaka-player) and is served,
// with a small harness page, under the daemon's own origin through Playwright's request routing
// (the daemon itself serves nothing of it). The page plays
// <base-url>/preview/hls/cam-preview/index.m3u8 in low-latency mode. After playback has started
// (within 20 s), it watches for N seconds (default 20) and prints one JSON line:
//   played_s   forward playback in that window;
//   stalls     'waiting' events in that window;
//   latency_ms_p50 / _max   wall clock minus the player's PROGRAM-DATE-TIME of the playhead
//              (hls.playingDate, player.getPlayheadTimeAsDate()); since PROGRAM-DATE-TIME is
//              the capture time on the media timeline, this is capture -> playhead, same machine;
//   errors     player errors reported to the page.
// Exits 0 if playback started; the numbers are for the README, not pass/fail criteria.
// DEBUG=1 prints every request and response and the buffered ranges on stderr;
// SHAKA_CONFIG='{"manifest":{"hls":{...}}}' is passed to shaka's player.configure().

import { readFileSync } from 'node:fs';
import { launchChromium } from './launch.mjs';

function usage(msg) {
  if (msg) console.error(msg);
  console.error('usage: node third_party.mjs <base-url> --player hls.js|shaka [--seconds N]');
  process.exit(1);
}

const argv = process.argv.slice(2);
let baseUrl = null;
let player = null;
let seconds = 20;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--player') player = argv[++i];
  else if (a === '--seconds') seconds = Number(argv[++i]);
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else if (!baseUrl) baseUrl = a;
  else usage(`unexpected argument ${a}`);
}
if (!baseUrl) usage('missing <base-url>');
if (player !== 'hls.js' && player !== 'shaka') usage('--player must be hls.js or shaka');
if (!Number.isFinite(seconds) || seconds <= 0) usage('--seconds needs a positive number');

const LIBS = {
  'hls.js': 'node_modules/hls.js/dist/hls.min.js',
  shaka: 'node_modules/shaka-player/dist/shaka-player.compiled.js',
};
const version = JSON.parse(readFileSync(`node_modules/${player === 'shaka' ? 'shaka-player' : 'hls.js'}/package.json`)).version;

const SETUP = {
  'hls.js': `
    const hls = new Hls({ lowLatencyMode: true });
    hls.on(Hls.Events.ERROR, (_, d) => errors.push(d.details + (d.fatal ? ' (fatal)' : '')));
    hls.loadSource(SRC);
    hls.attachMedia(video);
    window.playheadDate = () => hls.playingDate;`,
  shaka: `
    shaka.polyfill.installAll();
    const p = new shaka.Player();
    p.addEventListener('error', (e) => errors.push(String(e.detail && e.detail.code)));
    p.configure({ streaming: { lowLatencyMode: true } });
    if (EXTRA) p.configure(EXTRA);
    await p.attach(video);
    await p.load(SRC);
    window.playheadDate = () => p.getPlayheadTimeAsDate();`,
};

const origin = new URL(baseUrl).origin;
const harness = `${origin}/__third_party/`;
const html = `<!doctype html><meta charset="utf-8"><title>${player}</title>
<video id="v" muted autoplay playsinline></video>
<script src="lib.js"></script>
<script type="module">
  const SRC = ${JSON.stringify(`${origin}/preview/hls/cam-preview/index.m3u8`)};
  const EXTRA = ${process.env.SHAKA_CONFIG || 'null'};
  const video = document.getElementById('v');
  const errors = [];
  window.errors = errors;
  window.stalls = 0;
  let playing = false;
  video.addEventListener('playing', () => { playing = true; });
  video.addEventListener('waiting', () => { if (playing) window.stalls++; });
  try {${SETUP[player]}
  } catch (e) { errors.push(String(e && (e.code || e.message) || e)); }
  video.play().catch(() => {});
</script>`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const percentile = (v, p) => {
  if (!v.length) return null;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.round((p / 100) * (s.length - 1)))];
};

const result = { player, version, played_s: 0, stalls: null, latency_ms_p50: null, latency_ms_max: null, errors: [] };
let browser;
let exitCode = 1;
try {
  browser = await launchChromium({ hosts: [new URL(baseUrl).hostname], media: true });
  const page = await browser.newPage();
  await page.route(`${harness}**`, (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path.endsWith('/lib.js')) {
      return route.fulfill({ contentType: 'text/javascript', body: readFileSync(LIBS[player]) });
    }
    return route.fulfill({ contentType: 'text/html', body: html });
  });
  if (process.env.DEBUG) {
    const t0 = Date.now();
    page.on('request', (r) => console.error(`${Date.now() - t0} > ${r.url().replace(origin, '')}`));
    page.on('response', (r) => console.error(`${Date.now() - t0} < ${r.status()} ${r.url().replace(origin, '')}`));
  }
  await page.goto(`${harness}index.html`, { waitUntil: 'domcontentloaded', timeout: 15000 });
  const state = () => page.evaluate(() => {
    const v = document.getElementById('v');
    const d = window.playheadDate ? window.playheadDate() : null;
    const b = [];
    for (let i = 0; i < v.buffered.length; i++) b.push([v.buffered.start(i).toFixed(2), v.buffered.end(i).toFixed(2)]);
    return { t: v.currentTime, stalls: window.stalls, lat: d ? Date.now() - d.getTime() : null, b };
  });
  const startBy = Date.now() + 20000;
  let s = await state();
  while (s.t < 1 && Date.now() < startBy) {
    await sleep(200);
    s = await state();
  }
  if (s.t >= 1) {
    const stallsBefore = s.stalls;
    const latencies = [];
    let prev = s;
    let prevWall = Date.now();
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
      await sleep(250);
      const now = await state();
      if (process.env.DEBUG) console.error(JSON.stringify(now));
      const dt = now.t - prev.t;
      if (dt > 0 && dt <= ((Date.now() - prevWall) / 1000) * 1.5 + 0.05) result.played_s += dt;
      if (now.lat !== null && Number.isFinite(now.lat)) latencies.push(now.lat);
      prev = now;
      prevWall = Date.now();
    }
    result.stalls = prev.stalls - stallsBefore;
    result.latency_ms_p50 = percentile(latencies, 50);
    result.latency_ms_max = latencies.length ? Math.max(...latencies) : null;
    exitCode = 0;
  }
  result.played_s = Math.round(result.played_s * 100) / 100;
  result.errors = await page.evaluate(() => window.errors.slice(0, 20));
} catch (e) {
  result.reason = `failed: ${e && e.message ? e.message.split('\n')[0] : e}`;
} finally {
  if (browser) await browser.close().catch(() => {});
}
if (exitCode !== 0 && !result.reason) result.reason = 'playback did not start within 20 s';
console.log(JSON.stringify(result));
process.exit(exitCode);
