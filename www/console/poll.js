// Repeats `fn` every `ms` while the page is visible; a hidden tab asks nothing. One run at a
// time: the next waits for the previous answer. Returns a handle with stop() and now().

export function every(ms, fn) {
  let timer = null;
  let running = false;
  let stopped = false;

  async function tick() {
    timer = null;
    if (stopped || running) return;
    if (document.hidden) return; // resumed by visibilitychange
    running = true;
    try { await fn(); } catch (e) { console.warn('poll', e); }
    running = false;
    if (!stopped && timer === null) timer = setTimeout(tick, ms);
  }

  const onVisible = () => { if (!document.hidden && timer === null && !running) tick(); };
  document.addEventListener('visibilitychange', onVisible);
  tick();

  return {
    now() {
      if (timer !== null) { clearTimeout(timer); timer = null; }
      tick();
    },
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    },
  };
}
