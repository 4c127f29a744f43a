#!/usr/bin/env python3
"""Regenerate the size-limit cases under tests/data (64 KiB inputs).

The generated .in files are committed; run this only to re-create them:
    python3 tests/data/gen-big.py
Each body is exact to the byte: RFC 8461 §3.3 suggests a 64 KiB policy
cap (STS_POLICY_MAX_BYTES = 65536) and a TXT record holds at most 65535
bytes (STS_TXT_MAX_BYTES).
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
HEAD = b"version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 604800\n"


def policy_body(size):
    """A valid policy of exactly size bytes: padding extension lines."""
    out = bytearray(HEAD)
    n = 0
    while len(out) < size:
        n += 1
        line = b"pad%05d: " % n
        room = size - len(out) - len(line) - 1  # the LF
        if room < 1:
            # Too little room for another line: widen the previous one.
            out[-1:-1] = b"x" * (size - len(out))
            break
        out += line + b"x" * min(room, 70) + b"\n"
    assert len(out) == size, len(out)
    return bytes(out)


def txt_record(prefix, size):
    """One TXT record line of exactly size bytes (plus the LF)."""
    rec = prefix + b"; x=" + b"y" * (size - len(prefix) - 4)
    assert len(rec) == size
    return rec + b"\n"


FILES = {
    "policy/127-body-64k-exact.in": lambda: policy_body(65536),
    "policy/128-body-64k-plus-one.in": lambda: policy_body(65537),
    "policy/129-body-near-cap.in": lambda: policy_body(58982),
    "policy/130-body-below-near-cap.in": lambda: policy_body(58981),
    "txt/061-record-65535.in": lambda: txt_record(b"v=STSv1; id=big", 65535),
    "txt/062-record-65536.in": lambda: txt_record(b"v=STSv1; id=big", 65536),
    "tlsrpt/044-record-65535.in":
        lambda: txt_record(b"v=TLSRPTv1; rua=mailto:big@example.com", 65535),
    "tlsrpt/045-record-65536.in":
        lambda: txt_record(b"v=TLSRPTv1; rua=mailto:big@example.com", 65536),
}

if __name__ == "__main__":
    for name, make in FILES.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(make())
