#!/usr/bin/env bash
# Glass-to-glass latency, side by side in one run (a benchmark, not part of scripts/test.sh):
#   1 picamd live mode, 2 picamd LL-HLS in our player, 3 picamd LL-HLS in hls.js lowLatencyMode,
#   4 ffmpeg's HLS muxer (fMP4, 1 s segments, program_date_time) reading picamd's stream, served
#     by Debian's nginx, played by hls.js.
# Same synthetic camera (1280x720, 30 fps), same machine, same headless Chromium, same barcode
# reader (www/latency.js). Prints a Markdown table (p50/p90/max, ratio to row 4, first frame,
# frames not shown / dropped) and writes the raw numbers to target/latency_compare.json.
#
#     scripts/latency_compare.sh [--seconds N] [--rows 1,2,3,4]     (default: 60 s per row)
#
# Installs what it needs (apt: ffmpeg, nginx-light, chromium; npm: playwright-core, hls.js) and
# builds picamd in release mode. Everything listens on 127.0.0.1 only and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (apt)" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/hls.js ]; then
  echo "installing playwright-core and hls.js (npm)" >&2
  (cd tests/browser && npm ci --silent --no-audit --no-fund >/dev/null)
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

echo "building picamd (release)" >&2
cargo build --release --quiet --bin picamd
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
picamd="$target_dir/release/picamd"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
chmod 755 "$work" # nginx workers run as another user
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cam_port=$(free_port)
"$picamd" --listen "127.0.0.1:$cam_port" --data-dir "$work/picamd" --source test \
  --resolution 1280x720 --fps 30 2>"$work/picamd.log" &
pids+=($!)
base="http://127.0.0.1:$cam_port"
for _ in $(seq 100); do
  curl -sf -o /dev/null "$base/preview/hls/cam-preview/index.m3u8" && break
  sleep 0.1
done
key=$("$picamd" show-key --data-dir "$work/picamd" 2>/dev/null || true)

# Row 4: ffmpeg's own HLS muxer reading picamd's per-frame stream (stream copy, no re-encode).
mkdir -p "$work/hls"
ffmpeg -nostdin -hide_banner -loglevel error -fflags nobuffer -i "$base/preview/live.mp4" -c copy \
  -f hls -hls_time 1 -hls_list_size 6 -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 \
  -hls_flags program_date_time+delete_segments+independent_segments \
  "$work/hls/index.m3u8" 2>"$work/ffmpeg.log" &
pids+=($!)

web_port=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  types { application/vnd.apple.mpegurl m3u8; video/mp4 mp4 m4s; }
  server {
    listen 127.0.0.1:$web_port;
    root $work/hls;
    add_header Access-Control-Allow-Origin * always;
    location ~ \.m3u8\$ { add_header Cache-Control no-cache; add_header Access-Control-Allow-Origin * always; }
  }
}
EOF
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
pids+=($!)
peer="http://127.0.0.1:$web_port/index.m3u8"
for _ in $(seq 100); do
  [ "$(curl -sf "$peer" | grep -c '\.m4s')" -ge 3 ] && break
  sleep 0.1
done

mkdir -p "$target_dir"
cd tests/browser
PICAMD_KEY="$key" node latency_compare.mjs --picamd "$base" --peer "$peer" \
  --json "$target_dir/latency_compare.json" "$@"
echo "raw numbers: $target_dir/latency_compare.json" >&2
