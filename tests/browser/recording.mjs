// The live page's recording indicator in Debian's Chromium: without a session it stays
// hidden (GET /recorder answers 401: the Rust side starts picamd with
// LOCAL_VIEW_WITHOUT_KEY=0, otherwise the LAN may read the recorder's state); signed in (POST /auth/login with the key in
// PICAMD_KEY, a form post like the setup page's) it shows "Not recording", then "REC" and the
// file's name once a recording runs (started with the key, as a script would).
//
//   node recording.mjs <base-url>      prints one JSON line; exit 0 when all held

import { launchChromium } from './launch.mjs';

const baseUrl = process.argv[2];
const key = process.env.PICAMD_KEY || '';
const host = new URL(baseUrl).hostname;
const result = {};
let browser;
let code = 1;
try {
  browser = await launchChromium({ hosts: [host] });
  const box = '#rec-state';

  // Anonymous: the first poll is refused and the indicator stays hidden.
  const anon = await browser.newContext();
  const page0 = await anon.newPage();
  const refused = page0.waitForResponse((r) => r.url().endsWith('/recorder'));
  await page0.goto(baseUrl + '/');
  result.anonymous_status = (await refused).status();
  await page0.waitForTimeout(200);
  result.anonymous_hidden = await page0.$eval(box, (el) => el.hidden);

  // Signed in.
  const ctx = await browser.newContext();
  const login = await ctx.request.post(baseUrl + '/auth/login', {
    form: { api_key: key },
    headers: { Origin: baseUrl },
    maxRedirects: 0,
  });
  result.login_status = login.status();
  const page = await ctx.newPage();
  await page.goto(baseUrl + '/');
  await page.waitForFunction((sel) => {
    const el = document.querySelector(sel);
    return el && !el.hidden;
  }, box, { timeout: 10000 });
  result.idle_label = await page.$eval(`${box} [data-rec-label]`, (el) => el.textContent);
  const start = await ctx.request.post(baseUrl + '/recorder/start', { headers: { 'X-API-Key': key } });
  result.start_status = start.status();
  const name = (await start.json()).name;
  await page.waitForFunction((sel) => document.querySelector(`${sel} [data-rec-label]`).textContent === 'REC',
    box, { timeout: 10000 });
  result.recording_label = 'REC';
  result.recording_name = await page.$eval(`${box} [data-rec-name]`, (el) => el.textContent);
  result.recording_state = await page.$eval(box, (el) => el.dataset.state);
  result.expected_name = name;
  await ctx.request.post(baseUrl + '/recorder/stop', { headers: { 'X-API-Key': key } });
  const ok = result.anonymous_status === 401 && result.anonymous_hidden === true
    && result.idle_label === 'Not recording' && result.start_status === 201
    && result.recording_name === name && result.recording_state === 'recording';
  code = ok ? 0 : 1;
} catch (e) {
  result.error = String(e && e.message || e);
} finally {
  if (browser) await browser.close();
}
console.log(JSON.stringify(result));
process.exit(code);
