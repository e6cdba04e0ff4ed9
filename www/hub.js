// The camera hub page: every camera of GET camera/list, each watched live over its own
// video-output-stream WebSocket (a length-prefixed JSON hello, then one binary message of raw
// JPEG per picture). URLs are relative, so the page also works behind a path prefix.

const grid = document.getElementById('hub-grid');
const summary = document.getElementById('hub-summary');
const LIST_EVERY_MS = 10000;
const tiles = new Map();

function socketUrl(path) {
  const url = new URL(path, location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

function hello(cameraId) {
  const json = new TextEncoder().encode(JSON.stringify({ token: 'hub page', cameraId }));
  const msg = new Uint8Array(4 + json.length);
  new DataView(msg.buffer).setInt32(0, json.length, true);
  msg.set(json, 4);
  return msg;
}

// As the reference front end: green under 0.1 h, yellow under 1 h, red otherwise.
function age(lastActive) {
  const hours = (Date.now() - Date.parse(lastActive)) / 3600000;
  if (hours < 0.1) return 'fresh';
  if (hours < 1) return 'stale';
  return 'old';
}

function tile(camera) {
  const el = document.createElement('article');
  el.className = 'hub-tile';
  el.dataset.cameraId = String(camera.id);
  const img = document.createElement('img');
  img.alt = camera.name;
  const meta = document.createElement('div');
  meta.className = 'hub-meta';
  const title = document.createElement('h2');
  const dot = document.createElement('span');
  dot.className = 'hub-dot';
  const name = document.createElement('span');
  name.textContent = camera.name;
  title.append(dot, name);
  const description = document.createElement('p');
  description.textContent = camera.description || '';
  const status = document.createElement('p');
  status.className = 'hub-status';
  meta.append(title, description, status);
  el.append(img, meta);
  grid.append(el);
  const t = { el, img, dot, status, frames: 0, url: null, socket: null };
  tiles.set(camera.id, t);
  watch(camera.id, t);
  return t;
}

function watch(cameraId, t) {
  const socket = new WebSocket(socketUrl('video-output-stream'));
  socket.binaryType = 'blob';
  t.socket = socket;
  socket.onopen = () => socket.send(hello(cameraId));
  socket.onmessage = (event) => {
    if (!event.data.size) return;
    const url = URL.createObjectURL(new Blob([event.data], { type: 'image/jpeg' }));
    t.img.src = url;
    if (t.url) URL.revokeObjectURL(t.url);
    t.url = url;
    t.frames += 1;
    t.el.dataset.frames = String(t.frames);
    t.dot.dataset.age = 'fresh';
  };
  socket.onclose = (event) => {
    t.status.textContent = event.reason ? `closed: ${event.reason}` : 'reconnecting…';
    setTimeout(() => watch(cameraId, t), 3000);
  };
}

async function refresh() {
  try {
    const response = await fetch('camera/list', { cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const cameras = await response.json();
    summary.textContent = cameras.length === 1 ? '1 camera' : `${cameras.length} cameras`;
    for (const camera of cameras) {
      const t = tiles.get(camera.id) || tile(camera);
      if (!t.frames && camera.preview) t.img.src = `data:image/jpeg;base64,${camera.preview}`;
      t.dot.dataset.age = age(camera.lastActive);
      t.status.textContent = `last picture ${new Date(camera.lastActive).toLocaleString()}`;
    }
  } catch (e) {
    summary.textContent = `Cannot list the cameras: ${e.message}`;
  }
}

refresh();
setInterval(refresh, LIST_EVERY_MS);
