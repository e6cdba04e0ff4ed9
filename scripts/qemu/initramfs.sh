#!/usr/bin/env bash
# Packs the guest's initramfs: static busybox, /init and the checks (guest-init.sh,
# guest-checks.sh), the V4L2 modules vivid and vicodec need (resolved with modprobe against the
# guest kernel's modules.dep), and picamd and v4l2-ctl with the shared libraries and loader
# they link. Usage: initramfs.sh <picamd binary> <output .cpio.gz>. Needs build.sh run first.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
picamd="$1"
out="$2"
cache="${PICAMD_QEMU_CACHE:-$HOME/.cache/picamd/qemu}"
# shellcheck source=/dev/null
. "$cache/env"

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,lib64,usr/bin}

cp /bin/busybox "$root/bin/busybox"
for applet in sh mount umount mkdir cat echo sleep grep sed ls ln rm kill poweroff modprobe \
  rmmod insmod lsmod dmesg head tail wc tr cut basename seq date timeout true false test \
  find sort uname printf; do
  ln -s busybox "$root/bin/$applet"
done

# A binary and everything `ldd` says it loads, at the same paths as on the host.
copy_with_libs() {
  local bin="$1" dest="$2"
  cp "$bin" "$root$dest"
  ldd "$bin" | grep -o '/[^ ]*' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}
copy_with_libs "$picamd" /usr/bin/picamd
copy_with_libs "$(command -v v4l2-ctl)" /usr/bin/v4l2-ctl

mods="$root/lib/modules/$KVER"
mkdir -p "$mods"
for module in vivid vicodec; do
  modprobe -d "$MODROOT" -S "$KVER" --show-depends "$module"
done | sed -n 's/^insmod \([^ ]*\).*/\1/p' | sort -u | while read -r ko; do
  rel="${ko#"$MODROOT/lib/modules/$KVER/"}"
  mkdir -p "$mods/$(dirname "$rel")"
  cp "$ko" "$mods/$rel"
done
cp "$MODROOT/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "$mods/"
depmod -b "$root" "$KVER"

cp "$here/guest-init.sh" "$root/init"
cp "$here/guest-checks.sh" "$root/checks.sh"
chmod +x "$root/init"

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
