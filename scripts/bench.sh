#!/usr/bin/env bash
# Runs the benchmarks (optimised builds): muxer throughput, segment latency, start-up time, the
# device API (captures, /frame, /camera, MJPEG viewers), the relay (round trip, parts in flight),
# uploads (queue cost, drain rate to s3s-fs), and prints one JSON line per bench at the end.
#   scripts/bench.sh                         # all six
#   CLIENTS=200 SECONDS_=10 scripts/bench.sh # more blocked clients / longer phase 1
# Each bench prints a human-readable table; its last line is its JSON summary.
set -euo pipefail
cd "$(dirname "$0")/.."

clients="${CLIENTS:-100}"
seconds="${SECONDS_:-10}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

cargo bench --bench muxer | tee "$out/muxer.txt"
echo
cargo bench --bench segment_latency -- --clients "$clients" --seconds "$seconds" | tee "$out/latency.txt"
echo
cargo bench --bench startup | tee "$out/startup.txt"
echo
cargo bench --bench device_api | tee "$out/device_api.txt"
echo
cargo bench --bench relay | tee "$out/relay.txt"
echo
cargo bench --bench uploads | tee "$out/uploads.txt"
echo
echo "== JSON =="
tail -n 1 "$out/muxer.txt"
tail -n 1 "$out/latency.txt"
tail -n 1 "$out/startup.txt"
tail -n 1 "$out/device_api.txt"
tail -n 1 "$out/relay.txt"
tail -n 1 "$out/uploads.txt"
