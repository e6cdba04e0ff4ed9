#!/usr/bin/env bash
# Installs what the test suite talks to: ffmpeg/ffprobe (HLS clients), Chromium (our player),
# playwright-core (drives Chromium). Idempotent and quiet; safe to run on every test run.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (apt)"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "installing playwright-core (npm)"
  (cd tests/browser && npm ci --silent --no-audit --no-fund >/dev/null)
fi
