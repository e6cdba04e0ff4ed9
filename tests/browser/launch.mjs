// Debian's Chromium (or $CHROMIUM), headless, as every page test starts it. Nothing but the
// server under test resolves (loopback and the page's own host), so no traffic leaves the
// machine.

import { chromium } from 'playwright-core';

/**
 * hosts: names besides 127.0.0.1 and localhost that may resolve (the page's host);
 * media: let videos play without a user gesture.
 */
export function launchChromium({ hosts = [], media = false } = {}) {
  const allowed = [...new Set([...hosts, '127.0.0.1', 'localhost'])].map((h) => `EXCLUDE ${h}`);
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...(media ? ['--autoplay-policy=no-user-gesture-required'] : []),
      `--host-resolver-rules=MAP * ~NOTFOUND, ${allowed.join(', ')}`,
    ],
  });
}
