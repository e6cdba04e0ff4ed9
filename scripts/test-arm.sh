#!/usr/bin/env bash
# picamd on the Pi's architectures, without a Pi. For arm64 (Pi OS 64-bit) and armhf (Pi OS
# 32-bit): cross-builds with Debian's cross compilers and runs the unit tests under qemu-user,
# with the V4L2 structure layouts and request numbers checked against that target's own
# linux/videodev2.h (src/v4l2/layout.c, cross-compiled and run under qemu; armhf has a 32-bit
# time_t in v4l2_buffer). Then starts the armhf daemon under qemu on the synthetic camera and
# fetches /health and a playlist.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cross-env.sh
target_dir="${CARGO_TARGET_DIR:-target}"
out="$(mktemp -d)"
daemon=""
trap '[ -n "$daemon" ] && kill "$daemon" 2>/dev/null; rm -rf "$out"' EXIT

for target in "${CROSS_TARGETS[@]}"; do
  rustup target add "$target" >/dev/null 2>&1 ||
    { echo "rustup could not add $target: the ARM tests cannot run" >&2; exit 1; }
  (
    cross_env "$target"
    "$GNU_TRIPLE-gcc" -o "$out/layout-$DEB_ARCH" src/v4l2/layout.c
    "$QEMU" -L "/usr/$GNU_TRIPLE" "$out/layout-$DEB_ARCH" >"$out/layout-$DEB_ARCH.txt"
    echo "unit tests for $target under $QEMU"
    PICAMD_V4L2_C_LAYOUT="$out/layout-$DEB_ARCH.txt" PICAMD_QEMU_USER=1 \
      cargo test --release --quiet --target "$target" --lib -- --test-threads 2 |
      grep -E '^test result|FAILED|panicked' || true
    test "${PIPESTATUS[0]}" -eq 0
  )
done

target=armv7-unknown-linux-gnueabihf
(
  cross_env "$target"
  cargo build --release --quiet --target "$target" --bin picamd
)
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
qemu-arm-static -L /usr/arm-linux-gnueabihf "$target_dir/$target/release/picamd" \
  --listen "127.0.0.1:$port" --data-dir "$out/data" --resolution 320x180 --fps 10 \
  >"$out/picamd.log" 2>&1 &
daemon=$!
get() { curl -fsS -m 30 -o "$out/body" -w '%{http_code}' "http://127.0.0.1:$port$1" 2>/dev/null; }
for _ in $(seq 1 300); do
  [ "$(get /health || true)" = 200 ] && break
  sleep 0.2
done
[ "$(get /health || true)" = 200 ] || { cat "$out/picamd.log"; echo "armhf picamd: no /health" >&2; exit 1; }
[ "$(get /preview/hls/cam-preview/index.m3u8 || true)" = 200 ] ||
  { cat "$out/picamd.log"; echo "armhf picamd: no playlist" >&2; exit 1; }
grep -q '^#EXTM3U' "$out/body" || { echo "armhf picamd: not a playlist" >&2; exit 1; }
echo "armhf picamd under qemu: /health and the playlist answer"
