#!/usr/bin/env python3
"""Helpers of bench/static.sh (standard library only).

  statichelp.py json SIZE FILE
      Write a JSON array of user-like records, about SIZE bytes, to FILE.
      The content is pseudo-random but the same at every run (fixed seed):
      ids, hex tokens, names, e-mail addresses, numbers and short notes
      drawn from a small vocabulary, so that it compresses like an API's
      answer does (neither a run of one byte nor random noise).

  statichelp.py slowread HOST PORT PATH N GZIP HOLD READ
      Open N connections to HOST:PORT, each with a 4 KiB receive buffer set
      before connecting, send "GET PATH" on each (with "Accept-Encoding:
      gzip" when GZIP is 1) and read until the answer's head and READ bytes
      of its body (at least 1) have arrived; then stop reading, so that the
      server's answer stays in progress, held back by the client. Prints
      "READY opened=N heads=H gzip=G status200=S reached=R" once every
      connection got that far (R of them did; the others were closed or
      still short of READ after 60 s), then holds the connections until SIGTERM
      or HOLD seconds.
"""

import json
import random
import selectors
import signal
import socket
import sys
import time

WORDS = (
    "alpha beta gamma delta epsilon order invoice shipped pending paid "
    "refund customer account premium basic trial renewal cancelled active "
    "warehouse north south east west express standard parcel letter "
    "priority returned delivered damaged review rating comment support"
).split()
FIRST = "Olivia Liam Emma Noah Ava Lucas Mia Hugo Lea Louis Chloe Jules Ines Adam Zoe".split()
LAST = "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent".split()
CITIES = "Paris Lyon Marseille Lille Nantes Bordeaux Toulouse Nice Rennes Grenoble".split()


def make_json(size, path):
    rnd = random.Random(20261202)
    out = []
    total = 2
    i = 0
    while total < size:
        i += 1
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        rec = {
            "id": i,
            "token": "%016x" % rnd.getrandbits(64),
            "name": first + " " + last,
            "email": "%s.%s%d@example.com" % (first.lower(), last.lower(), rnd.randrange(1000)),
            "active": rnd.random() < 0.7,
            "balance": round(rnd.uniform(-500, 5000), 2),
            "visits": rnd.randrange(100000),
            "tags": rnd.sample(WORDS, rnd.randrange(1, 4)),
            "address": {"city": rnd.choice(CITIES), "zip": "%05d" % rnd.randrange(100000)},
            "created": "2026-%02d-%02dT%02d:%02d:%02dZ" % (
                rnd.randrange(1, 13), rnd.randrange(1, 29), rnd.randrange(24), rnd.randrange(60), rnd.randrange(60)),
            "note": " ".join(rnd.choice(WORDS) for _ in range(rnd.randrange(3, 12))),
        }
        s = json.dumps(rec, separators=(",", ":"))
        out.append(s)
        total += len(s) + 1
    with open(path, "w") as f:
        f.write("[" + ",".join(out) + "]\n")


def slowread(host, port, path, n, gz, hold, want):
    req = "GET %s HTTP/1.1\r\nHost: %s:%d\r\n%sUser-Agent: statichelp-slowread\r\n\r\n" % (
        path, host, port, "Accept-Encoding: gzip\r\n" if gz else "")
    req = req.encode()
    sel = selectors.DefaultSelector()
    socks = []
    state = {}
    opened = 0
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            s.connect((host, port))
            s.sendall(req)
        except OSError as e:
            print("connect: %s" % e, file=sys.stderr)
            s.close()
            continue
        opened += 1
        s.setblocking(False)
        socks.append(s)
        state[s] = b""
        sel.register(s, selectors.EVENT_READ)
    heads = gzipped = ok = 0
    want = max(want, 1)
    deadline = time.monotonic() + 60
    pending = len(state)
    body = {}  # bytes of body read, once the head is complete
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if s in body:
                body[s] += len(data)
            else:
                buf = state[s] + data
                end = buf.find(b"\r\n\r\n")
                if end >= 0:
                    head = buf[:end].lower()
                    heads += 1
                    if head.startswith(b"http/1.1 200"):
                        ok += 1
                    if b"\r\ncontent-encoding: gzip" in head:
                        gzipped += 1
                    body[s] = len(buf) - end - 4
                    state[s] = b""
                else:
                    state[s] = buf
            if not data or body.get(s, -1) >= want:
                sel.unregister(s)
                pending -= 1
    reached = sum(1 for v in body.values() if v >= want)
    print("READY opened=%d heads=%d gzip=%d status200=%d reached=%d" % (opened, heads, gzipped, ok, reached),
          flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    time.sleep(hold)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "json":
        make_json(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 9 and sys.argv[1] == "slowread":
        slowread(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6] == "1",
                 float(sys.argv[7]), int(sys.argv[8]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
