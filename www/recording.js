// The recording indicator on the live page: polls GET /recorder (open to the local network
// like the preview, else with the browser session) and shows whether picamd records to MP4,
// and into which file. Where the state is not readable (401/403) the indicator stays hidden
// and polling stops: one refusal, not one every few seconds.

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
    if (res.ok) {
      show(await res.json());
    } else {
      box.hidden = true;
      if (res.status === 401 || res.status === 403) return;
    }
  } catch {
    box.hidden = true;
  }
  setTimeout(poll, POLL_MS);
}

if (box) poll();
