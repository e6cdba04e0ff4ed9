#!/usr/bin/env bash
# Resident memory of picamd at 1280x720 30 fps with N LL-HLS viewers (ffmpeg copying the
# stream, no decode), sampled after a warm-up. Usage: scripts/memory.sh [viewers] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
viewers="${1:-10}"
seconds="${2:-20}"
port=18931
dir="$(mktemp -d)"
cargo build --release --quiet
./target/release/picamd --listen "127.0.0.1:$port" --data-dir "$dir" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
url="http://127.0.0.1:$port/preview/hls/cam-preview/index.m3u8"
until curl -sf "$url" >/dev/null; do sleep 0.2; done
for _ in $(seq "$viewers"); do
  ffmpeg -nostdin -v error -i "$url" -c copy -t "$((seconds + 5))" -f null - &
done
sleep "$seconds"
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
threads=$(awk '/Threads/ {print $2}' "/proc/$pid/status")
echo "picamd 1280x720 30 fps, $viewers viewers, after ${seconds} s: RSS $((rss_kb / 1024)) MiB, peak $((hwm_kb / 1024)) MiB, $threads threads"
echo "{\"bench\":\"memory\",\"viewers\":$viewers,\"rss_kib\":$rss_kb,\"peak_rss_kib\":$hwm_kb,\"threads\":$threads}"
