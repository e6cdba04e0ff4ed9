#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ (libFuzzer, nightly toolchain) for a bounded time each
# and fails on the first crash, printing the input that caused it. The corpus grows in
# fuzz/corpus/<target> (not committed) and is reused by the next run.
#   scripts/fuzz.sh          # 60 s per target
#   scripts/fuzz.sh 10       # 10 s per target (what the test suite runs)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: skipped: no nightly toolchain (cargo-fuzz needs one)"
  exit 0
fi
if ! command -v cargo-fuzz >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo-fuzz" ]; then
  echo "installing cargo-fuzz (cargo install)"
  cargo install cargo-fuzz --locked --quiet
fi
cargo +nightly fuzz build -O 2>&1 | grep -v '^\s*Compiling ' || true
for target in $(cargo +nightly fuzz list); do
  mkdir -p "corpus/$target"
  log="$(mktemp)"
  if ! cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $target FAILED (the input is in fuzz/artifacts/$target/)"
    exit 1
  fi
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  echo "fuzz: $target: $runs executions in ${seconds} s, no crash"
  rm -f "$log"
done
