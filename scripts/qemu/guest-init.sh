#!/bin/sh
# /init of the qemu guest (tests/qemu_v4l2.rs): mounts the kernel's file systems, loads the test
# drivers, runs /checks.sh and powers off. Everything the test reads goes to the serial console.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
export PATH=/bin:/usr/bin
echo "@@guest kernel=$(uname -r) cmdline=$(cat /proc/cmdline)"
. /checks.sh
echo "@@guest done"
poweroff -f
