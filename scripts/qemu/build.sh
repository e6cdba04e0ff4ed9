#!/usr/bin/env bash
# Prepares what tests/qemu_v4l2.rs boots: Debian bookworm's own 6.1 kernel (unpacked from its
# package, not installed: the host's /boot stays untouched), its modules with a modules.dep,
# and the two test drivers Debian does not ship (vicodec, v4l2-mem2mem) built out of tree from
# linux-source-6.1 against the matching headers. Idempotent and quiet; everything lands in
# ${PICAMD_QEMU_CACHE:-~/.cache/picamd/qemu} and is rebuilt only when the kernel ABI changes.
# Prints the cache directory on stdout (its `env` file names the kernel and module paths).
set -euo pipefail

cache="${PICAMD_QEMU_CACHE:-$HOME/.cache/picamd/qemu}"
mkdir -p "$cache"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# The ABI (6.1.0-N) linux-image-amd64 points at when the cache is first built, pinned in the
# cache so later runs neither rebuild nor need the network (delete the cache to move on).
if [ -s "$cache/abi" ]; then
  abi=$(cat "$cache/abi")
else
  abi=$(apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/.*Depends: linux-image-\(6\.1\.0-[0-9]*\)-amd64$/\1/p' | head -n1)
  if [ -z "$abi" ]; then
    $SUDO apt-get update -qq >/dev/null
    abi=$(apt-cache depends linux-image-amd64 |
      sed -n 's/.*Depends: linux-image-\(6\.1\.0-[0-9]*\)-amd64$/\1/p' | head -n1)
  fi
  [ -n "$abi" ] || { echo "build.sh: cannot resolve linux-image-amd64 to a 6.1.0-N ABI" >&2; exit 1; }
fi
echo "$abi" >"$cache/abi"
kver="$abi-amd64"

packages=(qemu-system-x86 busybox-static "linux-headers-$kver" linux-source-6.1 make gcc-12
  libc6-dev v4l-utils kmod cpio xz-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (apt)" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# The kernel and its modules, unpacked from the package (installing it would run the host's
# initramfs and boot loader hooks for nothing).
kroot="$cache/kroot-$kver"
if [ ! -f "$kroot/lib/modules/$kver/modules.dep" ]; then
  echo "unpacking linux-image-$kver" >&2
  rm -rf "$cache/debs" "$kroot.tmp"
  mkdir -p "$cache/debs" "$kroot.tmp"
  (cd "$cache/debs" && apt-get download -qq "linux-image-$kver" 2>/dev/null)
  dpkg-deb -x "$cache"/debs/linux-image-"$kver"_*.deb "$kroot.tmp"
  depmod -b "$kroot.tmp" "$kver"
  rm -rf "$cache/debs" "$kroot"
  mv "$kroot.tmp" "$kroot"
fi
if grep -q '^CONFIG_MODULE_SIG_FORCE=y' "$kroot/boot/config-$kver"; then
  echo "build.sh: $kver enforces module signatures; unsigned test drivers cannot load" >&2
  exit 1
fi

# vicodec and v4l2-mem2mem, out of tree, in one directory so vicodec's references to the
# v4l2_m2m_* symbols get their CRCs from our own Module.symvers.
extra="$cache/extra-$kver"
if [ ! -f "$extra/vicodec.ko" ] || [ ! -f "$extra/v4l2-mem2mem.ko" ]; then
  echo "building vicodec and v4l2-mem2mem for $kver" >&2
  src="$cache/src-$kver"
  rm -rf "$src"
  mkdir -p "$src"
  tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$src" --strip-components=1 \
    linux-source-6.1/drivers/media/test-drivers/vicodec \
    linux-source-6.1/drivers/media/v4l2-core/v4l2-mem2mem.c
  build="$src/build"
  mkdir -p "$build"
  cp "$src"/drivers/media/test-drivers/vicodec/*.[ch] "$src/drivers/media/v4l2-core/v4l2-mem2mem.c" "$build/"
  cat >"$build/Kbuild" <<'KBUILD'
obj-m += v4l2-mem2mem.o vicodec.o
vicodec-objs := vicodec-core.o codec-fwht.o codec-v4l2-fwht.o
KBUILD
  make -s -C "/usr/src/linux-headers-$kver" M="$build" -j"$(nproc)" modules >"$build/make.log" 2>&1 ||
    { cat "$build/make.log" >&2; exit 1; }
  rm -rf "$extra.tmp"
  mkdir -p "$extra.tmp"
  cp "$build/vicodec.ko" "$build/v4l2-mem2mem.ko" "$extra.tmp/"
  rm -rf "$extra" "$src"
  mv "$extra.tmp" "$extra"
fi
# The guest's module tree knows them as `updates/`, so modprobe resolves their dependencies
# like those of the shipped modules.
if ! cmp -s "$extra/vicodec.ko" "$kroot/lib/modules/$kver/updates/vicodec.ko"; then
  mkdir -p "$kroot/lib/modules/$kver/updates"
  cp "$extra"/*.ko "$kroot/lib/modules/$kver/updates/"
  depmod -b "$kroot" "$kver"
fi

cat >"$cache/env" <<ENV
KVER=$kver
VMLINUZ=$kroot/boot/vmlinuz-$kver
MODROOT=$kroot
ENV
echo "$cache"
