#!/usr/bin/env python3
"""smtp-sink.py - tiny SMTP servers for the domain checker's tests.

    smtp-sink.py --port PORT [--portfile FILE] [--pidfile FILE] [--delay S]
                 SPEC...

Each SPEC is ADDR=MODE[=CERT[=SNIDIR]] and starts one listener on
ADDR:PORT (IPv4 or IPv6 literal, loopback only):

    starttls  greets, offers STARTTLS in its EHLO reply, then TLS 1.2+
              with CERT.crt / CERT.key (PEM); with SNIDIR, a client's SNI
              name N picks SNIDIR/N.crt and .key when they exist
    plain     greets, EHLO without STARTTLS (STARTTLS answers 502)
    oldtls    like starttls, but TLS 1.0 and 1.1 only
    stall     accepts the connection and never says a word
    reject    greets with 554 (no service)
    tls454    offers STARTTLS, then answers it with 454
    garbage   greets with a line that is not SMTP

Greetings are two lines ("220-...", "220 ...") to exercise multi-line
replies (RFC 5321 section 4.2); greetings and EHLO replies are sent in
pieces --delay seconds apart (default 0.02), so that a client must keep
reading until a reply is complete.

--port 0 picks one port that is free on every ADDR and writes it to the
--portfile.  Enough SMTP for a STARTTLS probe: EHLO/HELO, STARTTLS, NOOP, RSET, QUIT;
anything else gets 502.  The pid file appears once every listener is
bound.  Python 3 standard library only; nothing leaves loopback.
"""
import argparse
import ipaddress
import os
import signal
import socket
import ssl
import sys
import threading
import time
import warnings

# TLS 1.0/1.1 are deprecated in Python's ssl; the oldtls mode wants them.
warnings.filterwarnings("ignore", category=DeprecationWarning)

IDLE_TIMEOUT = 30  # seconds a client may stay silent
DELAY = 0.02  # between the pieces of a reply (--delay)


def fail(msg):
    sys.exit("smtp-sink.py: " + msg)


def load_ctx(cert, old=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if old:
        # OpenSSL 3 allows TLS < 1.2 only at security level 0
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert + ".crt", cert + ".key")
    return ctx


class Listener:
    def __init__(self, spec, port):
        parts = spec.split("=")
        if len(parts) < 2 or len(parts) > 4:
            fail("bad spec %r: want ADDR=MODE[=CERT[=SNIDIR]]" % spec)
        self.addr, self.mode = parts[0], parts[1]
        cert = parts[2] if len(parts) > 2 else None
        self.snidir = parts[3] if len(parts) > 3 else None
        ip = ipaddress.ip_address(self.addr)
        if not ip.is_loopback:
            fail("%s is not a loopback address" % self.addr)
        if self.mode not in ("starttls", "plain", "oldtls", "stall",
                             "reject", "tls454", "garbage"):
            fail("unknown mode %r" % self.mode)
        self.ctx = None
        self.sni_ctx = {}
        if self.mode in ("starttls", "oldtls", "tls454"):
            if cert is None:
                fail("%s needs a certificate" % spec)
            self.ctx = load_ctx(cert, self.mode == "oldtls")
            if self.snidir:
                self.ctx.sni_callback = self.pick_cert
        self.family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        self.sock = None

    def bind(self, port):
        self.sock = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((self.addr, port))
            self.sock.listen(64)
        except OSError:
            self.sock.close()
            self.sock = None
            raise
        return self.sock.getsockname()[1]

    def unbind(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def pick_cert(self, sslobj, name, ctx):
        if not name or "/" in name:
            return None
        base = os.path.join(self.snidir, name)
        if name not in self.sni_ctx and os.path.exists(base + ".crt"):
            try:
                self.sni_ctx[name] = load_ctx(base, self.mode == "oldtls")
            except (OSError, ssl.SSLError):
                self.sni_ctx[name] = None
        if self.sni_ctx.get(name) is not None:
            sslobj.context = self.sni_ctx[name]
        return None

    def serve(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self.session, args=(conn,),
                             daemon=True).start()

    def session(self, conn):
        try:
            conn.settimeout(IDLE_TIMEOUT)
            if self.mode == "stall":
                while conn.recv(4096):
                    pass
                return
            self.smtp(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def smtp(self, conn):
        buf = b""
        tls = False
        if self.mode == "reject":
            conn.sendall(b"554 5.3.2 sink.example no service here\r\n")
            return
        if self.mode == "garbage":
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            return
        # in three segments: a client must keep reading until the end
        conn.sendall(b"220-sink.example ESMTP test sink\r\n22")
        time.sleep(DELAY)
        conn.sendall(b"0 no U")
        time.sleep(DELAY)
        conn.sendall(b"CE\r\n")
        while True:
            while b"\n" not in buf:
                data = conn.recv(4096)
                if not data:
                    return
                buf += data
                if len(buf) > 4096:
                    conn.sendall(b"500 line too long\r\n")
                    return
            line, buf = buf.split(b"\n", 1)
            cmd = line.strip().upper()
            verb = cmd.split(b" ", 1)[0]
            if verb == b"EHLO":
                lines = [b"250-sink.example", b"250-PIPELINING",
                         b"250-8BITMIME"]
                if self.ctx is not None and not tls:
                    lines.append(b"250-STARTTLS")
                lines.append(b"250 SIZE 10240000")
                reply = b"\r\n".join(lines) + b"\r\n"
                conn.sendall(reply[:20])
                time.sleep(DELAY)
                conn.sendall(reply[20:])
            elif verb == b"HELO":
                conn.sendall(b"250 sink.example\r\n")
            elif verb == b"STARTTLS" and self.mode == "tls454":
                conn.sendall(b"454 4.7.0 TLS not available now\r\n")
            elif verb == b"STARTTLS" and self.ctx is not None and not tls:
                conn.sendall(b"220 2.0.0 ready to start TLS\r\n")
                buf = b""  # RFC 3207 section 6: discard what came before
                conn = self.ctx.wrap_socket(conn, server_side=True)
                tls = True
            elif verb == b"QUIT":
                conn.sendall(b"221 2.0.0 bye\r\n")
                return
            elif verb in (b"NOOP", b"RSET"):
                conn.sendall(b"250 2.0.0 ok\r\n")
            else:
                conn.sendall(b"502 5.5.2 not implemented\r\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--portfile")
    ap.add_argument("--pidfile")
    ap.add_argument("--delay", type=float, default=DELAY)
    ap.add_argument("spec", nargs="+")
    args = ap.parse_args()
    globals()["DELAY"] = args.delay
    listeners = [Listener(s, args.port) for s in args.spec]
    port = args.port
    for _ in range(50):
        try:
            port = listeners[0].bind(port)
            for lst in listeners[1:]:
                lst.bind(port)
            break
        except OSError as e:
            for lst in listeners:
                lst.unbind()
            if args.port != 0:
                fail("cannot listen on port %d: %s" % (args.port, e))
            port = 0
    else:
        fail("no port free on every address")
    if args.portfile:
        with open(args.portfile + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(args.portfile + ".tmp", args.portfile)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    for lst in listeners:
        threading.Thread(target=lst.serve, daemon=True).start()
    if args.pidfile:
        tmp = args.pidfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(tmp, args.pidfile)
    threading.Event().wait()


if __name__ == "__main__":
    main()
