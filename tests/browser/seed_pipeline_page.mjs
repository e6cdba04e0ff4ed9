// Usage: node seed_pipeline_page.mjs <camera-base-url> <page-port>
//
// Serves tests/seed_pipeline/page/ (the Pi Camera Streaming Pipeline's page, written from the
// contract) on 127.0.0.1:<page-port>, a different origin from the camera, opens it in Debian's
// Chromium with the camera's URL in its localStorage (as once typed in), and drives it: the status
// shows running and the MJPEG <img> shows pictures; Stop → not running; Start → running and
// pictures again. Prints one JSON line: {"steps": [...], "console_errors": [...]}.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './launch.mjs';

const [cameraUrl, pagePort] = process.argv.slice(2);
const pageDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'seed_pipeline', 'page');
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript' };
const server = http.createServer((req, res) => {
  const name = new URL(req.url, 'http://x').pathname === '/' ? 'index.html' : new URL(req.url, 'http://x').pathname.slice(1);
  if (name === 'favicon.ico') { res.writeHead(204); res.end(); return; }
  if (!/^[a-z]+\.(html|js)$/.test(name)) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'Content-Type': types[path.extname(name)] });
  res.end(fs.readFileSync(path.join(pageDir, name)));
});
await new Promise((resolve) => server.listen(Number(pagePort), '127.0.0.1', resolve));

const result = { steps: [], console_errors: [] };
let browser;
let exitCode = 1;
try {
  browser = await launchChromium();
  const page = await browser.newPage();
  page.on('console', (msg) => { if (msg.type() === 'error') result.console_errors.push(msg.text()); });
  page.on('pageerror', (err) => result.console_errors.push(String(err)));
  // The camera's URL as the page keeps it once a user has typed it (the default,
  // localhost:8000, is not there).
  await page.addInitScript((url) => localStorage.setItem('pi-camera-backend-url', url), cameraUrl);
  await page.goto(`http://127.0.0.1:${pagePort}/`, { waitUntil: 'domcontentloaded' });

  const shows = async (running) => {
    await page.waitForFunction((want) => document.getElementById('running').textContent === `running: ${want}`,
      running, { timeout: 10000 });
  };
  const picture = async () => {
    await page.waitForFunction(() => {
      const img = document.getElementById('stream');
      return img.complete !== undefined && img.naturalWidth > 0;
    }, null, { timeout: 15000 });
    return page.evaluate(() => document.getElementById('stream').naturalWidth);
  };
  await shows(true);
  result.steps.push({ step: 'open', backend: await page.textContent('#backend'), width: await picture() });
  await page.click('#stop');
  await shows(false);
  result.steps.push({ step: 'stop', error: await page.textContent('#error') });
  await page.click('#start');
  await shows(true);
  result.steps.push({ step: 'start', error: await page.textContent('#error'), width: await picture() });
  exitCode = 0;
} catch (e) {
  result.failure = String(e);
} finally {
  if (browser) await browser.close();
  server.close();
  console.log(JSON.stringify(result));
  process.exit(exitCode);
}
