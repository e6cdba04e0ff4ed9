// Landing page wiring: the live preview player, the latency meter and the small stats panel.

import { LLHLSPlayer } from './player.js';
import { LiveMp4Player } from './live.js';
import { ClockSync, LatencyMeter } from './latency.js';

const PLAYLIST = '/preview/hls/cam-preview/index.m3u8';
const LIVE = '/preview/live.mp4';

const video = document.getElementById('video');
const statusEl = document.getElementById('status');
const latencyEl = document.getElementById('latency');
const resolutionEl = document.getElementById('resolution');
const aheadEl = document.getElementById('buffer-ahead');
const partsEl = document.getElementById('parts');
const modeEl = document.getElementById('mode');

function setStatus(state, text) {
  statusEl.textContent = text;
  statusEl.dataset.state = state;
}

// Live mode (per-frame fMP4 into MSE) by default where MSE can play it; LL-HLS otherwise, or when
// chosen with the switch (remembered) or ?mode=hls|live.
const MODE_KEY = 'picamd.preview-mode';
const storage = (() => { try { return window.localStorage; } catch (_) { return null; } })();
const liveSupported = LiveMp4Player.isSupported();
const asked = new URLSearchParams(location.search).get('mode') || (storage && storage.getItem(MODE_KEY));
let mode = liveSupported && asked !== 'hls' ? 'live' : 'hls';

const modeToggle = document.getElementById('mode-toggle');
const modeName = document.getElementById('mode-name');
const partsLabel = document.getElementById('parts-label');
let player = null;

// The cached thumbnail covers the video until live frames play (or goes away if there is none).
const thumbnail = document.getElementById('thumbnail');
const hideThumbnail = () => { thumbnail.hidden = true; };
thumbnail.addEventListener('error', hideThumbnail);
if (thumbnail.complete && thumbnail.naturalWidth === 0) hideThumbnail(); // failed before we listened

function showFreshThumbnail() {
  thumbnail.src = `/preview-thumbnail.jpg?t=${Date.now()}`;
  thumbnail.hidden = false;
}

function makePlayer(which) {
  const p = which === 'live' ? new LiveMp4Player(video, LIVE) : new LLHLSPlayer(video, PLAYLIST);
  p.addEventListener('status', (ev) => {
    if (p !== player) return;
    setStatus(ev.detail.state, ev.detail.text);
    if (ev.detail.state === 'playing') hideThumbnail();
  });
  // No live route (an older daemon, a proxy in between): LL-HLS, and say so.
  p.addEventListener('unavailable', (ev) => {
    if (p === player) switchMode('hls', `live mode unavailable (${ev.detail.why}): LL-HLS`);
  });
  return p;
}

function showMode() {
  modeName.textContent = mode === 'live' ? 'Live (per-frame)' : 'LL-HLS';
  modeToggle.textContent = mode === 'live' ? 'Switch to LL-HLS' : 'Switch to live mode';
  modeToggle.hidden = !liveSupported && mode === 'hls';
  partsLabel.textContent = mode === 'live' ? 'frames received' : 'parts fetched';
}

function switchMode(next, why) {
  const wasRunning = player && player.running;
  if (player) player.stop();
  mode = next;
  player = makePlayer(mode);
  window.picamd.player = player;
  meter.reset();
  showMode();
  if (why) setStatus('reconnecting', why);
  if (wasRunning) player.start();
}

const toggle = document.getElementById('preview-toggle');
toggle.addEventListener('click', () => {
  if (player.running) {
    player.stop();
    if (player.mode === 'native HLS') video.pause(); // stop() only ends MSE sessions
    showFreshThumbnail();
    toggle.textContent = 'Start preview';
  } else {
    player.start();
    toggle.textContent = 'Stop preview';
  }
});
modeToggle.addEventListener('click', () => {
  const next = mode === 'live' ? 'hls' : 'live';
  if (storage) storage.setItem(MODE_KEY, next);
  switchMode(next);
  if (!player.running) {
    player.start();
    toggle.textContent = 'Stop preview';
  }
});

for (const el of document.querySelectorAll('[data-origin]')) el.textContent = location.origin;

// Latency: server clock offset first (re-estimated every minute), then a reading per frame.
const clock = new ClockSync('/time');
const meter = new LatencyMeter(video, clock, {
  onUpdate(ms) {
    if (ms === null) return;
    const r = Math.round(ms);
    latencyEl.textContent = `${r} ms`;
    latencyEl.dataset.latencyMs = String(r);
  },
});

let clockSyncs = 0;
async function syncClock() {
  try {
    await clock.sync(5);
  } catch (_) {
    // No /time (or offline): retry later; latency stays unknown meanwhile.
    setTimeout(syncClock, 5000);
    return;
  }
  // Again soon (page start-up keeps the main thread busy and skews the first round trips),
  // then once a minute.
  clockSyncs++;
  setTimeout(syncClock, clockSyncs < 3 ? 3000 : 60000);
}
syncClock();
meter.start();

// For debugging and the headless tests (tests/browser/play.mjs); `player` follows the switch.
window.picamd = { player: null, meter, clock, switchMode };
player = makePlayer(mode);
window.picamd.player = player;
showMode();
if (mode === 'hls' && !LLHLSPlayer.isSupported(video)) {
  setStatus('error', 'error: this browser cannot play the live preview (no MSE, no HLS)');
  toggle.disabled = true;
} else {
  player.start();
}
// A new MediaSource session replaces the source; re-arm the per-frame callback when frames flow.
video.addEventListener('loadeddata', () => meter.restart());

function fmtRes() {
  return video.videoWidth ? `${video.videoWidth}×${video.videoHeight}` : '—';
}

setInterval(() => {
  resolutionEl.textContent = fmtRes();
  const s = player.stats;
  aheadEl.textContent = player.started ? `${s.bufferAhead.toFixed(2)} s` : '—';
  partsEl.textContent = String(mode === 'live' ? s.fragments : s.partsFetched);
  modeEl.textContent = s.codec ? `${player.mode}, ${s.codec}` : player.mode;
  const playing = mode === 'live' ? 'playing (live)' : 'playing';
  if (player.state === 'playing' && video.playbackRate !== 1) {
    statusEl.textContent = `${playing}, catching up ×${video.playbackRate.toFixed(2)}`;
  } else if (player.state === 'playing') {
    statusEl.textContent = playing;
  }
}, 500);
