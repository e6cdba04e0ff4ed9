# Sourced by the guest's /init. The checks tests/qemu_v4l2.rs asserts on, each framed on the
# console by
#   @@check <name> begin
#   ...its output...
#   @@check <name> end rc=<exit status>
# `picamd_tool=picamd` on the kernel command line runs them through picamd's V4L2 subcommands;
# anything else (the default) through v4l2-ctl, which proves the harness and the drivers.

VIVID_OPTIONS="n_devs=2 node_types=0x1,0x1 multiplanar=1,2"
VICODEC_OPTIONS="multiplanar=1"

tool=$(sed -n 's/.*picamd_tool=\([^ ]*\).*/\1/p' /proc/cmdline)
tool=${tool:-v4l2-ctl}

# The device node whose V4L2 name is $1 (vivid-000-vid-cap, stateful-encoder, ...).
node() {
  for n in /sys/class/video4linux/video*; do
    [ "$(cat "$n/name" 2>/dev/null)" = "$1" ] && { echo "/dev/$(basename "$n")"; return 0; }
  done
  echo "/dev/no-device-named-$1"
}

# picamd's subcommands print one JSON object; success is its "ok": true, not the exit status.
ok() {
  out=$("$@" 2>&1)
  status=$?
  echo "$out"
  echo "$out" | grep -q '"ok": *true' && [ "$status" -eq 0 ]
}

# ---- The operations the checks use: where picamd's subcommands plug in. ----
probe() {
  case $tool in
  picamd) picamd v4l2-probe ;;
  *) v4l2-ctl --list-devices ;;
  esac
}
# capture DEVICE FRAMES FORMAT
capture() {
  case $tool in
  picamd) ok picamd v4l2-capture --device "$1" --frames "$2" --format "$3" ;;
  *) v4l2-ctl -d "$1" --set-fmt-video=pixelformat="$3" --stream-mmap --stream-count="$2" \
    --stream-to=/dev/null ;;
  esac
}
# encode FRAMES: raw frames in, FWHT out, through vicodec's stateful (M2M) encoder.
encode() {
  case $tool in
  picamd) ok picamd v4l2-encode --codec FWHT --frames "$1" ;;
  *) rm -f /tmp/encoded.fwht &&
    v4l2-ctl -d "$(node stateful-encoder)" \
      --set-fmt-video-out=width=640,height=480,pixelformat=YU12 \
      --stream-out-mmap --stream-mmap --stream-count="$1" --stream-to=/tmp/encoded.fwht &&
    echo "encoded $(wc -c </tmp/encoded.fwht) bytes" && [ -s /tmp/encoded.fwht ] ;;
  esac
}
# ---- end of the plug-in points ----

check() {
  name=$1
  shift
  echo "@@check $name begin"
  "$@"
  echo "@@check $name end rc=$?"
}

# The check's command fails, as it must while the device is away.
fails() {
  "$@"
  status=$?
  echo "exit status $status"
  [ "$status" -ne 0 ]
}

# capture, 10 times in a row on the same device, each a full open/stream/close.
stop_start() {
  for i in 1 2 3 4 5 6 7 8 9 10; do
    capture "$1" 3 YUYV >/tmp/stop-start.log 2>&1 || {
      cat /tmp/stop-start.log
      echo "stop/start $i failed"
      return 1
    }
  done
  echo "10 stop/starts clean"
}

# A capture of many frames, cut short by unbinding the driver from its device (what a USB
# unplug does: the node goes away while open), then the device bound again.
unplug_while_streaming() {
  capture "$1" 100000 YUYV >/tmp/unplug.log 2>&1 &
  pid=$!
  sleep 3
  echo vivid.0 >/sys/bus/platform/drivers/vivid/unbind
  i=0
  while kill -0 $pid 2>/dev/null && [ $i -lt 20 ]; do sleep 0.5; i=$((i + 1)); done
  if kill -0 $pid 2>/dev/null; then
    echo "capture still running 10 s after the unplug"
    kill $pid
    return 1
  fi
  wait $pid
  status=$?
  cat /tmp/unplug.log
  echo "capture ended with status $status after the unplug"
  # v4l2-ctl reports the failed DQBUF but exits 0; picamd's "ok": false makes `ok` fail.
  [ "$status" -ne 0 ] || grep -q 'VIDIOC_DQBUF: failed' /tmp/unplug.log
}

echo "@@guest tool=$tool"
# shellcheck disable=SC2086
check load-vivid modprobe vivid $VIVID_OPTIONS
# shellcheck disable=SC2086
check load-vicodec modprobe vicodec $VICODEC_OPTIONS
check nodes sh -c 'for n in /sys/class/video4linux/*; do echo "$n $(cat $n/name)"; done'
check probe probe

sp=$(node vivid-000-vid-cap)
mp=$(node vivid-001-vid-cap)
# vivid's webcam starts at 5 fps; 30 keeps the run short (the interval outlives the open).
# Its multi-planar instance refuses S_PARM from v4l2-ctl and stays at 5.
v4l2-ctl -d "$sp" --set-parm=30 >/dev/null 2>&1
check capture-single-planar-YUYV capture "$sp" 10 YUYV
check capture-single-planar-NV12 capture "$sp" 10 NV12
check capture-single-planar-YU12 capture "$sp" 10 YU12
check capture-multi-planar-YUYV capture "$mp" 10 YUYV
check capture-multi-planar-NV12 capture "$mp" 10 NV12
check encode-fwht encode 10
check stop-start stop_start "$sp"

check unplug-while-streaming unplug_while_streaming "$sp"
check capture-while-unplugged fails capture "$sp" 3 YUYV
check replug sh -c 'echo vivid.0 >/sys/bus/platform/drivers/vivid/bind'
check capture-after-replug capture "$(node vivid-000-vid-cap)" 10 YUYV

check rmmod rmmod vivid
check capture-after-rmmod fails capture "$sp" 3 YUYV
# shellcheck disable=SC2086
check modprobe-again modprobe vivid $VIVID_OPTIONS
check capture-after-modprobe capture "$(node vivid-000-vid-cap)" 10 YUYV
check capture-multi-planar-after-modprobe capture "$(node vivid-001-vid-cap)" 10 NV12
