// Timelapse: its settings (GET/PUT /timelapse: interval, how many pictures to keep, how old
// they may get), its state (running, pictures on disk, last picture, next one, last error),
// start and stop (a PUT with the interval, or with interval 0), and its newest pictures
// (GET /timelapse/images; each JPEG at /timelapse/images/{name}, read with the session cookie).

import { h } from '../dom.js';
import { ago, duration, failure, when } from './activity-format.js';

const POLL_MS = 3000;
const IMAGES = 8;
const DEFAULT_INTERVAL_S = 60;

function field(id, label, attrs, hint) {
  const input = h('input', { id, type: 'number', inputmode: 'numeric', required: true, ...attrs });
  const help = h('span', { class: 'hint', id: `${id}-hint` }, hint);
  input.setAttribute('aria-describedby', help.id);
  return { input, help, node: h('div', { class: 'act-field' }, h('label', { for: id }, label), input, help) };
}

export function mount(root, { api, session, every }) {
  const body = root.querySelector('[data-body]');
  const login = h('p', { class: 'needs-login' }, 'Sign in to see and change the timelapse.');

  const chip = h('span', { class: 'chip', 'data-tl-chip': '' }, '…');
  const facts = h('dl', { class: 'act-facts', 'data-tl-facts': '' });
  const lastError = h('p', { class: 'form-error', role: 'status', 'data-tl-last-error': '' });

  const interval = field('tl-interval', 'Seconds between pictures',
    { min: 1, max: 86400, step: 1, value: DEFAULT_INTERVAL_S, 'data-tl-interval': '' }, '');
  const keep = field('tl-keep', 'Pictures kept at most',
    { min: 1, max: 100000, step: 1, value: 1000, 'data-tl-keep': '' }, 'the oldest go first');
  const maxAge = field('tl-max-age', 'Delete pictures older than (hours)',
    { min: 1, max: 8760, step: 1, value: 168, 'data-tl-max-age': '' }, '');
  const submit = h('button', { type: 'submit', 'data-tl-start': '' }, 'Start');
  const stopButton = h('button', { type: 'button', class: 'secondary', 'data-tl-stop': '' }, 'Stop');
  const formError = h('p', { class: 'form-error', role: 'alert', 'data-tl-error': '' });
  const form = h('form', { class: 'act-form', 'data-tl-form': '', novalidate: true },
    h('div', { class: 'act-fields' }, interval.node, keep.node, maxAge.node),
    h('div', { class: 'actions act-actions' }, submit, stopButton),
    formError);

  const gallery = h('ul', { class: 'act-thumbs', 'data-tl-images': '', 'aria-label': 'Newest timelapse pictures' });
  const galleryNote = h('p', { class: 'hint', 'data-tl-images-note': '' });
  const signedIn = h('div', { hidden: true },
    h('div', { class: 'act-row', 'aria-live': 'polite' }, chip),
    facts, lastError, form,
    h('h3', {}, 'Newest pictures'), galleryNote, gallery);
  body.replaceChildren(login, signedIn);

  let status = null;
  let edited = false; // the user typed: polling no longer overwrites the fields
  let shownImages = null; // the names shown, joined; null before the first listing
  let maxAgeSeconds = 604800;

  for (const f of [interval, keep, maxAge]) f.input.addEventListener('input', () => { edited = true; });
  interval.input.addEventListener('input', () => {
    const v = Number(interval.input.value);
    interval.help.textContent = v > 0 ? `one picture every ${duration(v)}` : '';
  });

  function fact(term, value, key) {
    return h('div', {}, h('dt', {}, term), h('dd', { 'data-tl-fact': key }, value));
  }

  function show(s) {
    status = s;
    chip.className = `chip ${s.enabled ? 'chip-ok' : 'chip-ready'}`;
    chip.dataset.state = s.enabled ? 'running' : 'off';
    chip.textContent = s.enabled ? `Running: every ${duration(s.settings.interval_s)}` : 'Off';
    facts.replaceChildren(
      fact('Pictures on disk', String(s.images), 'images'),
      fact('Last picture', s.last_capture ? lastPictureText(s.last_capture) : 'none yet', 'last'),
      fact('Next picture', s.next_capture_in_s === null ? '—' : `in ${duration(s.next_capture_in_s)}`, 'next'),
    );
    lastError.textContent = s.last_error ? `Last error: ${s.last_error}` : '';
    submit.textContent = s.enabled ? 'Apply' : 'Start';
    stopButton.hidden = !s.enabled;
    if (!edited) {
      if (s.settings.interval_s > 0) interval.input.value = String(s.settings.interval_s);
      keep.input.value = String(s.settings.keep);
      maxAgeSeconds = s.settings.max_age_s;
      maxAge.input.value = String(Math.max(1, Math.round(s.settings.max_age_s / 3600)));
      interval.input.dispatchEvent(new Event('input'));
      edited = false;
    }
    maxAge.help.textContent = `now ${duration(s.settings.max_age_s)}`;
  }

  function lastPictureText(name) {
    const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})/.exec(name);
    if (!m) return name;
    const iso = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`;
    return `${when(iso)} (${ago(iso)})`;
  }

  async function poll() {
    if (!session.current().authed) return;
    const r = await api.get('/timelapse');
    if (r.ok && r.data) {
      const before = status && status.last_capture;
      show(r.data);
      if (r.data.last_capture !== before || shownImages === null) await loadImages();
    } else if (api.needsLogin(r)) {
      session.lost();
    } else {
      lastError.textContent = failure(r, 'Cannot read the timelapse');
    }
  }

  async function loadImages() {
    const r = await api.get(`/timelapse/images?limit=${IMAGES}`);
    if (!r.ok || !r.data) {
      if (api.needsLogin(r)) session.lost();
      galleryNote.textContent = failure(r, 'Cannot list the pictures');
      return;
    }
    const key = r.data.images.map((i) => i.name).join(',');
    if (key === shownImages) return;
    shownImages = key;
    galleryNote.textContent = r.data.images.length ? '' : 'No pictures yet.';
    gallery.replaceChildren(...r.data.images.map((image) => {
      const taken = image.taken_at;
      return h('li', { class: 'act-thumb', 'data-tl-image': image.name },
        h('a', { href: image.url, 'aria-label': `Timelapse picture of ${when(taken)}` },
          h('img', { src: image.url, alt: '', loading: 'lazy', width: 160, height: 90 })),
        h('span', { class: 'hint' }, when(taken)));
    }));
  }

  async function put(settings, what) {
    submit.disabled = true;
    stopButton.disabled = true;
    formError.textContent = '';
    const r = await api.send('PUT', '/timelapse', settings);
    submit.disabled = false;
    stopButton.disabled = false;
    if (r.ok && r.data) {
      edited = false;
      show(r.data);
      await loadImages();
    } else {
      if (api.needsLogin(r)) session.lost();
      formError.textContent = failure(r, what);
    }
  }

  function formSettings() {
    const values = [interval, keep, maxAge].map((f) => f.input);
    const bad = values.find((i) => !i.checkValidity() || i.value === '');
    if (bad) {
      bad.focus();
      return { error: `${bad.labels[0].textContent}: ${bad.validationMessage || 'a number is needed'}` };
    }
    const hours = Number(maxAge.input.value);
    // Keep the exact saved age when the rounded hours were not changed.
    const sameHours = status && Math.max(1, Math.round(maxAgeSeconds / 3600)) === hours;
    return {
      settings: {
        interval_s: Number(interval.input.value),
        keep: Number(keep.input.value),
        max_age_s: sameHours ? maxAgeSeconds : hours * 3600,
      },
    };
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const { settings, error } = formSettings();
    if (error) {
      formError.textContent = error;
      return;
    }
    put(settings, status && status.enabled ? 'Cannot apply the settings' : 'Cannot start the timelapse');
  });

  stopButton.addEventListener('click', () => {
    if (!status) return;
    put({ ...status.settings, interval_s: 0 }, 'Cannot stop the timelapse');
  });

  const poller = every(POLL_MS, poll);
  session.onChange(({ known, authed }) => {
    login.hidden = !known || authed;
    signedIn.hidden = !authed;
    if (authed) {
      shownImages = null;
      poller.now();
    }
  });
}
