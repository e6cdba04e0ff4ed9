// The camera hub: when this picamd is a hub (HUB_ENABLED), the other cameras' latest pictures
// in a grid with their names and ages, refreshed. GET /hub/state says whether it is one
// (always 200); when it is not, the card stays hidden: an absent feature is not shown. The hub's
// routes are open (cameras authenticate with their tokens), so no sign-in is needed.
// The card polls /hub/state, which lists the cameras without their pictures, and loads a
// camera's JPEG from /camera/get-image only when its lastActive moved (GET /camera/list
// would carry every picture in base64 on every poll).

import { h } from '../dom.js';
import { ago, when } from './activity-format.js';

const LIST_MS = 5000;

export async function mount(root, { api, every }) {
  root.hidden = true;
  const state = await api.get('/hub/state');
  if (!state.ok || !state.data || !state.data.enabled) return;
  root.hidden = false;

  const body = root.querySelector('[data-body]');
  const summary = h('p', { class: 'hint', 'data-hub-summary': '' }, '…');
  const grid = h('ul', { class: 'act-hub-grid', 'data-hub-grid': '', 'aria-label': 'Cameras of this hub' });
  body.replaceChildren(summary, grid,
    h('p', { class: 'hint' }, 'Live pictures of every camera on the ', h('a', { href: '/hub' }, 'hub page'), '.'));

  const tiles = new Map();

  function tile(camera) {
    const img = h('img', { alt: `Latest picture from ${camera.name}`, width: 320, height: 180, hidden: true });
    const empty = h('div', { class: 'act-hub-empty muted' }, 'no picture yet');
    const age = h('span', { class: 'hint', 'data-hub-age': '' });
    const el = h('li', { class: 'act-hub-tile', 'data-hub-camera': String(camera.id) },
      img, empty,
      h('div', { class: 'act-hub-meta' }, h('strong', {}, camera.name), age),
      camera.description ? h('p', { class: 'hint act-hub-desc' }, camera.description) : null);
    grid.append(el);
    const t = { el, img, empty, age, shown: null };
    tiles.set(camera.id, t);
    return t;
  }

  async function refresh() {
    const r = await api.get('/hub/state');
    const cameras = r.ok && r.data ? r.data.list : null;
    if (!Array.isArray(cameras)) {
      summary.textContent = `Cannot list the cameras: ${r.detail || `HTTP ${r.status}`}`;
      return;
    }
    const now = Date.now();
    summary.textContent = cameras.length === 1 ? '1 camera' : `${cameras.length} cameras`;
    for (const camera of cameras) {
      const t = tiles.get(camera.id) || tile(camera);
      if (camera.hasPicture && camera.lastActive !== t.shown) {
        // lastActive in the URL: a new picture is a new address, never a cached old one.
        t.img.src = `/camera/get-image?cameraId=${camera.id}&at=${encodeURIComponent(camera.lastActive)}`;
        t.img.hidden = false;
        t.empty.hidden = true;
        t.shown = camera.lastActive;
      }
      const seen = Date.parse(camera.lastActive) > 0;
      t.age.textContent = seen ? ago(camera.lastActive, now) : 'never seen';
      t.age.title = seen ? when(camera.lastActive) : '';
      t.el.dataset.age = !seen ? 'never' : now - Date.parse(camera.lastActive) < 360000 ? 'fresh' : 'stale';
    }
  }

  every(LIST_MS, refresh);
}
