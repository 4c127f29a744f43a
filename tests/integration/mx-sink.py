#!/usr/bin/env python3
"""mx-sink.py - a STARTTLS MX that accepts every message, for
postfix-delivery.sh (Python 3 standard library only).

  mx-sink.py --addr 127.0.0.1 --port 25 --certdir DIR --map FILE
             --default NAME --log FILE.jsonl [--pidfile FILE]

Appends one JSON line per message to --log: {"event": "message", "sni":
..., "cert": ..., "tls": "TLSv1.3", "mail_from": ..., "rcpt": [...],
"subject": ...}, and one per failed handshake.  The certificate is chosen
by the SNI name the client sends: --map is a file of "SNI-NAME CERT-NAME"
lines (DIR/CERT-NAME.crt and .key), read again for every connection so a
test can swap a certificate (a man in the middle) without a restart; a
name not in the map, or no SNI, gets --default.
"""
import argparse
import json
import os
import signal
import socketserver
import ssl
import sys
import threading

LOCK = threading.Lock()


def read_map(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and not line.startswith("#"):
                    out[parts[0].lower()] = parts[1]
    except FileNotFoundError:
        pass
    return out


class Handler(socketserver.StreamRequestHandler):
    timeout = 60

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def starttls(self):
        args = self.server.args
        chosen = {"sni": None, "cert": args.default}
        contexts = {}

        def context_for(name):
            if name not in contexts:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(os.path.join(args.certdir, name + ".crt"),
                                    os.path.join(args.certdir, name + ".key"))
                contexts[name] = ctx
            return contexts[name]

        mapping = read_map(args.map)

        def on_sni(sslobj, server_name, ctx):
            chosen["sni"] = server_name
            if server_name:
                chosen["cert"] = mapping.get(server_name.lower(), args.default)
            sslobj.context = context_for(chosen["cert"])

        base = context_for(args.default)
        base.sni_callback = on_sni
        self.reply("220 2.0.0 Ready to start TLS")
        try:
            tls = base.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.server.note({"event": "handshake-failed", "error": str(e),
                              "sni": chosen["sni"], "cert": chosen["cert"]})
            return False
        self.connection = tls
        self.rfile = tls.makefile("rb")
        self.wfile = tls.makefile("wb")
        self.tls = {"sni": chosen["sni"], "cert": chosen["cert"],
                    "tls": tls.version()}
        return True

    def handle(self):
        self.tls = None
        mail_from, rcpt = None, []
        self.reply("220 mx.sink ESMTP test sink")
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                caps = ["mx.sink", "PIPELINING", "8BITMIME", "SIZE 10240000"]
                if self.tls is None:
                    caps.append("STARTTLS")
                for c in caps[:-1]:
                    self.wfile.write(("250-" + c + "\r\n").encode())
                self.reply("250 " + caps[-1])
            elif verb == "HELO":
                self.reply("250 mx.sink")
            elif verb == "STARTTLS" and self.tls is None:
                if not self.starttls():
                    return
            elif verb == "MAIL":
                mail_from, rcpt = cmd[10:].strip(), []
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                rcpt.append(cmd[8:].strip())
                self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                subject, lines = None, 0
                while True:
                    text = self.rfile.readline(65536)
                    if not text or text in (b".\r\n", b".\n"):
                        break
                    lines += 1
                    if subject is None and text.lower().startswith(b"subject:"):
                        subject = text[8:].decode("latin-1").strip()
                rec = {"event": "message", "mail_from": mail_from,
                       "rcpt": rcpt, "subject": subject, "lines": lines}
                rec.update(self.tls or {"sni": None, "cert": None,
                                        "tls": None})
                self.server.note(rec)
                self.reply("250 2.0.0 Ok: queued")
                mail_from, rcpt = None, []
            elif verb == "RSET":
                mail_from, rcpt = None, []
                self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Error: command not recognized")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def note(self, rec):
        with LOCK:
            with open(self.args.log, "a") as f:
                f.write(json.dumps(rec) + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", default="127.0.0.1")
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--certdir", required=True)
    p.add_argument("--map", required=True)
    p.add_argument("--default", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--pidfile")
    args = p.parse_args()
    srv = Server((args.addr, args.port), Handler)
    srv.args = args
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    srv.serve_forever()


if __name__ == "__main__":
    main()
