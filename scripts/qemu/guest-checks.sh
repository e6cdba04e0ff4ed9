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

# The HTTP status and body of picamd's /health (busybox nc: wget hides error bodies).
health() {
  printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' | nc 127.0.0.1 8018 2>/dev/null >/tmp/health
  sed -n '1s/^HTTP\/1\.[01] \([0-9]*\).*/\1/p' /tmp/health
}

# wait_health STATUS SECONDS: until /health answers STATUS.
wait_health() {
  i=0
  while [ $i -lt $(($2 * 2)) ]; do
    [ "$(health)" = "$1" ] && { echo "/health $1: $(tail -n 1 /tmp/health)"; return 0; }
    sleep 0.5
    i=$((i + 1))
  done
  echo "/health never answered $1 within $2 s; last: $(cat /tmp/health)"
  return 1
}

# api METHOD PATH [BODY]: picamd's answer (status line, headers, body) in /tmp/api, with
# the local API key the daemon wrote to its credentials file.
api() {
  key=$(sed -n 's/.*"local_api_key": *"\([^"]*\)".*/\1/p' /tmp/.config/relab/relay_credentials.json)
  printf '%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nX-API-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' \
    "$1" "$2" "$key" "${#3}" "$3" | nc 127.0.0.1 8018 2>/dev/null >/tmp/api
  sed -n '1s/^HTTP\/1\.[01] \([0-9]*\).*/\1/p' /tmp/api
}

# wait_brightness VALUE SECONDS: until vivid's brightness control reads VALUE.
wait_brightness() {
  i=0
  while [ $i -lt $(($2 * 2)) ]; do
    got=$(v4l2-ctl -d "$dev" --get-ctrl brightness 2>&1)
    [ "$got" = "brightness: $1" ] && { echo "v4l2 $got"; return 0; }
    sleep 0.5
    i=$((i + 1))
  done
  echo "brightness never read $1 within $2 s; last: $got"
  return 1
}

# The daemon's camera controls are vivid's: GET lists the ones it maps (no autofocus), a PATCH
# of Brightness 0.5 sets the device's brightness to 192 (0..255, default 128).
daemon_controls() {
  status=$(api GET /camera/controls)
  echo "GET /camera/controls $status"
  [ "$status" = 200 ] || { cat /tmp/api; return 1; }
  grep -q '"Brightness"' /tmp/api || { echo "no Brightness in $(tail -n 1 /tmp/api)"; return 1; }
  if grep -q '"AfMode"' /tmp/api; then echo "AfMode offered: $(tail -n 1 /tmp/api)"; return 1; fi
  status=$(api PATCH /camera/controls '{"controls":{"Brightness":0.5}}')
  echo "PATCH /camera/controls $status"
  [ "$status" = 200 ] || { cat /tmp/api; return 1; }
  wait_brightness 192 10
}

# The daemon with no settings finds the V4L2 camera itself (vicodec's M2M nodes are not
# cameras, and it encodes FWHT, not H.264, so OpenH264 encodes); /health is 200 while frames
# flow, 503 naming the device while it is unplugged, and 200 again by itself once it is back,
# with the camera controls set through the API applied again.
daemon_unplug() {
  dev=$(node vivid-000-vid-cap)
  ip link set lo up
  PAIRING_BACKEND_URL= HOME=/tmp RUST_LOG=info picamd --resolution 320x240 --fps 10 --listen 127.0.0.1:8018 --data-dir /tmp/picamd \
    >/tmp/daemon.log 2>&1 &
  pid=$!
  result=0
  if wait_health 200 60; then
    daemon_controls || result=1
    echo vivid.0 >/sys/bus/platform/drivers/vivid/unbind
    wait_health 503 20 && grep -q "$dev" /tmp/health || result=1
    echo vivid.0 >/sys/bus/platform/drivers/vivid/bind
    wait_health 200 30 || result=1
    # The rebound device starts at its default; the daemon sets it again when it reopens.
    wait_brightness 192 10 || result=1
  else
    result=1
  fi
  kill $pid
  wait $pid 2>/dev/null
  grep -E 'camera source|encoder:|camera:|delivering again' /tmp/daemon.log
  grep -q "camera source: v4l2 (.*$dev" /tmp/daemon.log || { echo "auto did not pick $dev"; result=1; }
  grep -q 'encoder: OpenH264 (software; no hardware H.264 encoder' /tmp/daemon.log || result=1
  [ $result -eq 0 ] || cat /tmp/daemon.log
  return $result
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
[ "$tool" = picamd ] && check daemon-unplug daemon_unplug
