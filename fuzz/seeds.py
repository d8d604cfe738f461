#!/usr/bin/env python3
"""Writes the fuzz seed corpus, fuzz/corpus/<target>/, from files in the repository: the fixture
captures (whole, and as frames, flows, TLS and DNS payloads in each target's input layout; see
fuzz/src/lib.rs), the deploy configuration and inventory, the product catalogue and the feeds.

Usage: python3 fuzz/seeds.py   (from anywhere; the corpus is not committed, it is rebuilt)
"""
import hashlib
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "corpus"
CHUNK_MAX = 9000  # fuzz/src/lib.rs CHUNK_MAX
PACKETS_MAX = 64  # fuzz/src/lib.rs PACKETS_MAX
# fuzz/src/lib.rs PROTOS and PORTS, to encode a flow's selectors.
PROTOS = [6, 17, 50, 51, 47, 1, 115, 58]


def put(target, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def frames(pcap):
    """(frame bytes) of a classic little-endian Ethernet pcap."""
    if len(pcap) < 24 or pcap[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        return []
    out, at = [], 24
    while at + 16 <= len(pcap):
        incl = struct.unpack_from("<I", pcap, at + 8)[0]
        out.append(pcap[at + 16 : at + 16 + incl])
        at += 16 + incl
    return out


def parse(frame):
    """(proto, src, sport, dst, dport, payload) of an Ethernet IPv4/IPv6 frame, or None."""
    at, ether = 14, frame[12:14]
    if ether == b"\x81\x00":
        at, ether = 18, frame[16:18]
    if ether == b"\x08\x00" and len(frame) >= at + 20:
        ihl = (frame[at] & 15) * 4
        proto, src, dst, l4 = frame[at + 9], frame[at + 12 : at + 16], frame[at + 16 : at + 20], at + ihl
    elif ether == b"\x86\xdd" and len(frame) >= at + 40:
        proto, src, dst, l4 = frame[at + 6], frame[at + 8 : at + 24], frame[at + 24 : at + 40], at + 40
    else:
        return None
    sport = dport = 0
    if proto == 6 and len(frame) >= l4 + 20:
        sport, dport = struct.unpack_from(">HH", frame, l4)
        l4 += (frame[l4 + 12] >> 4) * 4
    elif proto == 17 and len(frame) >= l4 + 8:
        sport, dport = struct.unpack_from(">HH", frame, l4)
        l4 += 8
    return proto, src, sport, dst, dport, frame[l4:]


def chunk(dir_bit, data):
    data = data[:CHUNK_MAX]
    return struct.pack(">H", (dir_bit << 15) | len(data)) + data


def flows(pcap):
    """{flow: (proto, client port, server port, [(dir, payload)])}, initiator first."""
    out = {}
    for f in frames(pcap):
        p = parse(f)
        if not p or not p[5]:
            continue
        proto, src, sport, dst, dport, payload = p
        key = (proto,) + tuple(sorted([(src, sport), (dst, dport)]))
        if key not in out:
            out[key] = (proto, src, sport, dport, [])
        first_src = out[key][1]
        out[key][4].append((0 if src == first_src else 1, payload))
    return out.values()


def main():
    pcaps = sorted((ROOT / "fixtures" / "pcap").glob("*/capture.pcap"))
    for path in pcaps:
        pcap = path.read_bytes()
        put("pcap", pcap)
        fs = frames(pcap)
        for f in fs[:16]:
            put("decode", b"\x00" + f)
        # Whole captures as frame sequences (link byte 0: Ethernet).
        put("pipeline", b"\x00" + b"".join(chunk(0, f) for f in fs[:PACKETS_MAX]))
        for proto, _, sport, dport, pkts in flows(pcap):
            if proto not in PROTOS:
                continue
            head = bytes([PROTOS.index(proto)]) + struct.pack(">HH", 0x8000 | dport, 0x8000 | sport)
            body = b"".join(chunk(d, p) for d, p in pkts[:PACKETS_MAX])
            put("detect", head + body)
            up = b"".join(p for d, p in pkts if d == 0)
            down = b"".join(p for d, p in pkts if d == 1)
            if up[:1] == b"\x16" and len(up) > 9:
                # The ClientHello body after its record and handshake headers.
                put("tls", bytes([128]) + up[9:] + down[9:])
            if up[:1] and up[0] & 0xC0 == 0xC0 and proto == 17:
                put("tls", bytes([129]) + up[5:])
            if 53 in (sport, dport):
                put("dns", b"".join(chunk(d, p) for d, p in pkts))
    for cfg in sorted((ROOT / "deploy").glob("*.toml")):
        inv = (ROOT / "deploy" / "contractors.csv").read_bytes()
        cat = (ROOT / "catalogue" / "products.toml").read_bytes()[:65536]
        put("config", cfg.read_bytes().replace(b"contractors.csv", b"inv.csv") + b"\0" + inv + b"\0" + cat)
    put("config", b'[inventory]\ncsv = "inv.csv"\n[detect]\ncatalogue = "products.toml"\n'
        b'[[intel.feed]]\nname = "x"\ncategory = "vpn"\npath = "list.txt"\n\0'
        + (ROOT / "deploy" / "contractors.csv").read_bytes() + b"\0\0192.0.2.1\n")
    put("catalogue", (ROOT / "catalogue" / "products.toml").read_bytes())
    for f in sorted((ROOT / "feeds").rglob("*")):
        if f.is_file() and "LICENSES" not in f.parts and f.suffix in (".txt", ".csv", ""):
            put("feed", f.read_bytes()[:65536])
    for t in sorted(OUT.iterdir()):
        print(f"{t.name}: {len(list(t.iterdir()))} seeds")


if __name__ == "__main__":
    main()
