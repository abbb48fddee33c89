#!/usr/bin/env python3
"""The flows nfstream finds in a capture, one JSON line each (the comparison of
crates/nta-metrics/tests/nfstream.rs and docs/FLOWS.md).

usage: nfstream_flows.py CAPTURE IDLE_SECONDS ACTIVE_SECONDS
"""
import json
import sys

from nfstream import NFStreamer

path, idle, active = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
streamer = NFStreamer(source=path, idle_timeout=idle, active_timeout=active, n_dissections=0,
                      statistical_analysis=False, splt_analysis=0, decode_tunnels=False, accounting_mode=0)
for f in streamer:
    print(json.dumps({
        "src_ip": f.src_ip, "dst_ip": f.dst_ip, "src_port": f.src_port, "dst_port": f.dst_port,
        "proto": f.protocol, "vlan": f.vlan_id, "first_ms": f.bidirectional_first_seen_ms,
        "packets": f.bidirectional_packets, "bytes": f.bidirectional_bytes,
    }))
