#!/usr/bin/env python3
"""A seed-004 ("camera-server") hub client, written from the wire contract only (Python 3
standard library; the WebSocket client is implemented here over a socket, RFC 6455).

Integers are packed with struct.pack('<I', ...) exactly as the hub's own Python camera client.

usage:
  hub_client.py push  URL CAMERA_ID TOKEN JPEG COUNT      send COUNT pictures, print the close
  hub_client.py view  URL CAMERA_ID N [--move]            receive N pictures (and send a move)
  hub_client.py flood URL FIRST_ID CAMERAS RATE SECONDS JPEG SECRET
                      CAMERAS cameras at RATE pictures/s each, a viewer per camera
Each prints one JSON line.
"""

import base64
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time
from urllib.parse import urlsplit


class Closed(Exception):
    def __init__(self, code, reason):
        super().__init__(f"closed {code} {reason!r}")
        self.code = code
        self.reason = reason


class WebSocket:
    def __init__(self, url, timeout=10):
        u = urlsplit(url)
        assert u.scheme == "ws", "this test client speaks ws:// only"
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path or "/"
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("no handshake answer")
            head += chunk
        status = head.split(b"\r\n")[0]
        if b" 101 " not in status + b" ":
            raise ConnectionError(f"handshake refused: {status.decode()}")
        accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        ).decode()
        headers = dict(
            (k.strip().lower(), v.strip())
            for k, v in (line.split(":", 1) for line in head.decode().split("\r\n")[1:] if ":" in line)
        )
        if headers.get("sec-websocket-accept") != accept:
            raise ConnectionError("bad Sec-WebSocket-Accept")
        self.lock = threading.Lock()

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed without a close frame")
            buf += chunk
        return buf

    def send(self, payload, opcode=2):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask(payload, mask)
        with self.lock:
            self.sock.sendall(head + mask + masked)

    def recv(self):
        """The next data message (bytes); raises Closed on a close frame."""
        message = b""
        while True:
            b0, b1 = self._recv_exact(2)
            opcode = b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._recv_exact(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._recv_exact(8))
            payload = self._recv_exact(n)
            if opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                reason = payload[2:].decode("utf-8")
                try:
                    self.send(payload[:2], opcode=8)
                except OSError:
                    pass
                raise Closed(code, reason)
            if opcode == 9:
                self.send(payload, opcode=10)
                continue
            if opcode == 10:
                continue
            message += payload
            if b0 & 0x80:
                return message

    def close(self):
        try:
            self.send(struct.pack("!H", 1000), opcode=8)
        except OSError:
            pass
        self.sock.close()


def _mask(payload, mask):
    whole = (mask * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(whole, "big")).to_bytes(len(payload), "big")


def token_for(camera_id, secret):
    """The hub's recipe: lowercase hex SHA-256 of the decimal id followed by the secret."""
    return hashlib.sha256((str(camera_id) + secret).encode()).hexdigest()


def camera_hello(ws, camera_id, token):
    ws.send(struct.pack("<I", camera_id))
    tok = token.encode()
    ws.send(struct.pack("<I", len(tok)) + tok)


def viewer_hello(ws, camera_id):
    body = json.dumps({"token": "fake token", "cameraId": camera_id}).encode()
    ws.send(struct.pack("<i", len(body)) + body)


def push(url, camera_id, token, jpeg, count, rate=20.0):
    ws = WebSocket(url)
    camera_hello(ws, camera_id, token)
    sent = 0
    result = {"sent": 0, "close_code": None, "close_reason": None}
    try:
        for _ in range(count):
            ws.send(struct.pack("<I", len(jpeg)) + jpeg)
            sent += 1
            time.sleep(1.0 / rate)
        # Anything the hub says before we leave (a close, for a refused camera).
        ws.sock.settimeout(1.0)
        try:
            while True:
                ws.recv()
        except socket.timeout:
            pass
    except Closed as c:
        result["close_code"], result["close_reason"] = c.code, c.reason
    except (ConnectionError, OSError) as e:
        result["error"] = str(e)
    result["sent"] = sent
    ws.sock.close()
    return result


def view(url, camera_id, n, move=False):
    ws = WebSocket(url)
    viewer_hello(ws, camera_id)
    got, sizes, soi_eoi = 0, [], True
    result = {}
    try:
        while got < n:
            msg = ws.recv()
            got += 1
            sizes.append(len(msg))
            soi_eoi = soi_eoi and msg[:2] == b"\xff\xd8" and msg[-2:] == b"\xff\xd9"
            if move and got == 1:
                # As the front end: i32 LE type 1, then two big-endian floats.
                ws.send(struct.pack("<i", 1) + struct.pack(">ff", 0.25, -0.5))
    except Closed as c:
        result.update(close_code=c.code, close_reason=c.reason)
    ws.close()
    result.update(pictures=got, jpeg=soi_eoi and got > 0, max_size=max(sizes or [0]))
    return result


def flood(url_in, url_out, first_id, cameras, rate, seconds, jpeg, secret):
    counts = {}
    # The senders' window starts once the viewers are connected (set below).
    window = {"stop": time.monotonic() + 3600.0}

    def camera(cid):
        ws = WebSocket(url_in)
        camera_hello(ws, cid, token_for(cid, secret))
        msg = struct.pack("<I", len(jpeg)) + jpeg
        sent, due = 0, time.monotonic()
        while time.monotonic() < window["stop"]:
            ws.send(msg)
            sent += 1
            due += 1.0 / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        counts.setdefault(cid, {})["sent"] = sent
        ws.close()

    def viewer(cid):
        ws = WebSocket(url_out)
        viewer_hello(ws, cid)
        ws.sock.settimeout(0.5)
        got = 0
        while time.monotonic() < window["stop"] + 0.5:
            try:
                msg = ws.recv()
                if msg[:2] == b"\xff\xd8":
                    got += 1
            except socket.timeout:
                continue
            except (Closed, ConnectionError, OSError):
                break
        counts.setdefault(cid, {})["viewed"] = got
        ws.close()

    threads = [threading.Thread(target=viewer, args=(c,)) for c in range(first_id, first_id + cameras)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    window["stop"] = time.monotonic() + seconds
    cams = [threading.Thread(target=camera, args=(c,)) for c in range(first_id, first_id + cameras)]
    for t in cams:
        t.start()
    for t in cams + threads:
        t.join()
    return {
        "sent": sum(c.get("sent", 0) for c in counts.values()),
        "viewed_min": min(c.get("viewed", 0) for c in counts.values()),
        "seconds": seconds,
        "per_second": round(sum(c.get("sent", 0) for c in counts.values()) / seconds),
    }


def main(argv):
    mode = argv[1]
    if mode == "push":
        url, cid, token, path, count = argv[2:7]
        out = push(url, int(cid), token, open(path, "rb").read(), int(count))
    elif mode == "view":
        url, cid, n = argv[2:5]
        out = view(url, int(cid), int(n), move="--move" in argv)
    elif mode == "flood":
        base, first, cams, rate, secs, path, secret = argv[2:9]
        out = flood(
            base + "/video-input-stream",
            base + "/video-output-stream",
            int(first),
            int(cams),
            float(rate),
            float(secs),
            open(path, "rb").read(),
            secret,
        )
    else:
        raise SystemExit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
