#!/usr/bin/env bash
# Installs what the test suite talks to: ffmpeg/ffprobe and GStreamer (HLS clients), Chromium
# (our player),
# libfaketime (clock steps), Varnish and nginx (the edge; nginx with its RTMP and stream
# modules for YouTube live),
# playwright-core (drives Chromium), schemathesis (checks the API against its OpenAPI document),
# s3s-fs (a real S3 server that checks SigV4, for the upload tests), and the qemu guest of the
# V4L2 test (scripts/qemu/build.sh).
# Idempotent and quiet; safe to run on every test run.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# GStreamer 1.22 on bookworm: hlsdemux2 is in -good, h264parse in -bad (tests/hls_clients.rs).
command -v gst-launch-1.0 >/dev/null 2>&1 ||
  missing+=(gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)
# libfaketime (tests/clock_steps.rs steps the daemon's wall clock).
command -v faketime >/dev/null 2>&1 || missing+=(faketime)
# nginx with the RTMP and stream modules (tests/youtube_stream.rs: the ingest server, its
# ssl front for RTMPS) and openssl (the test CA, made at test time).
[ -e /usr/lib/nginx/modules/ngx_rtmp_module.so ] || missing+=(nginx libnginx-mod-rtmp)
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing+=(libnginx-mod-stream)
# Varnish and nginx, the edge in front of picamd (tests/edge_cache.rs, deploy/); openssl makes
# the edge's test certificate.
command -v varnishd >/dev/null 2>&1 || missing+=(varnish)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# unshare (tests/recording.rs: a small tmpfs in a private mount namespace fills up).
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
# avahi-daemon (tests/avahi.rs runs it in a network namespace; it need not run on the host).
command -v avahi-daemon >/dev/null 2>&1 || missing+=(avahi-daemon)
# systemd-analyze and systemd-socket-activate (tests/service.rs; no systemd needs to run).
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
# The packages and the ARM builds (scripts/package.sh, test-package.sh, test-arm.sh): cargo-deb's
# helpers, debootstrap and lintian, Debian's cross compilers and qemu-user.
command -v dpkg-shlibdeps >/dev/null 2>&1 || missing+=(dpkg-dev)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v lintian >/dev/null 2>&1 || missing+=(lintian)
command -v curl >/dev/null 2>&1 || missing+=(curl)
source scripts/cross-env.sh
for pkg in "${CROSS_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (apt)"
  $SUDO apt-get update -qq >/dev/null
  # No service may start on install (nginx would take port 80): tests run their own.
  policy=/usr/sbin/policy-rc.d
  added_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    added_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  [ -z "$added_policy" ] || $SUDO rm -f "$policy"
fi

if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/shaka-player ]; then
  echo "installing playwright-core, hls.js and shaka-player (npm)"
  (cd tests/browser && npm ci --silent --no-audit --no-fund >/dev/null)
fi

# schemathesis (tests/schemathesis.rs) in its own venv outside the repo, reinstalled only when
# the pinned requirements change (a copy of the installed ones is kept in the venv).
venv="${PICAMD_VENV:-$HOME/.cache/picamd/venv}"
requirements=tests/schemathesis/requirements.txt
if ! cmp -s "$requirements" "$venv/picamd-requirements.txt" ||
  ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
  echo "installing $(grep '^schemathesis==' "$requirements") (pip, into $venv)"
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      python3 python3-venv >/dev/null
  fi
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/picamd-requirements.txt"
fi

# relab-rpi-cam-models (tests/youtube_stream.rs validates relayed answers with the backend's
# own models). It needs Python 3.13+: the system's python3.13, else pyenv's newest 3.13+.
models_venv="${PICAMD_MODELS_VENV:-$HOME/.cache/picamd/relab-models-venv}"
models_req=tests/relab_models/requirements.txt
if ! cmp -s "$models_req" "$models_venv/picamd-requirements.txt" ||
  ! "$models_venv/bin/python" -c 'import relab_rpi_cam_models' >/dev/null 2>&1; then
  py313=""
  for candidate in python3.14 python3.13 $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[3-9]*/bin/python3 2>/dev/null | sort -r); do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; then
      py313="$candidate"
      break
    fi
  done
  if [ -n "$py313" ]; then
    echo "installing relab-rpi-cam-models (pip, into $models_venv)"
    "$py313" -m venv --clear "$models_venv"
    "$models_venv/bin/pip" install -q --disable-pip-version-check -r "$models_req"
    cp "$models_req" "$models_venv/picamd-requirements.txt"
  else
    echo "no Python 3.13+ found: the relayed StreamView is checked without relab-rpi-cam-models"
  fi
fi

# s3s-fs (tests/uploads_s3.rs), built once into ~/.cargo/bin. 0.14.1 is the newest release that
# builds with the stable toolchain here (0.17 needs Rust 1.96).
if ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs" ]; then
  echo "installing s3s-fs 0.14.1 (cargo install, a few minutes)"
  cargo install s3s-fs --version 0.14.1 --locked --features binary --quiet
fi

# cargo-deb (scripts/package.sh), built once into ~/.cargo/bin; the rustup targets of the Pi.
if ! command -v cargo-deb >/dev/null 2>&1; then
  echo "installing cargo-deb 3.8.0 (cargo install, a few minutes)"
  cargo install cargo-deb --version 3.8.0 --locked --quiet
fi
for target in "${CROSS_TARGETS[@]}"; do
  rustup target list --installed | grep -qx "$target" || rustup target add "$target" >/dev/null
done

# tests/qemu_v4l2.rs: qemu, Debian's 6.1 kernel unpacked, vicodec and v4l2-mem2mem built out of
# tree against its headers (a minute the first time, cached under ~/.cache/picamd/qemu).
scripts/qemu/build.sh >/dev/null
