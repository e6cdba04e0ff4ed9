#!/usr/bin/env python3
"""A client of /stream.mjpg that parses it as strictly as the Pi Camera Streaming Pipeline's
scripts/record_stream.py does (written from contract/seeds-002-004.md §B.3, not copied):

- the boundary is the text after `boundary=` in Content-Type (default `frame`);
- every part must carry Content-Length; exactly 2 bytes (the CRLF) are skipped after a body;
- it stops after --limit-frames parts, or at a `--frame--` closer.

Sends no key and no cookie, like the original. Instead of re-encoding with OpenCV, it writes
the JPEGs back to back to --output (an MJPEG elementary stream ffmpeg can decode), and prints
one JSON line: {"status", "content_type", "x_accel_buffering", "frames", "sizes"}.
"""

import argparse
import http.client
import json
import sys
from urllib.parse import urlsplit


def read_line(stream):
    line = stream.readline(1024)
    if not line:
        raise EOFError("stream ended")
    return line.rstrip(b"\r\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--output", required=True)
    ap.add_argument("--limit-frames", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()

    url = urlsplit(args.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=args.timeout)
    conn.request("GET", url.path + ("?" + url.query if url.query else ""))
    resp = conn.getresponse()
    result = {
        "status": resp.status,
        "content_type": resp.getheader("Content-Type"),
        "x_accel_buffering": resp.getheader("X-Accel-Buffering"),
        "frames": 0,
        "sizes": [],
    }
    if resp.status != 200:
        print(json.dumps(result))
        return 0
    content_type = resp.getheader("Content-Type", "")
    boundary = "frame"
    if "boundary=" in content_type:
        boundary = content_type.split("boundary=", 1)[1].split(";")[0].strip()
    marker = b"--" + boundary.encode()
    with open(args.output, "wb") as out:
        while result["frames"] < args.limit_frames:
            line = read_line(resp)
            if not line:
                continue
            if line == marker + b"--":
                break
            if line != marker:
                raise ValueError(f"expected the boundary, got {line!r}")
            length = None
            while True:
                header = read_line(resp)
                if not header:
                    break
                name, _, value = header.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is None:
                raise ValueError("a part without Content-Length")
            body = resp.read(length)
            if len(body) != length:
                raise EOFError("short part")
            if resp.read(2) != b"\r\n":
                raise ValueError("no CRLF after the part")
            if body[:2] != b"\xff\xd8" or body[-2:] != b"\xff\xd9":
                raise ValueError("a part that is not a whole JPEG")
            out.write(body)
            result["frames"] += 1
            result["sizes"].append(length)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
