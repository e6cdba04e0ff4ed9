// Sends changes the way a slider makes them: debounced, at most one request in flight, and
// coalesced, so only the newest value of each field goes out. A 429 holds everything back for
// its Retry-After; changes made meanwhile are merged and sent once it is over.
//
//   const s = sender((merged) => api.send('PATCH', '/camera/controls', { controls: merged }),
//                    { onAnswer(sent, answer) {...}, onWait(seconds) {...} });
//   s.set({ ExposureTime: 20000 });          // debounced
//   s.set({ ExposureTime: 20000 }, true);    // soon (a release, a switch)

export const DEBOUNCE_MS = 300; // quiet time after the last movement
export const MAX_WAIT_MS = 1000; // while a slider keeps moving: one request a second at most
export const SOON_MS = 50; // after a release, a switch or a select

export function sender(send, { onAnswer = () => {}, onWait = () => {} } = {}) {
  let pending = null; // merged fields not yet sent
  let firstPendingAt = 0;
  let timer = null;
  let inFlight = false;
  let blockedUntil = 0;

  function arm(ms) {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(flush, Math.max(0, ms));
  }

  async function flush() {
    timer = null;
    if (inFlight || pending === null) return;
    const wait = blockedUntil - Date.now();
    if (wait > 0) { arm(wait); return; }
    const body = pending;
    pending = null;
    inFlight = true;
    let answer;
    try {
      answer = await send(body);
    } catch (e) {
      answer = { ok: false, status: 0, data: null, detail: String(e && e.message || e), retryAfter: 0 };
    }
    inFlight = false;
    if (answer.status === 429) {
      const seconds = answer.retryAfter || 5;
      blockedUntil = Date.now() + seconds * 1000;
      // Nothing is lost: what was refused goes out again with anything newer, after the wait.
      pending = { ...body, ...(pending || {}) };
      onWait(seconds, body);
      arm(seconds * 1000);
      return;
    }
    onAnswer(body, answer);
    if (pending !== null && timer === null) arm(SOON_MS);
  }

  return {
    set(fields, soon = false) {
      const now = Date.now();
      if (pending === null) firstPendingAt = now;
      pending = { ...(pending || {}), ...fields };
      const debounced = Math.min(DEBOUNCE_MS, firstPendingAt + MAX_WAIT_MS - now);
      arm(soon ? SOON_MS : debounced);
    },
    /** Names not yet answered (so an answer does not move a control the user still moves). */
    pendingNames() {
      return pending ? Object.keys(pending) : [];
    },
    busy() {
      return inFlight || pending !== null;
    },
  };
}
