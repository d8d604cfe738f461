#!/usr/bin/env bash
# Live capture cost: the daemon captures on lo while examples/loinject.rs sends UDP datagrams
# between ports of 127.0.0.1 (nothing leaves the host), and the daemon's CPU time per frame
# analysed and its drops are printed, for one pipeline, for --workers N with a fanout group
# (each pipeline reads its own socket) and with capture.fanout = false (one socket, frames
# routed to the workers). Needs root.
#
# usage: benches/live.sh [WORKERS] [COUNT] [SENDERS]
#   WORKERS  pipelines of the multi-worker runs (default 2)
#   COUNT    frames per sender (default 1000000), SENDERS senders at once (default 1)
# Every sender shares the machine with the daemon, so the rates say how much room the daemon
# leaves them as much as how fast it is; the CPU time per frame is the figure to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
workers="${1:-2}"
count="${2:-1000000}"
senders="${3:-1}"
[ "$(id -u)" = 0 ] || { echo "live capture needs root" >&2; exit 2; }
cargo build --release --locked --quiet --bin remotewatch --example loinject
bin=target/release/remotewatch
inject=target/release/examples/loinject
tmp="$(mktemp -d)"
trap 'pkill -TERM -x remotewatch 2>/dev/null || true; rm -rf "$tmp"' EXIT

one() { # WORKERS FANOUT
  cat >"$tmp/rw.toml" <<EOT
[capture]
bpf = "udp and host 127.0.0.1 and port 60000"
snaplen = 2048
buffer_mb = 64
fanout = $2
[alerts]
jsonl = "/dev/null"
[http]
listen = "127.0.0.1:0"
EOT
  /usr/bin/time -f '%U %S' -o "$tmp/cpu" "$bin" run --config "$tmp/rw.toml" --interface lo \
    --workers "$1" 2>"$tmp/log" &
  local daemon=$!
  until grep -q 'capture started' "$tmp/log"; do
    kill -0 "$daemon" 2>/dev/null || { cat "$tmp/log" >&2; exit 1; }
    sleep 0.05
  done
  sleep 0.3
  local t0 t1
  t0="$(date +%s%N)"
  for ((s = 0; s < senders; s++)); do "$inject" 5000 "$count" 0 2>>"$tmp/sent" & done
  wait $(jobs -p | grep -v "^$daemon\$")
  t1="$(date +%s%N)"
  sleep 1
  pkill -TERM -x remotewatch
  wait "$daemon" || true
  local log packets dropped lanes user sys
  log="$(sed 's/\x1b\[[0-9;]*m//g' "$tmp/log")"
  packets="$(sed -n 's/.*sensor stopped packets=\([0-9]*\).*/\1/p' <<<"$log")"
  dropped="$(sed -n 's/.*capture stopped.* dropped=\([0-9]*\).*/\1/p' <<<"$log")"
  lanes="$(sed -n 's/.*lane_frames=\(\[[^]]*\]\).*/\1/p' <<<"$log")"
  read -r user sys <"$tmp/cpu"
  printf '%-22s %9s %9s %8s %10s %9s  %s\n' "workers=$1 fanout=$2" "$packets" "$dropped" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b - a) / 1e9}')" "$user+$sys" \
    "$(awk -v u="$user" -v s="$sys" -v p="$packets" 'BEGIN {printf "%.2f", (p > 0 ? (u + s) * 1e6 / p : 0)}')" "$lanes"
}

printf '%-22s %9s %9s %8s %10s %9s  %s\n' run frames dropped 'send s' 'cpu u+s' 'µs/frame' 'per pipeline'
one 1 true
one "$workers" true
one "$workers" false
