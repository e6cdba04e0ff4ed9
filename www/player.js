// picamd's own LL-HLS player over Media Source Extensions (no third-party code).
//
// One "session" = one MediaSource: load the playlist, append the init segment, start from the
// last INDEPENDENT part at or before the live edge, then loop on blocking playlist reloads
// (_HLS_msn/_HLS_part) for the next part while the preload-hinted part is already being fetched.
// A controller on a timer keeps the playhead a small margin behind the buffered end (playbackRate
// 1.1 to catch up, 0.95 to rebuild margin after a stall, a jump when far behind), skips gaps and
// trims old media. A new encoder session (EXT-X-DISCONTINUITY with a new EXT-X-MAP) continues
// the same media timeline, so its init is appended to the same SourceBuffer before its first
// part. Any fatal condition (video.error, repeated HTTP failures) ends the session; the run loop
// then builds a new one with backoff.
//
// Events (EventTarget): 'status' {detail: {state, text}}.

import { parseMediaPlaylist, comparePartKeys } from './playlist.js';
import { parseInit } from './fmp4.js';
import { MediaSourceImpl, USING_MMS, StatusTarget, pickCodec } from './mse.js';

export class HttpError extends Error {
  constructor(url, status) {
    super(`HTTP ${status} for ${url.replace(/^https?:\/\/[^/]+/, '')}`);
    this.status = status;
  }
}

/** Ends the current session and starts a new one (stream restarted, decode error, ...). */
class ResetError extends Error {
  constructor(message, { retryNow = false } = {}) {
    super(message);
    this.retryNow = retryNow;
  }
}

/** Cancels a blocking reload so the playlist is re-read at once (the hinted part vanished). */
class RecheckError extends Error {}

export const sleep = (ms, signal) => new Promise((resolve, reject) => {
  if (signal && signal.aborted) return reject(signal.reason);
  const t = setTimeout(() => { cleanup(); resolve(); }, ms);
  const onAbort = () => { clearTimeout(t); cleanup(); reject(signal.reason); };
  const cleanup = () => signal && signal.removeEventListener('abort', onAbort);
  if (signal) signal.addEventListener('abort', onAbort, { once: true });
});

const isAbort = (e) => e && (e.name === 'AbortError' || e instanceof ResetError);

