// What both MSE players (player.js: LL-HLS, live.js: per-frame live mode) share: the MediaSource
// flavour, the codec choice, the 'status' event and starting playback.

import { FALLBACK_CODEC } from './fmp4.js';

export const MediaSourceImpl = globalThis.ManagedMediaSource || globalThis.MediaSource || null;
export const USING_MMS = !!globalThis.ManagedMediaSource;

/** The codec string to open the SourceBuffer with; throws makeError(text) if none plays. */
export function pickCodec(parsed, makeError = (text) => new Error(text)) {
  const ok = (c) => c && MediaSourceImpl.isTypeSupported(`video/mp4; codecs="${c}"`);
  if (ok(parsed)) return parsed;
  if (ok(FALLBACK_CODEC)) return FALLBACK_CODEC;
  throw makeError(`codec ${parsed || FALLBACK_CODEC} not supported by this browser`);
}

/**
 * What both players are built on: running/stopped with a generation (a loop left over from
 * before a stop() must not carry on next to a new one), the visibility hook (`_onVisibility`,
 * set by the player), and the status, dispatched as 'status' {detail: {state, text}}.
 */
export class StatusTarget extends EventTarget {
  /** Marks the player running; its generation, or null if it already ran. */
  _begin() {
    if (this.running) return null;
    this.running = true;
    this.generation = (this.generation || 0) + 1;
    document.addEventListener('visibilitychange', this._onVisibility);
    return this.generation;
  }

  stop() {
    this.running = false;
    document.removeEventListener('visibilitychange', this._onVisibility);
    if (this.sessionCtl) this.sessionCtl.abort(this._stopReason());
    this.setStatus('idle', 'stopped');
  }

  /** Ends session `ctl`: forgets its MediaSource and detaches it from the video. */
  _detach(ctl, objectUrl) {
    this.sb = null;
    this.ms = null;
    this.started = false;
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    // Detach the MediaSource without triggering a media error.
    this.video.removeAttribute('src');
    try { this.video.load(); } catch (_) { /* ignore */ }
    if (this.sessionCtl === ctl) this.sessionCtl = null;
  }

  /** What the session in progress is aborted with by stop(). */
  _stopReason() {
    return new Error('stopped');
  }

  setStatus(state, text = state) {
    if (this.state === state && this.statusText === text) return;
    this.state = state;
    this.statusText = text;
    this.dispatchEvent(new CustomEvent('status', { detail: { state, text } }));
  }

  /** Starts the video; if autoplay is refused, says so and plays on the next tap. */
  _play() {
    const p = this.video.play();
    if (p && p.catch) {
      p.catch((e) => {
        if (e && e.name === 'NotAllowedError') {
          this.setStatus('paused', 'paused: tap the video to play');
          const resume = () => { this.video.play().catch(() => {}); };
          this.video.addEventListener('click', resume, { once: true });
        }
      });
    }
  }
}
