#!/usr/bin/env python3
"""Tiny DNS fault server for the test world (stdlib only).

Produces the DNS faults that a real authoritative server will not:

  --port P       UDP+TCP: names under servfail.example and
                 dane-tlsafail.example get rcode SERVFAIL,
                 names under dnstimeout.example are swallowed (no answer,
                 TCP connection held open), everything else gets REFUSED.
                 The world's unbound delegates _mta-sts.servfail.example,
                 _25._tcp.mx1.dane-tlsafail.example and
                 "." here (stub-zone).  It does not send dnstimeout.example
                 here: behind unbound a silent server turns into SERVFAIL
                 (see README.md), so unbound drops those queries itself.
  --blackhole P  UDP+TCP: never answers anything at all.  A client pointed
                 straight at it sees a pure timeout, whatever its resolver
                 library does with retries.

Only the header and the question are parsed: enough to echo the question
back in an error answer.  Binds loopback addresses only.
"""

import argparse
import os
import signal
import socket
import struct
import sys
import threading
import time

RCODE_SERVFAIL = 2
RCODE_REFUSED = 5
HOLD_SECONDS = 300  # how long a swallowed TCP connection is kept open


def parse_question(msg):
    """Return (qname lowercased, end offset of question) or None."""
    if len(msg) < 12:
        return None
    qdcount = struct.unpack("!H", msg[4:6])[0]
    if qdcount != 1:
        return None
    labels, pos = [], 12
    while True:
        if pos >= len(msg):
            return None
        ln = msg[pos]
        pos += 1
        if ln == 0:
            break
        if ln & 0xC0 or pos + ln > len(msg):  # no compression in a question
            return None
        labels.append(msg[pos:pos + ln].decode("ascii", "replace").lower())
        pos += ln
    if pos + 4 > len(msg):
        return None
    return ".".join(labels) + ".", pos + 4


def error_reply(msg, qend, rcode):
    """Header copied from the query: QR=1, RD kept, RA=0, given rcode,
    question echoed, no other sections."""
    qid, flags = struct.unpack("!HH", msg[0:4])
    flags = 0x8000 | (flags & 0x7900) | rcode  # QR, keep opcode and RD
    return struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0) + msg[12:qend]


def in_zone(name, zone):
    return name == zone or name.endswith("." + zone)


def decide(msg, blackhole):
    """Return reply bytes, or None to stay silent."""
    if blackhole:
        return None
    q = parse_question(msg)
    if q is None:
        return None
    name, qend = q
    if in_zone(name, "dnstimeout.example."):
        return None
    if in_zone(name, "servfail.example.") or \
            in_zone(name, "dane-tlsafail.example."):
        return error_reply(msg, qend, RCODE_SERVFAIL)
    return error_reply(msg, qend, RCODE_REFUSED)


def serve_udp(sock, blackhole):
    while True:
        msg, peer = sock.recvfrom(65535)
        reply = decide(msg, blackhole)
        if reply is not None:
            sock.sendto(reply, peer)


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def serve_tcp_conn(conn, blackhole):
    conn.settimeout(HOLD_SECONDS)
    try:
        while True:
            hdr = recv_exact(conn, 2)
            if hdr is None:
                return
            msg = recv_exact(conn, struct.unpack("!H", hdr)[0])
            if msg is None:
                return
            reply = decide(msg, blackhole)
            if reply is not None:
                conn.sendall(struct.pack("!H", len(reply)) + reply)
            # silent: keep reading; the peer gives up on its own
    except OSError:
        pass
    finally:
        conn.close()


def serve_tcp(sock, blackhole):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn, blackhole),
                         daemon=True).start()


def bind(addr, port, kind):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    if kind == socket.SOCK_STREAM:
        s.listen(64)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--blackhole", type=int, default=0)
    ap.add_argument("--pidfile")
    a = ap.parse_args()
    if not a.addr.startswith("127.") and a.addr != "::1":
        sys.exit("faultdns: refusing to bind a non-loopback address")

    threads = []
    for port, bh in ((a.port, False), (a.blackhole, True)):
        if not port:
            continue
        u = bind(a.addr, port, socket.SOCK_DGRAM)
        t = bind(a.addr, port, socket.SOCK_STREAM)
        threads.append(threading.Thread(target=serve_udp, args=(u, bh), daemon=True))
        threads.append(threading.Thread(target=serve_tcp, args=(t, bh), daemon=True))
    for t in threads:
        t.start()
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
