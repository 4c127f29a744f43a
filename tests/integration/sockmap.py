#!/usr/bin/env python3
"""Raw socketmap scenarios for daemon-world.sh (Python 3 stdlib only).

mta-sts query sends one well-formed request at a time; these scenarios
push on the framing and the limits the way a buggy or hostile client
(or a busy Postfix) does.  Each prints one line per observation, which
the shell script compares with the exact text it expects:

  pipeline ADDR MAP KEY...     all requests in one write, replies in order
  bytewise ADDR MAP KEY        one request sent one byte at a time
  size ADDR N                  conn A works; conn B sends an N-byte
                               payload; then A works again
  malformed ADDR BYTES         conn B sends BYTES (Python escapes allowed,
                               e.g. '5:abc,'); A keeps working
  maxconn ADDR N               N clients served, client N+1 closed at
                               once, served again after one left
  idle ADDR SECONDS            an idle client is closed after SECONDS,
                               a busy one is not

ADDR is HOST:PORT or a UNIX socket path.  A reply prints as its text, a
connection closed by the daemon as EOF, no answer in time as SILENT.
"""
import socket
import sys
import time

TIMEOUT = 10.0


def connect(addr):
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        s.connect(addr)
        return s
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def frame(payload):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return str(len(payload)).encode() + b":" + payload + b","


class Reader:
    """Netstrings from one socket; None for EOF, 'SILENT' for a timeout."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return "SILENT"
        except ConnectionResetError:
            return None
        if not data:
            return None
        self.buf += data
        return True

    def reply(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            colon = self.buf.find(b":")
            if colon > 0:
                n = int(self.buf[:colon])
                if len(self.buf) >= colon + 1 + n + 1:
                    payload = self.buf[colon + 1:colon + 1 + n]
                    if self.buf[colon + 1 + n:colon + 2 + n] != b",":
                        return "BADFRAME"
                    self.buf = self.buf[colon + 2 + n:]
                    return payload.decode("utf-8", "replace")
            left = deadline - time.monotonic()
            if left <= 0:
                return "SILENT"
            got = self._fill(left)
            if got is None:
                return "EOF"
            if got == "SILENT":
                return "SILENT"

    def eof(self, timeout=3.0):
        """EOF if the daemon closed the connection within timeout."""
        got = self._fill(timeout)
        if got is None:
            return "EOF"
        if got == "SILENT":
            return "SILENT"
        return "DATA " + repr(self.buf)


def ask(sock, reader, map_, key):
    sock.sendall(frame(map_ + " " + key))
    return reader.reply()


def pipeline(addr, map_, *keys):
    s = connect(addr)
    r = Reader(s)
    s.sendall(b"".join(frame(map_ + " " + k) for k in keys))
    for _ in keys:
        print(r.reply())
    s.close()


def bytewise(addr, map_, key):
    s = connect(addr)
    r = Reader(s)
    for b in frame(map_ + " " + key):
        s.sendall(bytes([b]))
        time.sleep(0.005)
    print(r.reply())
    # and the same connection still takes a normal request
    print(ask(s, r, map_, key))
    s.close()


def _b_then_a(addr, send_b):
    a = connect(addr)
    ra = Reader(a)
    print("A", ask(a, ra, "postfix", "lf.example"))
    b = connect(addr)
    rb = Reader(b)
    try:
        send_b(b)
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed while we were still writing: that is an EOF too
    got = rb.reply(timeout=5.0)
    if got != "EOF" and got != "SILENT":
        # answered: the connection must go on working
        print("B", got)
        print("B", ask(b, rb, "postfix", "lf.example"))
    else:
        print("B", got)
    print("A", ask(a, ra, "postfix", "lf.example"))
    c = connect(addr)
    print("C", ask(c, Reader(c), "postfix", "lf.example"))
    for s in (a, b, c):
        s.close()


def size(addr, n):
    n = int(n)
    # "postfix " then a key made of 63-byte labels: never a domain
    key = ("a" * 63 + ".") * (n // 64 + 1)
    payload = ("postfix " + key)[:n]
    _b_then_a(addr, lambda b: b.sendall(frame(payload)))


def malformed(addr, raw):
    data = raw.encode("utf-8").decode("unicode_escape").encode("latin-1")
    _b_then_a(addr, lambda b: b.sendall(data))


def maxconn(addr, n):
    n = int(n)
    conns = []
    for i in range(n):
        s = connect(addr)
        r = Reader(s)
        conns.append((s, r))
        print("conn%d" % (i + 1), ask(s, r, "postfix", "lf.example"))
    extra = connect(addr)  # the kernel accepts; the daemon decides
    rx = Reader(extra)
    try:
        extra.sendall(frame("postfix lf.example"))
    except (BrokenPipeError, ConnectionResetError):
        pass
    print("conn%d" % (n + 1), rx.reply(timeout=3.0))
    extra.close()
    # the first ones are still served
    print("conn1", ask(conns[0][0], conns[0][1], "postfix", "lf.example"))
    conns[0][0].close()
    conns = conns[1:]
    # after one client left, a new one gets in
    for _ in range(50):
        time.sleep(0.1)
        s = connect(addr)
        r = Reader(s)
        try:
            s.sendall(frame("postfix lf.example"))
        except (BrokenPipeError, ConnectionResetError):
            s.close()
            continue
        got = r.reply(timeout=3.0)
        if got != "EOF":
            break
        s.close()
    print("new", got)
    s.close()
    for s, _ in conns:
        s.close()


def idle(addr, seconds):
    seconds = float(seconds)
    lazy = connect(addr)
    rl = Reader(lazy)
    busy = connect(addr)
    rb = Reader(busy)
    print("lazy", ask(lazy, rl, "postfix", "lf.example"))
    end = time.monotonic() + seconds * 2.5
    busy_ok = True
    while time.monotonic() < end:
        if ask(busy, rb, "postfix", "lf.example").startswith("OK") is False:
            busy_ok = False
        time.sleep(seconds / 4)
    print("busy", "open" if busy_ok else "broken")
    print("lazy", rl.eof(timeout=1.0))
    busy.close()
    lazy.close()


def main(argv):
    scenarios = {"pipeline": pipeline, "bytewise": bytewise, "size": size,
                 "malformed": malformed, "maxconn": maxconn, "idle": idle}
    if len(argv) < 3 or argv[1] not in scenarios:
        sys.exit(__doc__)
    scenarios[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
