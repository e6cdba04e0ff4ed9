#!/usr/bin/env python3
"""Soak: runs the release daemon on loopback under a steady mixed load for a while and samples
its resident memory, threads and open descriptors, to show that nothing grows.

Load (all on 127.0.0.1, bounded in count and time): 10 LL-HLS viewers doing blocking reloads
and fetching every part, 2 MJPEG viewers, a capture every 2 s, /frame, /camera, telemetry
and metrics polls, and abuse that must be refused cheaply (wrong keys from a second loopback
address, 1 MiB bodies to a 404, silent connections, garbage heads).

    scripts/soak.py [seconds] [sample-every-seconds]     # defaults: 600 60
"""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 600
EVERY = int(sys.argv[2]) if len(sys.argv) > 2 else 60
PORT = 18977
KEY = "soak-key-0123456789abcdef"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

stop = threading.Event()
counts = {"ok": 0, "refused": 0, "errors": 0}
lock = threading.Lock()


def count(kind):
    with lock:
        counts[kind] += 1


def get(conn, path, headers=None):
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, body


def loop(fn):
    def run():
        while not stop.is_set():
            try:
                fn()
            except Exception:  # a dropped connection under load: count it and go on
                count("errors")
                time.sleep(0.2)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def hls_viewer():
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    base = "/preview/hls/cam-preview/"
    status, body = get(conn, base + "index.m3u8")
    msn = part = None
    while not stop.is_set():
        text = body.decode(errors="replace")
        parts = re.findall(r'#EXT-X-PART:[^\n]*URI="([^"]+)"', text)
        if parts:
            s, _ = get(conn, base + parts[-1])
            count("ok" if s == 200 else "errors")
            m = re.search(r"-(\d+)\.(\d+)\.m4s", parts[-1])
            msn, part = int(m.group(1)), int(m.group(2)) + 1
        query = f"?_HLS_msn={msn}&_HLS_part={part}" if msn is not None else ""
        status, body = get(conn, base + "index.m3u8" + query)
        if status != 200:
            msn = part = None
            time.sleep(0.2)


def mjpeg_viewer():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    s.sendall(f"GET /stream.mjpg?fps=5 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n\r\n".encode())
    deadline = time.time() + 30
    while time.time() < deadline and not stop.is_set():
        if not s.recv(65536):
            break
    s.close()
    count("ok")


def api_poller():
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    for path in ["/frame", "/camera", "/system/telemetry", "/metrics", "/health", "/captures?limit=20"]:
        s, _ = get(conn, path, {"X-API-Key": KEY})
        count("ok" if s in (200, 503) else "errors")
    time.sleep(0.5)


def capturer():
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    conn.request("POST", "/captures", body=b'{"product_id": 7}',
                 headers={"X-API-Key": KEY, "Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    count("ok" if r.status == 201 else "errors")
    time.sleep(2)


def abuser():
    # Wrong keys from another loopback address (blocked after a few: 401/403/429 all fine).
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10, source_address=("127.0.0.9", 0))
    s, _ = get(c, "/camera", {"X-API-Key": "wrong"})
    count("refused" if s in (401, 403, 429) else "errors")
    c.close()
    # A 1 MiB body to a route that does not exist: refused on the head.
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    try:
        c.request("POST", "/nope", body=b"x" * (1 << 20))
        r = c.getresponse()
        r.read()
        count("refused" if r.status in (404, 405, 413) else "errors")
    except (BrokenPipeError, ConnectionResetError):
        count("refused")
    c.close()
    # A garbage head and a silent connection.
    g = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    g.sendall(b"\x00\x01garbage\r\n\r\n")
    g.recv(4096)
    g.close()
    silent = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    time.sleep(1)
    silent.close()
    count("refused")


def sample(pid):
    status = open(f"/proc/{pid}/status").read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, hwm, threads, fds


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    data = tempfile.mkdtemp(prefix="picamd-soak-")
    env = dict(os.environ, AUTHORIZED_API_KEYS=json.dumps([KEY]), PAIRING_BACKEND_URL="",
               HOME=data, RUST_LOG="warn", RATE_LIMIT_CAPTURES="0")
    daemon = subprocess.Popen([os.path.join(ROOT, "target/release/picamd"), "--listen",
                               f"127.0.0.1:{PORT}", "--data-dir", data], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
                if get(c, "/preview/hls/cam-preview/index.m3u8")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        threads = [loop(hls_viewer) for _ in range(10)]
        threads += [loop(mjpeg_viewer) for _ in range(2)]
        threads += [loop(api_poller), loop(capturer), loop(abuser)]
        start = time.time()
        rows = []
        print(f"{'t (s)':>6} {'RSS MiB':>8} {'peak MiB':>9} {'threads':>8} {'fds':>5}")
        while True:
            rss, hwm, th, fds = sample(daemon.pid)
            t = int(time.time() - start)
            rows.append((t, rss, hwm, th, fds))
            print(f"{t:>6} {rss / 1024:>8.1f} {hwm / 1024:>9.1f} {th:>8} {fds:>5}", flush=True)
            if t >= SECONDS:
                break
            time.sleep(min(EVERY, max(1, SECONDS - t)))
        stop.set()
        alive = daemon.poll() is None
        with lock:
            done = dict(counts)
        print(f"requests: {done['ok']} answered, {done['refused']} abusive ones refused, "
              f"{done['errors']} client errors; daemon alive at the end: {alive}")
        first, last = rows[1] if len(rows) > 1 else rows[0], rows[-1]
        print(json.dumps({"bench": "soak", "seconds": SECONDS, "rss_kib_first": first[1],
                          "rss_kib_last": last[1], "peak_rss_kib": last[2],
                          "threads_first": first[3], "threads_last": last[3],
                          "fds_first": first[4], "fds_last": last[4], **done, "alive": alive}))
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


if __name__ == "__main__":
    main()
