#!/usr/bin/env python3
"""HTTPS fault server for the test world (stdlib only).

Serves the policy-host misbehaviours nginx cannot produce.  The host is
chosen by TLS SNI; each host has its own certificate CERTDIR/<host>.crt/.key
issued by the world CA, so the TLS layer is valid and only HTTP misbehaves:

  mta-sts.stall.example    200 headers and a first part of the body, then
                           silence for --stall seconds (default 120).
  mta-sts.chunked.example  200, Transfer-Encoding: chunked, no
                           Content-Length, 1 MiB body (BODYDIR/<host>.txt).
  mta-sts.reset.example    TLS handshake completes, the request is read,
                           then the TCP connection is reset (RST), no reply.

An unknown SNI name (or none) gets the TLS handshake rejected.  One thread
per connection; binds a loopback address only.
"""

import argparse
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time

HOSTS = ("mta-sts.stall.example", "mta-sts.chunked.example",
         "mta-sts.reset.example")
CHUNK = 16384


class Server:
    def __init__(self, args):
        self.args = args
        self.ctx = {}  # host -> SSLContext holding that host's certificate
        for h in HOSTS:
            c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            c.minimum_version = ssl.TLSVersion.TLSv1_2
            c.load_cert_chain(os.path.join(args.certdir, h + ".crt"),
                              os.path.join(args.certdir, h + ".key"))
            self.ctx[h] = c
        # The listening context only switches to the per-host context by SNI.
        self.front = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.front.minimum_version = ssl.TLSVersion.TLSv1_2
        first = HOSTS[0]
        self.front.load_cert_chain(os.path.join(args.certdir, first + ".crt"),
                                   os.path.join(args.certdir, first + ".key"))
        self.front.sni_callback = self.pick

    def pick(self, sslobj, name, _ctx):
        if name not in self.ctx:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        sslobj.context = self.ctx[name]
        return None

    def read_request(self, tls):
        """Read until the end of the request headers; return them or None."""
        buf = b""
        while b"\r\n\r\n" not in buf and len(buf) < 65536:
            data = tls.recv(4096)
            if not data:
                return None
            buf += data
        return buf

    def handle(self, raw):
        raw.settimeout(30)
        try:
            tls = self.front.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        try:
            # The SNI callback swapped in the host's own context: map back.
            host = next((h for h, c in self.ctx.items() if c is tls.context),
                        None)
            if self.read_request(tls) is None:
                return
            if host == "mta-sts.stall.example":
                self.stall(tls)
            elif host == "mta-sts.chunked.example":
                self.chunked(tls, host)
            elif host == "mta-sts.reset.example":
                self.reset(tls)
        except (ssl.SSLError, OSError):
            pass  # the client gave up (e.g. body size limit): expected
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def stall(self, tls):
        part = b"version: STSv1\r\nmode: enforce\r\n"
        tls.sendall(b"HTTP/1.1 200 OK\r\n"
                    b"Content-Type: text/plain\r\n"
                    b"Content-Length: 1024\r\n"
                    b"Connection: close\r\n\r\n" + part)
        time.sleep(self.args.stall)  # never send the remaining bytes

    def chunked(self, tls, host):
        with open(os.path.join(self.args.bodydir, host + ".txt"), "rb") as f:
            body = f.read()
        tls.sendall(b"HTTP/1.1 200 OK\r\n"
                    b"Content-Type: text/plain\r\n"
                    b"Transfer-Encoding: chunked\r\n"
                    b"Connection: close\r\n\r\n")
        for i in range(0, len(body), CHUNK):
            piece = body[i:i + CHUNK]
            tls.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        tls.sendall(b"0\r\n\r\n")

    def reset(self, tls):
        # SO_LINGER with a zero timeout makes close() send RST, not FIN;
        # close() without unwrap() sends no TLS close_notify either.
        tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                       struct.pack("ii", 1, 0))

    def serve(self):
        a = self.args
        fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.addr, a.port))
        s.listen(128)
        if a.pidfile:
            with open(a.pidfile, "w") as f:
                f.write("%d\n" % os.getpid())
        while True:
            conn, _ = s.accept()
            threading.Thread(target=self.handle, args=(conn,),
                             daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--addr", default="127.0.0.3")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--certdir", required=True)
    ap.add_argument("--bodydir", required=True)
    ap.add_argument("--stall", type=float, default=120.0)
    ap.add_argument("--pidfile")
    a = ap.parse_args()
    if not a.addr.startswith("127.") and a.addr != "::1":
        sys.exit("faulthttp: refusing to bind a non-loopback address")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    Server(a).serve()


if __name__ == "__main__":
    main()
