#!/usr/bin/env bash
# Installs the amd64 .deb into a throwaway Debian 12 root (debootstrap minbase with systemd,
# cached as a tarball under ~/.cache/picamd) and checks what a Pi owner gets from
# `apt install ./picamd_<ver>_amd64.deb`: the user and its groups, the files, the unit enabled
# and verified by systemd-analyze, the daemon answering /health when started as the unit
# starts it, a changed conffile kept across a reinstall, remove keeping state and settings,
# purge deleting both. Then lintian on all three packages. Needs root (chroot).
#   scripts/test-package.sh <target dir>
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${1:-${CARGO_TARGET_DIR:-target}}"
deb="$(ls "$target_dir"/debian/picamd_*_amd64.deb | tail -n 1)"

cache="${PICAMD_CACHE:-$HOME/.cache/picamd}"
base="$cache/bookworm-minbase.tar"
mkdir -p "$cache"
if [ ! -f "$base" ]; then
  echo "building a Debian 12 root with debootstrap (once, cached in $base)"
  tmp="$(mktemp -d)"
  debootstrap --variant=minbase --include=systemd,libstdc++6,curl bookworm "$tmp/root" \
    http://deb.debian.org/debian >/dev/null
  tar -C "$tmp/root" -cf "$base.part" . && mv "$base.part" "$base"
  rm -rf "$tmp"
fi

work="$(mktemp -d)"
root="$work/root"
cleanup() {
  umount "$root/proc" 2>/dev/null || true
  [ -n "${daemon:-}" ] && kill "$daemon" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$root"
tar -C "$root" -xf "$base"
cp "$deb" "$root/tmp/picamd.deb"
in_root() { chroot "$root" "$@"; }
fail() { echo "test-package: $*" >&2; exit 1; }

in_root dpkg -i /tmp/picamd.deb >/dev/null
# The user, from the sysusers entry: no login, its home the state directory, camera groups.
entry="$(in_root getent passwd picamd)" || fail "no picamd user"
case "$entry" in *:/var/lib/picamd:/usr/sbin/nologin) ;; *) fail "picamd user: $entry" ;; esac
groups="$(in_root id -nG picamd)"
for g in video render; do
  case " $groups " in *" $g "*) ;; *) fail "picamd is not in group $g ($groups)" ;; esac
done
for f in /usr/bin/picamd /usr/lib/systemd/system/picamd.service /etc/picamd/picamd.env \
  /etc/avahi/services/picamd.service /usr/lib/sysusers.d/picamd.conf \
  /usr/share/doc/picamd/examples/picamd.socket; do
  [ -e "$root$f" ] || fail "$f is not installed"
done
[ -L "$root/etc/systemd/system/multi-user.target.wants/picamd.service" ] ||
  fail "picamd.service is not enabled"
in_root systemd-analyze verify /usr/lib/systemd/system/picamd.service ||
  fail "systemd-analyze verify failed on the installed unit"

# Started as the unit starts it: as picamd, in its state directory, with the env file.
mount -t proc proc "$root/proc"
port=18993
mkdir -p "$root/var/lib/picamd" && in_root chown picamd:picamd /var/lib/picamd
chroot --userspec=picamd:picamd "$root" env PICAMD_DATA_DIR=/var/lib/picamd \
  RELAB_CREDENTIALS_FILE=/var/lib/picamd/relay_credentials.json PAIRING_BACKEND_URL= \
  HOME=/var/lib/picamd /usr/bin/picamd serve --listen "127.0.0.1:$port" \
  --resolution 320x180 >"$work/picamd.log" 2>&1 &
daemon=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null ||
  { cat "$work/picamd.log"; fail "the installed picamd does not answer /health"; }
kill "$daemon"; wait "$daemon" 2>/dev/null || true; daemon=""
umount "$root/proc"
[ -f "$root/var/lib/picamd/relay_credentials.json" ] || fail "no state in /var/lib/picamd"

# A changed conffile survives a reinstall; remove keeps settings and state; purge drops them.
echo "PICAMD_FPS=15" >>"$root/etc/picamd/picamd.env"
in_root dpkg -i /tmp/picamd.deb >/dev/null
grep -q '^PICAMD_FPS=15$' "$root/etc/picamd/picamd.env" || fail "reinstall replaced the changed picamd.env"
in_root dpkg -r picamd >/dev/null
[ ! -e "$root/usr/bin/picamd" ] || fail "remove left /usr/bin/picamd"
[ -f "$root/etc/picamd/picamd.env" ] || fail "remove deleted the settings"
[ -f "$root/var/lib/picamd/relay_credentials.json" ] || fail "remove deleted the state"
in_root dpkg -P picamd >/dev/null
[ ! -e "$root/etc/picamd/picamd.env" ] || fail "purge left /etc/picamd/picamd.env"
[ ! -e "$root/var/lib/picamd" ] || fail "purge left /var/lib/picamd"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/picamd.service" ] ||
  fail "purge left the unit enabled"
echo "test-package: $(basename "$deb") installs, serves, upgrades, removes and purges as it should"

# lintian on every package built; the overrides are explained in debian/lintian-overrides.
for pkg in "$target_dir"/debian/picamd_*.deb; do
  lintian --fail-on error,warning --suppress-tags-from-file debian/lintian-overrides "$pkg" \
    2> >(grep -v 'running with root privileges' >&2)
done
echo "test-package: lintian passes on $(ls "$target_dir"/debian/picamd_*.deb | xargs -n1 basename | tr '\n' ' ')"
