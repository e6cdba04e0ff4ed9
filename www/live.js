// picamd's live mode: the per-frame fMP4 stream (GET /preview/live.mp4) read with fetch()
// streaming and appended to a Media Source Extensions SourceBuffer, one moof+mdat per frame.
//
// One "session" = one response and one MediaSource. The response starts with the init segment,
// then a fragment per frame from an IDR (possibly the last few hundred ms of the current GOP at
// once, so the first picture comes without waiting for the next IDR). A controller on a timer
// keeps the playhead a small margin behind the newest frame: a jump to the edge when far behind,
// a slightly higher playbackRate when a little behind, a larger margin after a stall (which
// decays again). The session ends when the response ends (camera restarted, preview stopped or
// hibernating: the server ends it), breaks (network), stalls, or the media element fails; the
// run loop then connects again, at once the first time and with backoff after that.
//
// Same interface as LLHLSPlayer (start/stop, running, started, state, stats, mode, 'status').

import { parseInit } from './fmp4.js';
import { MediaSourceImpl, USING_MMS, StatusTarget, pickCodec } from './mse.js';
import { HttpError, sleep } from './player.js';

/** Splits a byte stream into top-level ISO-BMFF boxes. */
class BoxSplitter {
  constructor() {
    this.buf = new Uint8Array(0);
  }

  /** Adds `chunk`; returns the complete boxes now available, as [type, bytes] pairs. */
  push(chunk) {
    if (this.buf.length) {
      const joined = new Uint8Array(this.buf.length + chunk.length);
      joined.set(this.buf);
      joined.set(chunk, this.buf.length);
      this.buf = joined;
    } else {
      this.buf = chunk;
    }
    const out = [];
    let o = 0;
    const b = this.buf;
    while (b.length - o >= 8) {
      const view = new DataView(b.buffer, b.byteOffset + o, b.length - o);
      let size = view.getUint32(0);
      if (size === 1) {
        if (b.length - o < 16) break;
        size = Number(view.getBigUint64(8));
      }
      if (size < 8) throw new Error(`bad box size ${size}`);
      if (b.length - o < size) break;
      const type = String.fromCharCode(b[o + 4], b[o + 5], b[o + 6], b[o + 7]);
      out.push([type, b.subarray(o, o + size)]);
      o += size;
    }
    this.buf = o ? b.slice(o) : b;
    return out;
  }
}

const concat = (parts) => {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};

export class LiveMp4Player extends StatusTarget {
  /**
   * @param {HTMLVideoElement} video
   * @param {string} url the live stream, /preview/live.mp4
   * @param {object} [opts] minAhead: seconds kept between playhead and newest frame (floor)
   */
  constructor(video, url, opts = {}) {
    super();
    this.video = video;
    this.url = new URL(url, location.href).href;
    this.opts = { minAhead: 0.04, maxMargin: 0.4, jumpAbove: 0.5, keepBehind: 5, stallMs: 4000, ...opts };
    this.mode = MediaSourceImpl ? `live (${USING_MMS ? 'ManagedMediaSource' : 'MediaSource'})` : 'none';
    this.stats = {
      fragments: 0, bytes: 0, sessions: 0, stalls: 0, jumps: 0, codec: null, bufferAhead: 0,
      playbackRate: 1, targetAhead: this.opts.minAhead, firstFrameMs: null,
    };
    this.running = false;
    this.started = false;
    this.state = 'idle';
    this.sessionCtl = null;
    this._onVisibility = () => this._visibilityChanged();
  }

  static isSupported() {
    return !!MediaSourceImpl && typeof ReadableStream !== 'undefined' && 'body' in Response.prototype;
  }

  start() {
    const generation = this._begin();
    if (generation === null) return;
    this.openedAt = performance.now();
    this._runLoop(generation);
  }

  async _runLoop(generation) {
    const current = () => this.running && this.generation === generation;
    let backoff = 250;
    let quickRetry = true;
    while (current()) {
      const started = performance.now();
      let why = 'stream ended';
      try {
        await this._session();
      } catch (e) {
        why = e instanceof TypeError ? 'server unreachable' : (e && e.message) || String(e);
        if (e instanceof HttpError && (e.status === 403 || e.status === 404)) {
          // No live route here (or not allowed): let the page fall back to LL-HLS.
          this.dispatchEvent(new CustomEvent('unavailable', { detail: { why } }));
        }
      }
      if (!current()) break;
      this.setStatus('reconnecting', `reconnecting: ${why}`);
      // A session that played for a while reconnects at once (the server ended it because the
      // camera restarted or the preview paused); repeated failures back off.
      if (performance.now() - started > 5000) {
        backoff = 250;
        quickRetry = true;
      }
      if (quickRetry) {
        quickRetry = false;
        continue;
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 4000);
    }
  }

