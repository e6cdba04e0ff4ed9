// Recordings: the recorder's state (GET /recorder, open to the local network by default),
// start and stop (POST /recorder/start|stop), and the files (GET /recordings, keyed): play one
// in the page (a <video> on /recordings/{name}, which serves Range requests), download it, or
// delete it after an inline confirmation. Errors show next to the button that caused them.

import { h } from '../dom.js';
import { bytes, duration, when, failure } from './activity-format.js';

const STATE_MS = 2000;
const LIST_MS = 10000;

export function mount(root, { api, session, every }) {
  const body = root.querySelector('[data-body]');

  const chip = h('span', { class: 'chip', 'data-rec-chip': '' }, '…');
  const detail = h('span', { class: 'muted act-detail', 'data-rec-detail': '' });
  const startButton = h('button', { type: 'button', 'data-rec-start': '' }, 'Start recording');
  const stopButton = h('button', { type: 'button', class: 'secondary', 'data-rec-stop': '' }, 'Stop recording');
  const actionError = h('p', { class: 'form-error', role: 'alert', 'data-rec-error': '' });
  const login = h('p', { class: 'needs-login' }, 'Sign in to start recordings and see the files.');

  const list = h('ul', { class: 'act-files', 'data-rec-list': '', 'aria-label': 'Recordings' });
  const listNote = h('p', { class: 'hint', 'data-rec-empty': '' });
  const listError = h('p', { class: 'form-error', role: 'alert', 'data-rec-list-error': '' });
  const video = h('video', {
    controls: true, playsinline: true, preload: 'metadata', 'data-rec-video': '',
    'aria-label': 'Recording player',
  });
  const playingName = h('code', { 'data-rec-playing': '' });
  const closePlayer = h('button', { type: 'button', class: 'secondary small' }, 'Close player');
  const player = h('div', { class: 'act-player', hidden: true },
    video, h('div', { class: 'act-row' }, h('span', {}, 'Playing ', playingName), closePlayer));
  const files = h('div', { class: 'act-files-box', hidden: true },
    h('h3', {}, 'Files'), player, listNote, list, listError);

  body.replaceChildren(
    h('div', { class: 'act-row', 'aria-live': 'polite' }, chip, detail),
    h('div', { class: 'actions act-actions' }, startButton, stopButton),
    actionError, login, files);

  let authed = false;
  let lastState = null;
  let busy = false;

  function showState(s) {
    lastState = s;
    chip.className = `chip ${s.recording ? 'chip-bad' : s.state === 'failed' ? 'chip-bad' : 'chip-ready'}`;
    chip.dataset.state = s.state;
    if (s.recording) {
      chip.textContent = 'Recording';
      const since = Date.parse(s.started_at);
      const running = Number.isFinite(since) ? ` · ${duration((Date.now() - since) / 1000)}` : '';
      detail.textContent = `${s.name || ''} · ${bytes(s.file_bytes)}${running}`;
    } else if (s.state === 'failed') {
      chip.textContent = 'Stopped by an error';
      detail.textContent = s.error || '';
    } else {
      chip.textContent = 'Not recording';
      detail.textContent = s.name ? `last file: ${s.name}` : '';
    }
    startButton.disabled = busy || s.recording;
    stopButton.disabled = busy || !s.recording;
  }

  async function pollState() {
    const r = await api.get('/recorder');
    if (r.ok && r.data) {
      const was = lastState && lastState.recording;
      showState(r.data);
      if (authed && was !== undefined && was !== r.data.recording) lister.now();
    } else if (api.needsLogin(r)) {
      chip.className = 'chip';
      chip.textContent = 'Sign in to see the recorder';
      detail.textContent = '';
      startButton.disabled = true;
      stopButton.disabled = true;
      if (session.current().authed) session.lost();
    } else {
      chip.className = 'chip chip-bad';
      chip.textContent = 'Unknown';
      detail.textContent = r.detail;
    }
  }

  async function act(path, what) {
    busy = true;
    startButton.disabled = true;
    stopButton.disabled = true;
    actionError.textContent = '';
    const r = await api.send('POST', path);
    busy = false;
    if (r.ok && r.data) {
      showState(r.data);
      lister.now();
    } else {
      if (api.needsLogin(r)) session.lost();
      actionError.textContent = failure(r, what);
      await pollState();
    }
  }

  startButton.addEventListener('click', () => act('/recorder/start', 'Cannot start recording'));
  stopButton.addEventListener('click', () => act('/recorder/stop', 'Cannot stop recording'));

  function play(file) {
    playingName.textContent = file.name;
    player.hidden = false;
    video.src = file.url;
    video.play().catch(() => { /* autoplay may be refused; the controls are there */ });
    video.focus();
  }

  closePlayer.addEventListener('click', () => {
    video.pause();
    video.removeAttribute('src');
    video.load();
    player.hidden = true;
  });

  async function remove(file, row) {
    const r = await api.send('DELETE', file.url);
    if (r.ok || r.status === 404) {
      if (playingName.textContent === file.name) closePlayer.click();
      row.remove();
      lister.now();
      return;
    }
    if (api.needsLogin(r)) session.lost();
    row.querySelector('[data-rec-row-error]').textContent = failure(r, 'Cannot delete');
  }

  function fileRow(file) {
    const rowError = h('p', { class: 'form-error', role: 'alert', 'data-rec-row-error': '' });
    const playButton = h('button', {
      type: 'button', class: 'secondary small', 'data-rec-play': '', disabled: file.recording,
      'aria-label': `Play ${file.name}`,
    }, 'Play');
    const download = h('a', {
      class: 'act-link', href: file.url, download: file.name, 'aria-label': `Download ${file.name}`,
    }, 'Download');
    const deleteButton = h('button', {
      type: 'button', class: 'secondary small', 'data-rec-delete': '', disabled: file.recording,
      'aria-label': `Delete ${file.name}`,
    }, 'Delete');
    const confirmYes = h('button', { type: 'button', class: 'small act-danger', 'data-rec-confirm': '' }, 'Delete it');
    const confirmNo = h('button', { type: 'button', class: 'secondary small' }, 'Keep');
    const confirm = h('div', { class: 'act-confirm', role: 'group', hidden: true, 'aria-label': `Delete ${file.name}?` },
      h('span', {}, 'Delete this recording?'), confirmYes, confirmNo);
    const row = h('li', { class: 'act-file', 'data-rec-file': file.name },
      h('div', { class: 'act-file-name' }, h('code', {}, file.name)),
      h('div', { class: 'muted act-file-meta' },
        `${bytes(file.bytes)} · ${when(file.modified)}${file.recording ? ' · being written' : ''}`),
      h('div', { class: 'act-file-actions' }, playButton, download, deleteButton),
      confirm, rowError);
    playButton.addEventListener('click', () => play(file));
    deleteButton.addEventListener('click', () => {
      confirm.hidden = false;
      confirmNo.focus();
    });
    confirmNo.addEventListener('click', () => {
      confirm.hidden = true;
      deleteButton.focus();
    });
    confirmYes.addEventListener('click', () => remove(file, row));
    return row;
  }

  let shownNames = '';
  async function loadList() {
    if (!authed) return;
    const r = await api.get('/recordings');
    if (!r.ok || !r.data) {
      if (api.needsLogin(r)) session.lost();
      listError.textContent = failure(r, 'Cannot list the recordings');
      return;
    }
    listError.textContent = '';
    const names = JSON.stringify(r.data.files.map((f) => [f.name, f.bytes, f.recording]));
    if (names === shownNames) return; // keep open confirmations and focus as they are
    shownNames = names;
    list.replaceChildren(...r.data.files.map(fileRow));
    listNote.textContent = r.data.files.length ? '' : 'No recordings yet.';
  }

  const stater = every(STATE_MS, pollState);
  const lister = every(LIST_MS, loadList);

  session.onChange(({ known, authed: isIn }) => {
    authed = isIn;
    login.hidden = !known || isIn;
    files.hidden = !isIn;
    if (isIn) {
      shownNames = '';
      lister.now();
      stater.now();
    }
  });
}
