#!/usr/bin/env bash
# Throughput harness: how fast `remotewatch analyze` reads a capture, against the two figures
# that give the number its meaning, measured on the same file in the same run:
#   readloop    the floor as tools built on libpcap know it: libpcap reads every record and
#               etherparse's lax slicer splits every frame, nothing else (examples/readloop.rs)
#   readloop-direct  the same loop over the reader analyze uses for classic pcap (one kernel
#               copy per byte, records split in place): the floor of analyze's own input path
#   ndpiReader  nDPI's reference tool (Debian libndpi-bin), a full DPI engine on one thread
#
# usage: benches/throughput.sh CAPTURE.pcap [WORKERS...]
#   RUNS=N   rounds (default 3); each round runs every command once, in turn, so a machine that
#            slows down or speeds up affects all of them alike; the median per command is shown
#   WORKERS  extra `analyze --workers N` runs to report next to the single pipeline (e.g. 2)
#
# Rates are packets (as counted by the read loop) per second of wall-clock time, the whole
# process included (start-up, rules and catalogue loading, writing alerts to /dev/null).
# Peak RSS is the kernel's figure for the process (GNU time %M).
set -euo pipefail
cd "$(dirname "$0")/.."

pcap="${1:?usage: benches/throughput.sh CAPTURE.pcap [WORKERS...]}"
shift
workers=("$@")
runs="${RUNS:-3}"
[ -r "$pcap" ] || { echo "cannot read $pcap" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "GNU time (/usr/bin/time) is needed" >&2; exit 2; }
have_ndpi=1
command -v ndpiReader >/dev/null || { have_ndpi=0; echo "ndpiReader not found (apt-get install libndpi-bin): its column is skipped" >&2; }

cargo build --release --locked --quiet --bin remotewatch --example readloop
bin=target/release/remotewatch
readloop=target/release/examples/readloop
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# One timed run: NAME COMMAND...; appends "seconds kib" to $tmp/NAME (wall clock in
# nanoseconds around the process; peak RSS from GNU time).
timed() {
  local name="$1"
  shift
  local t0 t1
  t0="$(date +%s%N)"
  /usr/bin/time -f '%M' -o "$tmp/last" "$@" >/dev/null 2>"$tmp/$name.err"
  t1="$(date +%s%N)"
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}') $(tail -n 1 "$tmp/last")" >>"$tmp/$name"
}

names=(readloop readloop-direct analyze)
for n in "${workers[@]}"; do names+=("analyze-w$n"); done
[ "$have_ndpi" = 1 ] && names+=(ndpiReader)

for ((r = 1; r <= runs; r++)); do
  timed readloop "$readloop" "$pcap"
  timed readloop-direct "$readloop" --direct "$pcap"
  timed analyze "$bin" analyze --no-progress "$pcap"
  for n in "${workers[@]}"; do
    timed "analyze-w$n" "$bin" analyze --no-progress --workers "$n" "$pcap"
  done
  [ "$have_ndpi" = 1 ] && timed ndpiReader ndpiReader -q -i "$pcap"
done

packets="$(sed -n 's/^packets \([0-9]*\) .*/\1/p' "$tmp/readloop.err")"
[ -n "$packets" ] || { echo "readloop did not report a packet count" >&2; exit 1; }

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

echo "capture: $pcap ($packets packets), $runs round(s), medians of wall-clock time"
printf '%-16s %10s %10s %10s\n' command seconds Mpps 'peak MiB'
declare -A rate
for name in "${names[@]}"; do
  secs="$(cut -d' ' -f1 "$tmp/$name" | median)"
  kib="$(cut -d' ' -f2 "$tmp/$name" | median)"
  rate[$name]="$(awk -v p="$packets" -v s="$secs" 'BEGIN {printf "%.3f", (s > 0 ? p / s / 1e6 : 0)}')"
  printf '%-16s %10s %10s %10.1f\n' "$name" "$secs" "${rate[$name]}" "$(awk -v k="$kib" 'BEGIN {print k / 1024}')"
done
ratio() { awk -v a="${rate[$1]}" -v b="${rate[$2]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
echo "analyze / readloop:   $(ratio analyze readloop)"
echo "analyze / readloop-direct: $(ratio analyze readloop-direct)"
[ "$have_ndpi" = 1 ] && echo "analyze / ndpiReader: $(ratio analyze ndpiReader)"
for n in "${workers[@]}"; do
  echo "analyze --workers $n / analyze: $(ratio "analyze-w$n" analyze)"
done
