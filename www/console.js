// The console under the live view: every element with data-panel="name" is filled by
// ./console/<name>.js, which exports mount(root, ctx). A panel that fails to load says so in
// its own card; the others keep working.

import * as api from './console/api.js';
import * as session from './console/session.js';
import { every } from './console/poll.js';

const ctx = { api, session, every };

async function mountPanel(root) {
  const name = root.dataset.panel;
  try {
    const mod = await import(`./console/${name}.js`);
    await mod.mount(root, ctx);
  } catch (e) {
    console.error(`panel ${name}`, e);
    const body = root.querySelector('[data-body]') || root;
    body.textContent = `This panel could not load: ${e.message}`;
  }
}

await Promise.all([...document.querySelectorAll('[data-panel]')].map(mountPanel));
session.probe();
// For the headless tests (tests/browser/console*.mjs).
window.picamdConsole = { session, api };
