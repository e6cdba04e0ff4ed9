// The recording indicator on the live page: polls GET /recorder (with the browser
// session, if there is one) and shows whether picamd records to MP4, and into which file.
// Without a session or key the state is not readable and the indicator stays hidden.

const box = document.getElementById('rec-state');
const POLL_MS = 3000;

function show(state) {
  box.hidden = false;
  box.dataset.state = state.state;
  const name = box.querySelector('[data-rec-name]');
  const label = box.querySelector('[data-rec-label]');
  if (state.recording) {
    label.textContent = 'REC';
    name.textContent = state.name || '';
  } else if (state.state === 'failed') {
    label.textContent = 'Recording stopped';
    name.textContent = state.error || '';
  } else {
    label.textContent = 'Not recording';
    name.textContent = state.name ? `last file: ${state.name}` : '';
  }
}

async function poll() {
  try {
    const res = await fetch('/recorder', { cache: 'no-store', credentials: 'same-origin' });
    if (res.ok) show(await res.json());
    else box.hidden = true;
  } catch {
    box.hidden = true;
  }
  setTimeout(poll, POLL_MS);
}

if (box) poll();
