#!/usr/bin/python3
"""Write the seed corpus of fuzz_proto (tests/fuzz/corpus/proto/).

Each seed is: a count byte n, n selector bytes (bit i = 1: field i is an
INT32, 0: a STRING), then one frame as kenpo-proto.h defines it.
"""
import os
import struct
import sys

VERSION = 1
BYNAME, BYUID, ALL, PING = 0x00010001, 0x00010002, 0x00010008, 0x00040001


def i32(v):
    return struct.pack(">i", v) if v < 0 else struct.pack(">I", v)


def s(text):
    raw = text.encode()
    return i32(len(raw)) + raw


def frame(action, body, version=VERSION):
    payload = i32(version) + i32(action) + body
    return i32(len(payload)) + payload


def selectors(kinds):
    """kinds: a string of 'i' and 's', one letter per field."""
    bits = [1 if k == "i" else 0 for k in kinds]
    out = bytearray((len(bits) + 7) // 8)
    for n, bit in enumerate(bits):
        out[n // 8] |= bit << (n % 8)
    return bytes([len(out)]) + bytes(out)


def record(name, uid):
    return s(name) + s("x") + i32(uid) + i32(100) + s("") + s("/home/" + name) + s("/bin/sh")


REC = "ssiisss"
SEEDS = {
    "ping": selectors("") + frame(PING, b""),
    "byname": selectors("s") + frame(BYNAME, s("taro.yamada")),
    "byuid": selectors("i") + frame(BYUID, i32(70001)),
    "passwd-ok": selectors("i" + REC) + frame(BYNAME, i32(0) + record("Taro.Yamada", 70001)),
    "passwd-notfound": selectors("i") + frame(BYUID, i32(1)),
    "all-page": selectors("ii" + REC * 2 + "i")
    + frame(ALL, i32(0) + i32(2) + record("aoi", 5001) + record("ren", 5002) + i32(-1)),
    "all-denied": selectors("i") + frame(ALL, i32(3)),
    "ping-version": selectors("i") + frame(PING, i32(0) + s("0.1")),
    "bad-version": selectors("") + frame(PING, b"", version=2),
    "bad-trailing": selectors("i") + frame(BYUID, i32(5) + b"\x01"),
    "bad-nul": selectors("s") + frame(BYNAME, i32(3) + b"a\0b"),
    "bad-negative": selectors("s") + frame(BYNAME, i32(-4) + b"abcd"),
    "bad-short": (selectors("s") + frame(BYNAME, s("hanako")))[:-2],
}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "proto")
    os.makedirs(outdir, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
