# Sourced by scripts/package.sh and scripts/test-arm.sh: `cross_env <rust target>` exports
# what cargo and the cc crate need to build for it with Debian's cross compilers, and to run
# its test binaries under qemu-user; it sets DEB_ARCH, GNU_TRIPLE and QEMU.
cross_env() {
  local target="$1" var
  case "$target" in
    aarch64-unknown-linux-gnu) DEB_ARCH=arm64 GNU_TRIPLE=aarch64-linux-gnu QEMU=qemu-aarch64-static ;;
    armv7-unknown-linux-gnueabihf) DEB_ARCH=armhf GNU_TRIPLE=arm-linux-gnueabihf QEMU=qemu-arm-static ;;
    *) echo "cross_env: unknown target $target" >&2; return 1 ;;
  esac
  var="$(echo "$target" | tr 'a-z-' 'A-Z_')"
  export "CARGO_TARGET_${var}_LINKER=${GNU_TRIPLE}-gcc"
  export "CARGO_TARGET_${var}_RUNNER=${QEMU} -L /usr/${GNU_TRIPLE}"
  var="$(echo "$target" | tr '-' '_')"
  export "CC_${var}=${GNU_TRIPLE}-gcc" "CXX_${var}=${GNU_TRIPLE}-g++" "AR_${var}=${GNU_TRIPLE}-ar"
  export DEB_ARCH GNU_TRIPLE QEMU
}

# The Debian packages the cross builds need (installed by scripts/install-test-deps.sh).
CROSS_PACKAGES=(qemu-user-static gcc-aarch64-linux-gnu g++-aarch64-linux-gnu
  gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross
  linux-libc-dev-arm64-cross linux-libc-dev-armhf-cross)
CROSS_TARGETS=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)
