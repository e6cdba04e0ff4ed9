// Landing page wiring: the live preview player, the latency meter and the small stats panel.

import { LLHLSPlayer } from './player.js';
import { ClockSync, LatencyMeter } from './latency.js';

const PLAYLIST = '/preview/hls/cam-preview/index.m3u8';

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

const player = new LLHLSPlayer(video, PLAYLIST);
player.addEventListener('status', (ev) => setStatus(ev.detail.state, ev.detail.text));

// The cached thumbnail covers the video until live frames play (or goes away if there is none).
const thumbnail = document.getElementById('thumbnail');
const hideThumbnail = () => { thumbnail.hidden = true; };
thumbnail.addEventListener('error', hideThumbnail);
if (thumbnail.complete && thumbnail.naturalWidth === 0) hideThumbnail(); // failed before we listened
player.addEventListener('status', (ev) => { if (ev.detail.state === 'playing') hideThumbnail(); });

function showFreshThumbnail() {
  thumbnail.src = `/preview-thumbnail.jpg?t=${Date.now()}`;
  thumbnail.hidden = false;
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

for (const el of document.querySelectorAll('[data-origin]')) el.textContent = location.origin;

if (!LLHLSPlayer.isSupported(video)) {
  setStatus('error', 'error: this browser cannot play the live preview (no MSE, no HLS)');
  toggle.disabled = true;
} else {
  player.start();
}

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
// A new MediaSource session replaces the source; re-arm the per-frame callback when frames flow.
video.addEventListener('loadeddata', () => meter.restart());

function fmtRes() {
  return video.videoWidth ? `${video.videoWidth}×${video.videoHeight}` : '—';
}

setInterval(() => {
  resolutionEl.textContent = fmtRes();
  const s = player.stats;
  aheadEl.textContent = player.started ? `${s.bufferAhead.toFixed(2)} s` : '—';
  partsEl.textContent = String(s.partsFetched);
  modeEl.textContent = s.codec ? `${player.mode}, ${s.codec}` : player.mode;
  if (player.state === 'playing' && video.playbackRate !== 1) {
    statusEl.textContent = `playing (catching up ×${video.playbackRate})`;
  } else if (player.state === 'playing') {
    statusEl.textContent = 'playing';
  }
}, 500);

// For debugging and the headless test (tests/browser/play.mjs).
window.picamd = { player, meter, clock };
