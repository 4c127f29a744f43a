#!/usr/bin/env python3
"""Loopback fault servers for tests/io (stdlib only).

  fakesrv.py dns-refuse PORT     UDP+TCP DNS: every query gets REFUSED
  fakesrv.py dns-blackhole PORT  UDP+TCP: reads queries, never answers
  fakesrv.py tcp-blackhole PORT  TCP: accepts, never sends a byte
  fakesrv.py connect-proxy PORT TLSPORT LOG
                                 HTTP CONNECT proxy: logs each CONNECT
                                 target to LOG and tunnels it to
                                 127.0.0.1:TLSPORT, whatever the target

Binds 127.0.0.1 only and runs until killed.
"""

import socket
import struct
import sys
import threading

HOST = "127.0.0.1"


def refused(msg):
    """Copy the header and question; QR=1, RD kept, rcode REFUSED."""
    if len(msg) < 12:
        return None
    qid, flags = struct.unpack("!HH", msg[0:4])
    pos = 12
    while pos < len(msg) and msg[pos] != 0:
        pos += 1 + msg[pos]
    pos += 5
    if pos > len(msg):
        return None
    flags = 0x8000 | (flags & 0x7900) | 5
    return struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0) + msg[12:pos]


def udp(port, answer):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, port))
    while True:
        msg, peer = s.recvfrom(65535)
        if answer:
            r = refused(msg)
            if r:
                s.sendto(r, peer)


def tcp(port, answer):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, port))
    s.listen(64)
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)  # keep it open
        if answer:
            try:
                hdr = c.recv(2)
                n = struct.unpack("!H", hdr)[0]
                r = refused(c.recv(n))
                if r:
                    c.sendall(struct.pack("!H", len(r)) + r)
            except (OSError, struct.error):
                pass


def pump(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def proxy_one(c, tls_port, log):
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = c.recv(4096)
        if not b:
            c.close()
            return
        buf += b
    line = buf.split(b"\r\n", 1)[0].decode("ascii", "replace")
    with open(log, "a") as f:
        f.write(line + "\n")
    parts = line.split()
    if len(parts) != 3 or parts[0] != "CONNECT":
        c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
        c.close()
        return
    up = socket.create_connection((HOST, tls_port))
    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    threading.Thread(target=pump, args=(up, c), daemon=True).start()
    pump(c, up)


def connect_proxy(port, tls_port, log):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=proxy_one, args=(c, tls_port, log),
                         daemon=True).start()


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "connect-proxy":
        connect_proxy(port, int(sys.argv[3]), sys.argv[4])
        return
    if mode == "tcp-blackhole":
        tcp(port, False)
        return
    answer = mode == "dns-refuse"
    t = threading.Thread(target=tcp, args=(port, answer), daemon=True)
    t.start()
    udp(port, answer)


if __name__ == "__main__":
    main()