  async _session() {
    this.stats.sessions++;
    const ctl = new AbortController();
    this.sessionCtl = ctl;
    const signal = ctl.signal;
    const video = this.video;
    const cleanups = [];
    const listen = (t, type, fn) => { t.addEventListener(type, fn); cleanups.push(() => t.removeEventListener(type, fn)); };
    const fail = (msg) => { if (!signal.aborted) ctl.abort(new Error(msg)); };
    let objectUrl = null;
    let ticker = null;
    if (this.stats.sessions === 1) this.setStatus('connecting', 'connecting (live)');
    try {
      const res = await fetch(this.url, { signal, cache: 'no-store' });
      if (!res.ok) {
        if (res.body) res.body.cancel().catch(() => {});
        throw new HttpError(this.url, res.status);
      }
      const reader = res.body.getReader();
      const onAbort = () => reader.cancel().catch(() => {});
      signal.addEventListener('abort', onAbort, { once: true });
      const splitter = new BoxSplitter();
      let lastData = performance.now();
      // No bytes for a while: the connection is dead (a network break does not always reset it).
      const watchdog = setInterval(() => {
        if (performance.now() - lastData > this.opts.stallMs) fail('no data from the camera');
      }, 500);
      cleanups.push(() => clearInterval(watchdog));

      const read = async () => {
        const { done, value } = await reader.read();
        if (done) throw new Error(signal.aborted ? String(signal.reason && signal.reason.message) : 'stream ended');
        lastData = performance.now();
        this.stats.bytes += value.length;
        return splitter.push(value);
      };

      // Init segment: ftyp + moov.
      const init = [];
      let pending = [];
      while (!init.some(([t]) => t === 'moov')) {
        for (const box of await read()) {
          if (init.some(([t]) => t === 'moov')) pending.push(box);
          else init.push(box);
        }
      }
      const initBuf = concat(init.map(([, b]) => b));
      const codec = pickCodec(parseInit(initBuf).codec);
      this.stats.codec = codec;

      const ms = new MediaSourceImpl();
      if (USING_MMS) video.disableRemotePlayback = true;
      objectUrl = URL.createObjectURL(ms);
      video.src = objectUrl;
      await new Promise((resolve, reject) => {
        ms.addEventListener('sourceopen', resolve, { once: true });
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
      URL.revokeObjectURL(objectUrl);
      objectUrl = null;
      ms.duration = Infinity;
      const sb = ms.addSourceBuffer(`video/mp4; codecs="${codec}"`);
      sb.mode = 'segments';
      this.sb = sb;
      this.ms = ms;
      this.started = false;
      this.lastJumpAt = 0;
      this.lastStallAt = performance.now();
      this.lastT = -1;
      this.lastMovedAt = performance.now();

      listen(video, 'error', () => fail(`video error ${video.error ? video.error.code : ''}`.trim()));
      listen(sb, 'error', () => fail('SourceBuffer error'));
      listen(ms, 'sourceclose', () => fail('MediaSource closed'));
      listen(video, 'waiting', () => {
        if (!this.started || video.seeking || performance.now() - this.lastJumpAt < 500) return;
        this.stats.stalls++;
        this.lastStallAt = performance.now();
        // Ran dry: keep a larger margin from now on (given back after quiet periods).
        this.stats.targetAhead = Math.min(this.stats.targetAhead + 0.03, this.opts.maxMargin);
      });
      listen(video, 'playing', () => { if (this.started) this.setStatus('playing', 'playing (live)'); });
      ticker = setInterval(() => this._tick(), 50);

      // Appends run one at a time; what arrives meanwhile is joined into the next append.
      const queue = [initBuf];
      let appending = null;
      let afterUpdate = false;
      const pump = () => {
        if (appending || !queue.length || signal.aborted) return appending;
        if (sb.updating) { // a trim (remove) is under way: append when it is done
          if (!afterUpdate) {
            afterUpdate = true;
            sb.addEventListener('updateend', () => { afterUpdate = false; pump(); }, { once: true });
          }
          return null;
        }
        const data = queue.length === 1 ? queue[0] : concat(queue);
        queue.length = 0;
        appending = new Promise((resolve, reject) => {
          const ok = () => { cleanup(); resolve(); };
          const bad = () => { cleanup(); reject(new Error('SourceBuffer append failed')); };
          const cleanup = () => { sb.removeEventListener('updateend', ok); sb.removeEventListener('error', bad); };
          sb.addEventListener('updateend', ok);
          sb.addEventListener('error', bad);
          try { sb.appendBuffer(data); } catch (e) { cleanup(); reject(e); }
        }).then(() => {
          appending = null;
          this._afterAppend();
          return pump();
        }, (e) => {
          appending = null;
          fail(e && e.name === 'QuotaExceededError' ? 'buffer full' : (e && e.message) || 'append failed');
        });
        return appending;
      };
      const enqueue = (boxes) => {
        let frames = 0;
        for (const [type, bytes] of boxes) {
          if (type === 'mdat') frames++;
          queue.push(bytes);
        }
        this.stats.fragments += frames;
        pump();
      };
      enqueue(pending);
      pending = null;
      for (;;) enqueue(await read());
    } catch (e) {
      if (signal.aborted && signal.reason instanceof Error) throw signal.reason;
      throw e;
    } finally {
      if (!signal.aborted) ctl.abort(new Error('session ended'));
      if (ticker) clearInterval(ticker);
      for (const cleanup of cleanups) cleanup();
      this._detach(ctl, objectUrl);
    }
  }

  _end() {
    const b = this.sb ? this.video.buffered : null;
    return b && b.length ? { start: b.start(b.length - 1), end: b.end(b.length - 1) } : null;
  }

  _afterAppend() {
    const r = this._end();
    if (!r || !this.sb) return;
    if (!this.started) {
      this.started = true;
      this._jumpToLive();
      this._play();
      return;
    }
    // Trim what is well behind the playhead.
    const b = this.video.buffered;
    const cut = this.video.currentTime - this.opts.keepBehind;
    if (b.length && b.start(0) < cut - 2 && !this.sb.updating) {
      try { this.sb.remove(0, cut); } catch (_) { /* next time */ }
    }
  }

  _jumpToLive() {
    const r = this._end();
    if (!r) return;
    this.lastJumpAt = performance.now();
    this.stats.jumps++;
    this.video.currentTime = Math.max(r.start, r.end - this.stats.targetAhead);
  }

  _tick() {
    const v = this.video;
    if (!this.started || !this.sb) return;
    const r = this._end();
    if (!r) return;
    const now = performance.now();
    if (this.stats.firstFrameMs === null && v.currentTime > 0 && !v.paused && v.readyState >= 2) {
      this.stats.firstFrameMs = Math.round(now - this.openedAt);
    }
    const t = v.currentTime;
    const ahead = Math.max(0, r.end - t);
    this.stats.bufferAhead = ahead;
    if (t !== this.lastT || v.paused || v.seeking) {
      this.lastT = t;
      this.lastMovedAt = now;
    }
    if (v.seeking) return;
    if (v.paused) {
      if (this.state !== 'paused' && !document.hidden) this._play();
      return;
    }
    // Outside the newest range (a hole, trimmed while hidden), far behind, or stuck with data
    // ahead: go to the edge.
    const stuck = now - this.lastMovedAt > 500 && ahead > 0.15;
    if (t < r.start || ahead > this.opts.jumpAbove || stuck) {
      if (now - this.lastJumpAt > 300) this._jumpToLive();
      v.playbackRate = 1;
      this.stats.playbackRate = 1;
      return;
    }
    // Give margin back after a quiet period: 10 ms a second once 5 s passed without a stall.
    if (now - this.lastStallAt > 5000 && this.stats.targetAhead > this.opts.minAhead) {
      this.stats.targetAhead = Math.max(this.opts.minAhead, this.stats.targetAhead - 0.01);
      this.lastStallAt = now - 4000;
    }
    // A little behind: play slightly faster, in proportion (at most 1.25x).
    const excess = ahead - this.stats.targetAhead;
    const rate = excess > 0.05 ? Math.min(1.25, 1 + excess) : excess < 0.01 ? 1 : v.playbackRate;
    if (rate !== v.playbackRate) v.playbackRate = rate;
    this.stats.playbackRate = Math.round(rate * 100) / 100;
  }

  _visibilityChanged() {
    if (document.hidden || !this.started) return;
    this._jumpToLive();
    this._play();
  }
}
