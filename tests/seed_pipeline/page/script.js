// The pipeline page's behaviour (contract/seeds-002-004.md §B.6): the backend URL is typed in
// and kept in localStorage; every fetch carries Content-Type: application/json (so even a GET
// is preflighted); no key or cookie is ever sent; status is polled every 5 s; start and stop
// refresh the status and reload the stream <img> with a cache-buster.
const STORAGE_KEY = 'pi-camera-backend-url';
const input = document.getElementById('backend-url');
let backend = localStorage.getItem(STORAGE_KEY) || 'http://localhost:8000';
input.value = backend;

async function api(path, method = 'GET') {
  const res = await fetch(backend + path, {
    method,
    headers: { 'Content-Type': 'application/json' },
  });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status}`);
  return res.json();
}

function reloadStream() {
  document.getElementById('stream').src = `${backend}/stream.mjpg?_=${Date.now()}`;
}

async function refreshStatus() {
  try {
    const status = await api('/camera/status');
    document.getElementById('running').textContent = `running: ${status.running}`;
    document.getElementById('backend').textContent = status.backend;
    document.getElementById('error').textContent = '';
  } catch (e) {
    document.getElementById('error').textContent = String(e);
  }
}

async function control(action) {
  try {
    await api(`/camera/${action}`, 'POST');
  } catch (e) {
    document.getElementById('error').textContent = String(e);
  }
  await refreshStatus();
  reloadStream();
}

document.getElementById('save-backend').addEventListener('click', () => {
  backend = input.value.replace(/\/$/, '');
  localStorage.setItem(STORAGE_KEY, backend);
  refreshStatus();
  reloadStream();
});
document.getElementById('start').addEventListener('click', () => control('start'));
document.getElementById('stop').addEventListener('click', () => control('stop'));
refreshStatus();
reloadStream();
setInterval(refreshStatus, 5000);
