// Health, refreshed live: the camera (GET /camera/status, with Start and Stop), its source
// and frame rate (GET /health), pairing and relay (GET /pairing/state): all open on the local
// network. Signed in, also the encoder, CPU temperature and thermal state, disk and the upload
// queue (GET /system/telemetry) and dropped frames (GET /metrics).

import { h } from '../dom.js';

const POLL_MS = 2000;
const SLOW_EVERY = 3; // telemetry and metrics every third round

const fixed = (v, digits = 0) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '—');

/** One value from Prometheus text (a metric without labels). */
function metric(text, name) {
  const m = new RegExp(`^${name} ([0-9.eE+-]+)$`, 'm').exec(text || '');
  return m ? Number(m[1]) : null;
}

async function metricsText() {
  try {
    const res = await fetch('/metrics', { cache: 'no-store', credentials: 'same-origin' });
    return { status: res.status, text: res.ok ? await res.text() : '' };
  } catch (_) {
    return { status: 0, text: '' };
  }
}

export async function mount(root, ctx) {
  const body = root.querySelector('[data-body]');
  const fields = new Map();
  const facts = h('dl', { class: 'facts health-facts' });
  function fact(key, name) {
    const dd = h('dd', { 'data-health': key }, '—');
    fields.set(key, dd);
    facts.append(h('div', {}, h('dt', {}, name), dd));
  }
  fact('camera', 'Camera');
  fact('source', 'Source');
  fact('fps', 'Frame rate');
  fact('encoder', 'Encoder');
  fact('dropped', 'Dropped frames');
  fact('temp', 'CPU temperature');
  fact('disk', 'Disk');
  fact('uploads', 'Upload queue');
  fact('pairing', 'Pairing');
  fact('relay', 'Relay');

  const start = h('button', { type: 'button', 'data-camera-start': '' }, 'Start camera');
  const stop = h('button', { type: 'button', class: 'secondary', 'data-camera-stop': '' }, 'Stop camera');
  const error = h('p', { class: 'form-error', role: 'status', 'data-camera-error': '' });
  const keyed = h('p', { class: 'needs-login' }, 'Sign in for temperature, disk, encoder and uploads.');
  body.replaceChildren(facts, keyed, h('div', { class: 'actions' }, start, stop), error);

  const set = (key, text, state) => {
    const dd = fields.get(key);
    dd.textContent = text;
    if (state) dd.dataset.state = state; else delete dd.dataset.state;
  };

  let round = 0;
  let statusNeedsKey = false;
  async function refresh() {
    const slow = round % SLOW_EVERY === 0;
    round += 1;
    const authed = ctx.session.current().authed;
    // From outside the local network /camera/status needs a session: asked again once there is one.
    const askStatus = authed || !statusNeedsKey;
    const [status, health, pairing, tele, metrics] = await Promise.all([
      askStatus ? ctx.api.get('/camera/status') : { ok: false, status: 401, detail: '' },
      ctx.api.get('/health'),
      ctx.api.get('/pairing/state'),
      authed && slow ? ctx.api.get('/system/telemetry') : null,
      authed && slow ? metricsText() : null,
    ]);
    if (status.ok) {
      const on = status.data.running;
      set('camera', on ? 'running' : 'stopped', on ? 'ok' : 'off');
      root.dataset.camera = on ? 'running' : 'stopped';
      start.disabled = on || status.data.backend === 'disabled';
      stop.disabled = !on;
    } else if (ctx.api.needsLogin(status)) {
      statusNeedsKey = true;
      set('camera', 'sign in to see', 'off');
    } else if (status.status !== 0) {
      set('camera', status.detail);
    }
    if (health.data && health.data.camera) {
      const hd = health.data;
      set('source', `${hd.camera}${hd.ok ? '' : ` (${hd.status})`}`, hd.ok ? 'ok' : 'off');
      set('fps', hd.fps !== undefined ? `${fixed(hd.fps, 1)} fps` : '—');
      if (!authed) set('encoder', `preview ${hd.preview || '—'}`);
    } else {
      set('source', health.status === 0 ? 'no answer' : health.detail, 'bad');
    }
    if (pairing.ok) {
      set('pairing', pairing.data.status, pairing.data.status === 'error' ? 'bad' : null);
      set('relay', pairing.data.relay_enabled ? 'on' : 'off');
    }
    keyed.hidden = authed || !ctx.session.current().known;
    if (tele) {
      if (ctx.api.needsLogin(tele)) ctx.session.lost();
      if (tele.ok) showTelemetry(tele.data, health.data);
    }
    if (metrics && metrics.status === 200) {
      const frames = metric(metrics.text, 'picamd_frames_dropped_total');
      const units = metric(metrics.text, 'picamd_units_dropped_total');
      set('dropped', `${frames ?? '—'} frames, ${units ?? '—'} encoded units`, frames ? 'warn' : null);
    }
    if (!authed) for (const k of ['temp', 'disk', 'uploads', 'dropped']) set(k, '—');
  }

  function showTelemetry(t, health) {
    const gov = t.thermal_governor || {};
    const size = Array.isArray(t.current_preview_size) ? `${t.current_preview_size[0]}×${t.current_preview_size[1]}` : '';
    const rate = gov.preview_bitrate ? `${fixed(gov.preview_bitrate / 1e6, 1)} Mbit/s` : 'not encoding';
    const preview = health && health.preview ? `preview ${health.preview}` : '';
    set('encoder', [preview, size, rate, gov.throttled ? 'throttled' : ''].filter(Boolean).join(', '),
      gov.throttled ? 'warn' : null);
    const temp = t.cpu_temp_c === null ? 'unknown' : `${fixed(t.cpu_temp_c, 1)} °C`;
    const hot = { normal: null, warm: 'warn', throttle: 'bad', critical: 'bad' }[t.thermal_state];
    set('temp', `${temp}, ${t.thermal_state}`, hot);
    set('disk', `${fixed(t.disk_percent)} % used`, t.disk_percent > 90 ? 'bad' : null);
    const u = t.uploads;
    if (u) {
      const where = u.sink === null ? 'no upload target' : u.sink;
      set('uploads', `${u.queue_depth} waiting (${where})${u.sink_down ? ', target down' : ''}`,
        u.sink_down ? 'bad' : null);
    }
  }

  const poller = ctx.every(POLL_MS, refresh);

  async function power(which) {
    error.textContent = '';
    start.disabled = true;
    stop.disabled = true;
    const r = await ctx.api.send('POST', `/camera/${which}`);
    if (!r.ok) {
      if (ctx.api.needsLogin(r)) {
        ctx.session.lost();
        error.textContent = `Sign in to ${which} the camera.`;
      } else {
        error.textContent = r.detail;
      }
    }
    poller.now();
  }
  start.addEventListener('click', () => power('start'));
  stop.addEventListener('click', () => power('stop'));
  ctx.session.onChange(() => { round = 0; statusNeedsKey = false; poller.now(); });
}
