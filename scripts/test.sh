#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, and integration tests against real
# clients (ffmpeg, ffprobe, headless Chromium, Varnish, nginx, avahi), the Debian packages
# (built, installed in a throwaway root, lintian), the ARM builds' unit tests under qemu, then
# a short run of every fuzz target. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
cargo fmt --all -- --check
cargo clippy --release --all-targets --quiet -- -D warnings
cargo test --release -- --test-threads 2
scripts/package.sh
scripts/test-package.sh
scripts/test-arm.sh
scripts/fuzz.sh 10
