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

/** A player's status: dispatches 'status' {detail: {state, text}} when it changes. */
export class StatusTarget extends EventTarget {
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
