// Small formatters shared by the activity panels (timelapse, recordings, YouTube, hub).

/** 1536 → "1.5 KB" (powers of 1000, as disks are sold). */
export function bytes(n) {
  if (!Number.isFinite(n) || n < 0) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** 75 → "1 min 15 s"; 90000 → "1 d 1 h". */
export function duration(seconds) {
  let s = Math.max(0, Math.round(seconds));
  const parts = [];
  for (const [unit, len] of [['d', 86400], ['h', 3600], ['min', 60]]) {
    if (s >= len) { parts.push(`${Math.floor(s / len)} ${unit}`); s %= len; }
    if (parts.length === 2) return parts.join(' ');
  }
  if (s || !parts.length) parts.push(`${s} s`);
  return parts.slice(0, 2).join(' ');
}

/** How long ago an RFC 3339 time was: "5 s ago", "3 min ago"; "never" for the epoch. */
export function ago(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t) || t <= 0) return 'never';
  return `${duration(Math.max(0, now - t) / 1000)} ago`;
}

/** A local date and time for an RFC 3339 string, or the string itself if it is not one. */
export function when(iso) {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toLocaleString() : String(iso || '');
}

/** The sentence to show for a failed answer: its detail, and the wait after a 429. */
export function failure(r, what) {
  if (r.status === 0) return `${what}: the camera did not answer.`;
  if (r.status === 429) {
    const wait = r.retryAfter ? ` in ${r.retryAfter} s` : ' later';
    return `${what}: too many requests; try again${wait}.`;
  }
  return `${what}: ${r.detail || `HTTP ${r.status}`}`;
}
