#!/usr/bin/env bash
# Builds picamd's Debian packages with cargo-deb: amd64 from the native release build, arm64
# (Pi OS 64-bit, Pi 3/4/5) and armhf (Pi OS 32-bit, Pi 2/3/Zero 2) cross-compiled with
# Debian's cross gcc/g++. The .debs land in <target dir>/debian/ and
# <target dir>/<rust target>/debian/; their paths are printed at the end.
#   scripts/package.sh                 # all three
#   scripts/package.sh amd64 armhf     # some
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cross-env.sh

target_dir="${CARGO_TARGET_DIR:-target}"
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64 armhf)

if ! command -v cargo-deb >/dev/null 2>&1; then
  echo "installing cargo-deb 3.8.0 (cargo install, a few minutes)"
  cargo install cargo-deb --version 3.8.0 --locked --quiet
fi

for arch in "${arches[@]}"; do
  case "$arch" in
    amd64)
      cargo build --release --quiet --bin picamd
      cargo deb --no-build --quiet
      ;;
    arm64 | armhf)
      target=aarch64-unknown-linux-gnu
      [ "$arch" = armhf ] && target=armv7-unknown-linux-gnueabihf
      rustup target add "$target" >/dev/null 2>&1 ||
        { echo "rustup could not add $target: cannot cross-build $arch" >&2; exit 1; }
      (
        cross_env "$target"
        cargo build --release --quiet --target "$target" --bin picamd
        # The host's strip cannot read an ARM binary: the cross binutils' can.
        "$GNU_TRIPLE-strip" "$target_dir/$target/release/picamd"
        cargo deb --no-build --quiet --target "$target" --no-strip >/dev/null
      )
      ;;
    *) echo "unknown architecture $arch (amd64, arm64, armhf)" >&2; exit 1 ;;
  esac
done
# cargo-deb also links every package into <target dir>/debian/.
ls "$target_dir"/debian/picamd_*.deb
