// Glass-to-glass latency: reads the capture-time barcode that picamd's synthetic camera burns
// into the top 16 rows of every frame and compares it with the server's clock at display time.
//
// Barcode: 64 blocks of floor(width/64) pixels, MSB first, white = 1. Bits 0..55 are the capture
// wall-clock time in µs since the Unix epoch; bits 56..63 are the XOR of its 7 big-endian bytes,
// XORed with 0xA5.

/** Browser wall clock in µs, on the same timebase as requestVideoFrameCallback timestamps. */
export function browserNowUs() {
  return (performance.timeOrigin + performance.now()) * 1000;
}

/**
 * Estimates server clock − browser clock from GET /time ({"unix_us": ...}), NTP-style:
 * offset = server − (t0 + t1) / 2 for the sample with the smallest round trip. A new estimate
 * replaces the current one only if its round trip is comparable (busy main thread, slow network
 * moments) or the current one is more than 5 minutes old.
 */
export class ClockSync {
  constructor(url = '/time') {
    this.url = url;
    this.offsetUs = 0;
    this.rttUs = null;
    this.synced = false;
    this.best = null;
  }

  /** One round trip; null if it failed or took longer than timeoutMs. */
  async sample(timeoutMs = 1500) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeoutMs);
    try {
      const t0 = browserNowUs();
      const res = await fetch(this.url, { cache: 'no-store', signal: ctl.signal });
      const t1 = browserNowUs(); // headers are in: the server's reading is older than this
      if (!res.ok) return null;
      const server = Number((await res.json()).unix_us);
      if (!Number.isFinite(server)) return null;
      return { rtt: t1 - t0, offset: server - (t0 + t1) / 2, at: Date.now() };
    } catch (_) {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  async sync(samples = 5) {
    let best = null;
    for (let i = 0; i < samples; i++) {
      const s = await this.sample();
      if (s && (!best || s.rtt < best.rtt)) best = s;
    }
    if (!best) throw new Error(`GET ${this.url} failed`);
    const cur = this.best;
    if (!cur || best.rtt <= cur.rtt * 1.5 || Date.now() - cur.at > 300000) this.best = best;
    this.offsetUs = this.best.offset;
    this.rttUs = this.best.rtt;
    this.synced = true;
    return this.best;
  }

  /** Server wall clock in µs for a browser wall-clock time in µs. */
  toServerUs(browserUs) {
    return browserUs + this.offsetUs;
  }
}

const MASK56 = (1n << 56n) - 1n;

/**
 * Decodes the barcode from RGBA pixels of the top 16 rows (width `width`). Returns the capture
 * time in µs as a Number (exact: < 2^53), or null if the checksum fails.
 */
export function decodeBarcode(rgba, width) {
  const bw = Math.floor(width / 64);
  if (bw < 2) return null;
  const x0 = Math.floor(bw / 4);
  const x1 = Math.max(x0 + 1, Math.floor((3 * bw) / 4));
  let word = 0n;
  for (let bit = 0; bit < 64; bit++) {
    let sum = 0;
    let n = 0;
    for (let y = 4; y <= 11; y++) {
      const row = y * width * 4;
      for (let x = bit * bw + x0; x < bit * bw + x1; x++) {
        sum += rgba[row + x * 4 + 1]; // green ≈ luma for a grey barcode
        n++;
      }
    }
    word = (word << 1n) | (sum / n >= 128 ? 1n : 0n);
  }
  const value = word >> 8n;
  const check = Number(word & 0xffn);
  let x = 0xa5;
  for (let i = 6; i >= 0; i--) x ^= Number((value >> BigInt(i * 8)) & 0xffn);
  if (x !== check || value === 0n || (value & MASK56) !== value) return null;
  return Number(value);
}

function median(a) {
  if (!a.length) return null;
  const s = [...a].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Measures latency for each displayed frame (requestVideoFrameCallback, else a 100 ms timer)
 * and keeps the last `window` readings. onUpdate(medianMs) is called at most every 250 ms.
 */
export class LatencyMeter {
  constructor(video, clock, { window = 30, minIntervalMs = 90, onUpdate = () => {} } = {}) {
    this.video = video;
    this.clock = clock;
    this.window = window;
    this.minIntervalMs = minIntervalMs;
    this.onUpdate = onUpdate;
    this.readings = [];   // ms, newest last
    this.all = [];        // { t: browser ms, ms } for tests, bounded
    this.badFrames = 0;
    this.canvas = document.createElement('canvas');
    this.canvas.height = 16;
    this.ctx = this.canvas.getContext('2d', { willReadFrequently: true });
    this.running = false;
    this.lastReadAt = 0;
    this.lastUpdateAt = 0;
    this.timer = null;
    this.rvfcHandle = null;
  }

  get medianMs() {
    return median(this.readings);
  }

  start() {
    if (this.running) return;
    this.running = true;
    if ('requestVideoFrameCallback' in HTMLVideoElement.prototype) {
      const cb = (now, meta) => {
        if (!this.running) return;
        // expectedDisplayTime is on the performance.now() timebase.
        const shownAt = meta && meta.expectedDisplayTime ? meta.expectedDisplayTime : now;
        this.measure((performance.timeOrigin + shownAt) * 1000);
        this.rvfcHandle = this.video.requestVideoFrameCallback(cb);
      };
      this.rvfcHandle = this.video.requestVideoFrameCallback(cb);
    } else {
      this.timer = setInterval(() => {
        if (!this.video.paused) this.measure(browserNowUs());
      }, 100);
    }
  }

  stop() {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    if (this.rvfcHandle !== null && this.video.cancelVideoFrameCallback) {
      this.video.cancelVideoFrameCallback(this.rvfcHandle);
    }
    this.timer = null;
    this.rvfcHandle = null;
  }

  /** Re-arms requestVideoFrameCallback after the video element got a new source. */
  restart() {
    this.stop();
    this.start();
  }

  reset() {
    this.readings = [];
  }

  measure(displayBrowserUs) {
    if (!this.clock.synced) return;
    const perfNow = performance.now();
    if (perfNow - this.lastReadAt < this.minIntervalMs) return;
    this.lastReadAt = perfNow;
    const v = this.video;
    const w = v.videoWidth;
    if (!w || v.readyState < 2) return;
    if (this.canvas.width !== w) this.canvas.width = w;
    let capture;
    try {
      this.ctx.drawImage(v, 0, 0, w, 16, 0, 0, w, 16);
      capture = decodeBarcode(this.ctx.getImageData(0, 0, w, 16).data, w);
    } catch (e) {
      return; // frame not drawable yet
    }
    if (capture === null) {
      this.badFrames++;
      return;
    }
    const ms = (this.clock.toServerUs(displayBrowserUs) - capture) / 1000;
    if (ms < -1000 || ms > 600000) { // implausible: clock not comparable
      this.badFrames++;
      return;
    }
    this.readings.push(ms);
    if (this.readings.length > this.window) this.readings.shift();
    this.all.push({ t: Date.now(), ms });
    if (this.all.length > 2000) this.all.splice(0, 1000);
    if (perfNow - this.lastUpdateAt >= 250) {
      this.lastUpdateAt = perfNow;
      this.onUpdate(this.medianMs);
    }
  }
}