/** Resolves when `target` fires `type`; rejects on `signal` abort. */
function once(target, type, signal) {
  return new Promise((resolve, reject) => {
    const onAbort = () => { target.removeEventListener(type, onEvent); reject(signal.reason); };
    const onEvent = (ev) => { signal && signal.removeEventListener('abort', onAbort); resolve(ev); };
    target.addEventListener(type, onEvent, { once: true });
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class LLHLSPlayer extends StatusTarget {
  /**
   * @param {HTMLVideoElement} video
   * @param {string} playlistUrl
   * @param {object} [opts] minAhead: seconds kept between playhead and buffered end (floor)
   */
  constructor(video, playlistUrl, opts = {}) {
    super();
    this.video = video;
    this.url = new URL(playlistUrl, location.href).href;
    this.opts = { minAhead: 0.15, maxMargin: 0.5, maxAhead: 1.0, keepBehind: 10, ...opts };
    this.mode = MediaSourceImpl ? (USING_MMS ? 'ManagedMediaSource' : 'MediaSource') : 'none';
    this.stats = {
      partsFetched: 0, bytes: 0, sessions: 0, stalls: 0, jumps: 0, resyncs: 0, gapsSkipped: 0,
      codec: null, bufferAhead: 0, playbackRate: 1, targetAhead: this.opts.minAhead,
    };
    this.running = false;
    this.sessionCtl = null;
    this.state = 'idle';
    this._onVisibility = () => this._visibilityChanged();
  }

  static isSupported(video) {
    return !!MediaSourceImpl || !!video.canPlayType('application/vnd.apple.mpegurl');
  }

  start() {
    const generation = this._begin();
    if (generation === null) return;
    if (!MediaSourceImpl) {
      this._startNative();
      return;
    }
    this._runLoop(generation);
  }

  _stopReason() {
    return new ResetError('stopped');
  }

  // ---------------------------------------------------------------- native HLS (Safari, no MSE)

  _startNative() {
    if (!this.video.canPlayType('application/vnd.apple.mpegurl')) {
      this.setStatus('error', 'error: this browser supports neither MSE nor HLS');
      return;
    }
    this.mode = 'native HLS';
    this.setStatus('connecting', 'connecting (native HLS)');
    this.video.addEventListener('playing', () => this.setStatus('playing'));
    this.video.addEventListener('waiting', () => this.setStatus('buffering', 'buffering'));
    this.video.addEventListener('error', () => this.setStatus('error', `error: media error ${this.video.error && this.video.error.code}`));
    this.video.src = this.url;
    this.video.play().catch(() => {});
  }

  // ---------------------------------------------------------------- session loop

  async _runLoop(generation) {
    const current = () => this.running && this.generation === generation;
    let backoff = 500;
    while (current()) {
      const started = performance.now();
      try {
        await this._session();
      } catch (e) {
        if (!current()) break;
        const why = e instanceof TypeError ? 'server unreachable' : (e && e.message) || String(e);
        this.setStatus('reconnecting', `reconnecting: ${why}`);
        // A restarted stream is picked up at once (unless it keeps restarting).
        if (e instanceof ResetError && e.retryNow && performance.now() - started > 3000) continue;
      }
      if (!current()) break;
      // A session that played for a while resets the backoff.
      backoff = performance.now() - started > 10000 ? 500 : Math.min(backoff * 2, 8000);
      await sleep(backoff);
    }
  }

  async _session() {
    this.stats.sessions++;
    const ctl = new AbortController();
    this.sessionCtl = ctl;
    const signal = ctl.signal;
    const fail = (msg) => { if (!signal.aborted) ctl.abort(new ResetError(msg)); };
    const video = this.video;
    let objectUrl = null;
    let ms = null;
    let ticker = null;
    const listeners = [];
    const listen = (t, type, fn) => { t.addEventListener(type, fn); listeners.push([t, type, fn]); };

    this.prefetches = new Map();
    if (this.stats.sessions === 1) this.setStatus('connecting');
    try {
      let pl = await this._loadPlaylist(null, signal);
      while (!pl.mapUri || !pl.parts.length) { // stream not started yet
        this.setStatus('connecting', 'connecting: waiting for the stream');
        await sleep(500, signal);
        pl = await this._loadPlaylist(null, signal);
      }
      this.mapUri = pl.mapUri;
      this.partTarget = pl.partTarget || 0.2;
      const initBuf = await this._fetchBytes(pl.mapUri, signal, 4000);
      const init = parseInit(initBuf);
      const codec = pickCodec(init.codec, (t) => new ResetError(t));
      this.stats.codec = codec;

      ms = new MediaSourceImpl();
      if (USING_MMS) video.disableRemotePlayback = true;
      objectUrl = URL.createObjectURL(ms);
      video.src = objectUrl;
      await once(ms, 'sourceopen', signal);
      URL.revokeObjectURL(objectUrl);
      objectUrl = null;
      ms.duration = Infinity;
      const sb = ms.addSourceBuffer(`video/mp4; codecs="${codec}"`);
      if (sb.mode !== 'segments') sb.mode = 'segments';
      this.sb = sb;
      this.ms = ms;
      this.sbQueue = Promise.resolve();

      this.started = false;
      this.playedOnce = false;
      this.settleUntil = 0;
      this.lastJumpAt = 0;
      this.lastStallAt = performance.now();
      this.aheadLog = [];
      this.lastT = -1;
      this.lastMovedAt = performance.now();

      listen(video, 'error', () => fail(`video error ${video.error ? video.error.code + ' ' + (video.error.message || '') : ''}`.trim()));
      listen(sb, 'error', () => fail('SourceBuffer error'));
      listen(ms, 'sourceclose', () => fail('MediaSource closed'));
      listen(video, 'waiting', () => {
        if (!this.started || video.seeking) return;
        this.setStatus('buffering', 'buffering');
        if (performance.now() - this.lastJumpAt > 500) {
          // Ran dry: keep a larger margin from now on (it decays again after quiet periods).
          this.stats.stalls++;
          this.lastStallAt = performance.now();
          this.stats.targetAhead = Math.min(this.stats.targetAhead + 0.1, this.opts.maxMargin);
        }
      });
      listen(video, 'playing', () => {
        if (!this.started) return;
        this.setStatus('playing');
        if (!this.playedOnce) {
          // Start-up (decode from the IDR) took a while: the edge moved on meanwhile.
          this.playedOnce = true;
          const r = this._ranges();
          if (r.length && r[r.length - 1][1] - video.currentTime > this.stats.targetAhead + this.partTarget + 0.15) {
            this._jumpToLive();
          }
        }
      });

      await this._append(initBuf, signal);
      ticker = setInterval(() => this._tick(), 100);

      await this._follow(pl, signal);
    } catch (e) {
      if (signal.aborted && signal.reason instanceof ResetError) throw signal.reason;
      throw e;
    } finally {
      if (!signal.aborted) ctl.abort(new ResetError('session ended'));
      if (ticker) clearInterval(ticker);
      for (const [t, type, fn] of listeners) t.removeEventListener(type, fn);
      for (const p of this.prefetches.values()) p.ctl.abort();
      this.prefetches.clear();
      this._detach(ctl, objectUrl);
    }
  }

  /** Appends the init segment of a new encoder session to the same SourceBuffer. */
  async _switchInit(mapUri, signal) {
    const initBuf = await this._fetchBytes(mapUri, signal, 4000);
    const codec = pickCodec(parseInit(initBuf).codec, (t) => new ResetError(t));
    if (codec !== this.stats.codec) {
      if (!this.sb.changeType) throw new ResetError('codec changed', { retryNow: true });
      await this.sbQueue; // changeType is synchronous: no append may be running
      this.sb.changeType(`video/mp4; codecs="${codec}"`);
      this.stats.codec = codec;
    }
    await this._append(initBuf, signal);
    this.mapUri = mapUri;
    this.stats.discontinuities = (this.stats.discontinuities || 0) + 1;
  }

  /** Follows the live edge until the session is aborted. */
  async _follow(pl, signal) {
    let last = null;          // key {msn, index} of the last appended part
    let failures = 0;
    let unavailable = 0;
    for (;;) {
      // Which parts to append: those after `last`, or from the live edge when (re)starting.
      let todo;
      const pos = last ? pl.parts.findIndex((p) => comparePartKeys(p, last) === 0) : -1;
      if (last && pos >= 0) {
        todo = pl.parts.slice(pos + 1);
      } else {
        if (this.started) { // fell out of the listed window (background tab, long stall)
          this.stats.resyncs++;
          this.needsJump = true;
        }
        let start = -1;
        for (let i = pl.parts.length - 1; i >= 0; i--) {
          if (pl.parts[i].independent) { start = i; break; }
        }
        if (start < 0) start = pl.parts.findIndex((p) => p.index === 0);
        todo = start >= 0 ? pl.parts.slice(start) : [];
        // A new init we did not reach part by part (the daemon restarted: new names, and media
        // time starts again) needs a new MediaSource; within a playlist it is appended in place.
        if (this.started && todo.length && todo[0].mapUri !== this.mapUri) {
          throw new ResetError('stream restarted', { retryNow: true });
        }
      }

      // Fetch in parallel, append in order. (A rejection is handled when its turn comes; the
      // no-op catch keeps an early one from being reported as unhandled meanwhile.)
      const fetches = todo.map((p) => {
        const f = this._getPart(p.uri, signal);
        f.catch(() => {});
        return f;
      });
      for (let i = 0; i < todo.length; i++) {
        let data;
        try {
          data = await fetches[i];
        } catch (e) {
          if (isAbort(e) || signal.aborted) throw e;
          // Retry once, on a fresh request (the first may have timed out or raced a restart).
          data = await this._fetchBytes(todo[i].uri, signal, 5000);
        }
        // A restarted encoder (EXT-X-DISCONTINUITY + a new MAP): its media time continues
        // where the last session ended, so appending the new init is all it takes.
        if (todo[i].mapUri && todo[i].mapUri !== this.mapUri) await this._switchInit(todo[i].mapUri, signal);
        await this._append(data, signal);
        this.stats.partsFetched++;
        this.stats.bytes += data.byteLength;
        last = { msn: todo[i].msn, index: todo[i].index };
        this._afterAppend();
      }
      if (todo.length) {
        if (!this.started) this._onFirstMedia();
        else if (this.needsJump) this._jumpToLive();
      }

      // Start fetching the hinted part now; it is answered the moment the part is complete.
      if (pl.preloadHint && pl.preloadHint.type === 'PART') this._prefetch(pl.preloadHint.uri, signal);
      this._dropStalePrefetches(pl);

      // Blocking reload for the next part (index past the segment end = next segment's part 0).
      const next = last ? { msn: last.msn, index: last.index + 1 } : null;
      if (!next) await sleep(this.partTarget * 1000, signal); // no parts yet: poll gently
      const reload = new AbortController();
      const relay = () => reload.abort(signal.reason);
      signal.addEventListener('abort', relay, { once: true });
      this.reloadCtl = reload;
      try {
        pl = await this._loadPlaylist(next, reload.signal);
        failures = 0;
        unavailable = 0;
        if (this.state === 'reconnecting' && this.started) this.setStatus('playing');
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        if (reload.signal.aborted && reload.signal.reason instanceof RecheckError) {
          // fall through to the plain reload below
        } else if (isAbort(e)) {
          throw e;
        } else if (e instanceof HttpError && e.status === 503) {
          // Nothing new within 3 × TARGETDURATION: the camera stalled. Keep asking.
          if (++unavailable >= 2) this.setStatus('reconnecting', 'reconnecting: stream stalled (503)');
          if (unavailable > 10) throw new ResetError('stream unavailable');
          await sleep(Math.min(250 * unavailable, 2000), signal);
        } else if (e instanceof HttpError && e.status === 400) {
          last = null; // asked too far ahead: our view is stale; restart from the edge
          this.needsJump = true;
        } else {
          failures++;
          const why = e instanceof TypeError ? 'server unreachable' : e.message; // fetch: network
          this.setStatus('reconnecting', `reconnecting: ${why}`);
          if (failures >= 6) throw new ResetError(why);
          await sleep(Math.min(250 * 2 ** failures, 4000), signal);
        }
        pl = await this._loadPlaylist(null, signal).catch((e2) => {
          if (isAbort(e2) || signal.aborted) throw e2;
          return pl; // keep the old one; the loop retries the blocking reload
        });
        if (last && !pl.parts.some((p) => comparePartKeys(p, last) === 0) && pl.parts.length &&
            comparePartKeys(pl.parts[pl.parts.length - 1], last) < 0) {
          last = null; // the playlist went backwards: restarted stream with the same MAP?
          this.needsJump = true;
        }
      } finally {
        signal.removeEventListener('abort', relay);
        this.reloadCtl = null;
      }
    }
  }

  // ---------------------------------------------------------------- HTTP

  /** Blocking requests: the server answers 503 after 3 × TARGETDURATION. */
  _blockingTimeoutMs() {
    return 3000 * (this.targetDuration || 1) + 1000;
  }

  /**
   * A listed part is complete on the server, so it should arrive at once; if it does not (a
   * connection the server never reads, a lost packet), give up early and ask again.
   */
  _partTimeoutMs() {
    return Math.max(1500, 7500 * (this.partTarget || 0.2));
  }

  async _loadPlaylist(next, signal) {
    const u = new URL(this.url);
    if (next) {
      u.searchParams.set('_HLS_msn', String(next.msn));
      u.searchParams.set('_HLS_part', String(next.index));
    }
    const text = await this._get(u.href, signal, next ? this._blockingTimeoutMs() : 4000, 'text');
    const pl = parseMediaPlaylist(text, this.url);
    this.targetDuration = pl.targetDuration || 1;
    this.lastPlaylist = pl;
    return pl;
  }

  /**
   * GETs `url` and reads the body ('text' or 'bytes'), within `timeoutMs` and cancellable through
   * `signal`. Throws HttpError for non-2xx answers.
   */
  async _get(url, signal, timeoutMs, as = 'bytes') {
    if (signal.aborted) throw signal.reason;
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => ctl.abort(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs);
    try {
      const res = await fetch(url, { signal: ctl.signal, cache: as === 'text' ? 'no-store' : 'default' });
      if (!res.ok) {
        if (res.body) res.body.cancel().catch(() => {});
        throw new HttpError(url, res.status);
      }
      return as === 'text' ? await res.text() : await res.arrayBuffer();
    } catch (e) {
      if (ctl.signal.aborted && !signal.aborted && !(e instanceof HttpError)) throw ctl.signal.reason;
      throw e;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  _fetchBytes(url, signal, timeoutMs) {
    return this._get(url, signal, timeoutMs, 'bytes');
  }

  _prefetch(uri, signal) {
    if (this.prefetches.has(uri)) return;
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const promise = this._fetchBytes(uri, ctl.signal, this._blockingTimeoutMs())
      .finally(() => signal.removeEventListener('abort', onAbort));
    promise.catch((e) => {
      // A failed prefetch is retried by _getPart. A 404 for the hinted part usually means the
      // stream restarted under new names: re-read the playlist now instead of blocking on it.
      if (e instanceof HttpError && e.status === 404 && this.reloadCtl && this.prefetches.get(uri)) {
        this.reloadCtl.abort(new RecheckError('hinted part gone'));
      }
    });
    this.prefetches.set(uri, { promise, ctl });
  }

  /** A listed part: from its prefetch if one is under way, else a new request. */
  _getPart(uri, signal) {
    const p = this.prefetches.get(uri);
    if (!p) return this._fetchBytes(uri, signal, this._partTimeoutMs());
    this.prefetches.delete(uri);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        p.ctl.abort(new Error('prefetch too slow'));
        reject(new Error('prefetch too slow'));
      }, this._partTimeoutMs());
      p.promise.then(
        (v) => { clearTimeout(timer); resolve(v); },
        (e) => { clearTimeout(timer); reject(e); },
      );
    });
  }

  _dropStalePrefetches(pl) {
    const keep = pl.preloadHint ? pl.preloadHint.uri : null;
    for (const [uri, p] of this.prefetches) {
      if (uri !== keep) {
        p.ctl.abort();
        this.prefetches.delete(uri);
      }
    }
  }

  // ---------------------------------------------------------------- SourceBuffer

  /** Serialises SourceBuffer operations; resolves after 'updateend'. */
  _sbOp(fn, signal) {
    const run = async () => {
      const sb = this.sb;
      if (!sb || signal.aborted) throw signal.reason || new ResetError('no SourceBuffer');
      const done = new Promise((resolve, reject) => {
        const ok = () => { cleanup(); resolve(); };
        const bad = () => { cleanup(); reject(new ResetError('SourceBuffer update failed')); };
        const gone = () => { cleanup(); reject(signal.reason); };
        const cleanup = () => {
          sb.removeEventListener('updateend', ok);
          sb.removeEventListener('error', bad);
          signal.removeEventListener('abort', gone);
        };
        sb.addEventListener('updateend', ok);
        sb.addEventListener('error', bad);
        signal.addEventListener('abort', gone);
        try { fn(sb); } catch (e) { cleanup(); reject(e); }
      });
      return done;
    };
    const p = this.sbQueue.then(run, run);
    this.sbQueue = p.catch(() => {});
    return p;
  }

  async _append(data, signal) {
    try {
      await this._sbOp((sb) => sb.appendBuffer(data), signal);
    } catch (e) {
      if (e && e.name === 'QuotaExceededError') {
        // Free everything well behind the playhead, then try once more.
        const t = this.video.currentTime;
        if (t > 2) await this._sbOp((sb) => sb.remove(0, t - 2), signal);
        await this._sbOp((sb) => sb.appendBuffer(data), signal);
        return;
      }
      if (e && e.name === 'InvalidStateError' && signal.aborted) throw signal.reason;
      throw e;
    }
  }

  /** Buffered ranges as [[start, end], ...]. */
  _ranges() {
    const b = this.sb ? this.video.buffered : null;
    const out = [];
    if (!b) return out;
    for (let i = 0; i < b.length; i++) out.push([b.start(i), b.end(i)]);
    return out;
  }

  _afterAppend() {
    const ranges = this._ranges();
    if (!ranges.length) return;
    const end = ranges[ranges.length - 1][1];
    // Trim: keep `keepBehind` s behind the playhead, and never more than 30 s in total (a
    // background tab may not advance currentTime at all).
    const t = this.video.currentTime;
    const cut = Math.max(t - this.opts.keepBehind, end - 30);
    if (ranges[0][0] < cut - 5 && this.sb && !this.sb.updating && this.sessionCtl) {
      this._sbOp((sb) => sb.remove(0, cut), this.sessionCtl.signal).catch(() => {});
    }
  }

  _onFirstMedia() {
    if (!this._ranges().length) return;
    this.started = true;
    this.settleUntil = performance.now() + 5000;
    this._jumpToLive();
    this._play();
    this.setStatus('playing');
  }

  /** Seeks to just behind the buffered end (in the last buffered range). */
  _jumpToLive() {
    this.needsJump = false;
    const ranges = this._ranges();
    if (!ranges.length) return;
    const [start, end] = ranges[ranges.length - 1];
    this._seek(Math.max(start, end - this.stats.targetAhead - this.partTarget));
  }

  _seek(t) {
    this.lastJumpAt = performance.now();
    this.stats.jumps++;
    this.video.currentTime = t;
  }

  // ---------------------------------------------------------------- latency controller

  _tick() {
    const v = this.video;
    if (!this.started || !this.sb) return;
    const ranges = this._ranges();
    if (!ranges.length) return;
    const t = v.currentTime;
    const now = performance.now();
    const end = ranges[ranges.length - 1][1];
    const cur = ranges.find(([s, e]) => t >= s - 0.05 && t <= e + 0.05);
    const ahead = cur ? Math.max(0, cur[1] - t) : 0;
    this.stats.bufferAhead = ahead;

    // Is the playhead moving? (Browsers stop a little short of the end of a buffered range,
    // so "stuck before a gap" can still show some data ahead.)
    if (t !== this.lastT || v.paused || v.seeking) {
      this.lastT = t;
      this.lastMovedAt = now;
    }
    const stuck = now - this.lastMovedAt > 600;

    // Playhead outside the buffered data (start, gap after a resync, trimmed while hidden), or
    // stuck at the end of a range while later data exists (a hole in the stream): go to the edge.
    const beforeGap = cur && cur !== ranges[ranges.length - 1] && (stuck || (ahead < 0.1 && v.readyState < 3));
    if (!cur || beforeGap) {
      if (!v.seeking && now - this.lastJumpAt > 300) {
        if (beforeGap) this.stats.gapsSkipped++;
        this._jumpToLive();
      }
      return;
    }
    if (v.paused) {
      // Paused (autoplay refused, or the browser paused a background tab): no rate control.
      if (!v.seeking && this.state !== 'paused' && !document.hidden) this._play();
      this.aheadLog = [];
      return;
    }

    // Sliding window of buffer-ahead samples over a few parts: its minimum is the margin left
    // just before the next part arrives, which decides between stalling and adding latency.
    this.aheadLog.push([now, ahead]);
    const span = Math.max(800, 3000 * this.partTarget);
    while (this.aheadLog.length && now - this.aheadLog[0][0] > span) this.aheadLog.shift();
    if (now - this.lastJumpAt < span || now - this.aheadLog[0][0] < span - 250) return;
    const minAhead = Math.min(...this.aheadLog.map((a) => a[1]));

    // Slowly give back latency margin after a quiet period without stalls.
    if (now - this.lastStallAt > 20000 && this.stats.targetAhead > this.opts.minAhead) {
      this.stats.targetAhead = Math.max(this.opts.minAhead, this.stats.targetAhead - 0.05);
      this.lastStallAt = now - 10000;
    }
    // Keep the minimum margin near the target: jump when far behind, play at 1.1 when a bit
    // behind, at 0.95 to rebuild margin (after a stall or a late part), else at 1.
    const target = this.stats.targetAhead;
    let rate = v.playbackRate;
    // While starting (or resuming) a jump is not noticed, so correct at once.
    const jumpAbove = now < this.settleUntil ? target + 0.12 : Math.max(this.opts.maxAhead, target + 0.6);
    if (minAhead > jumpAbove) {
      this._jumpToLive();
      rate = 1;
    } else if (minAhead > target + 0.07) {
      rate = 1.1;
    } else if (minAhead < target - 0.06) {
      rate = 0.95;
    } else if ((rate > 1 && minAhead <= target + 0.01) || (rate < 1 && minAhead >= target - 0.01)) {
      rate = 1;
    }
    if (rate !== v.playbackRate) {
      v.playbackRate = rate;
      this.aheadLog = []; // judge the new rate on fresh samples
    }
    this.stats.playbackRate = rate;
    this.stats.minAhead = minAhead;
  }

  _visibilityChanged() {
    if (document.hidden || !this.started) return;
    // Back in the foreground: go straight to the live edge.
    const ranges = this._ranges();
    if (!ranges.length) return;
    const end = ranges[ranges.length - 1][1];
    if (end - this.video.currentTime > this.stats.targetAhead + this.partTarget + 0.3) this._jumpToLive();
    this.playedOnce = false; // re-check the distance to the edge once it is playing again
    this.settleUntil = performance.now() + 5000;
    this._play();
  }
}
