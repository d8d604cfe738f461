#!/usr/bin/env bash
# Checks the databases committed in geoip/, without network: checksums, metadata and known
# answers, read with libmaxminddb's mmdblookup (Debian package mmdb-bin). For CI:
#   apt-get install -y mmdb-bin && bash geoip/check.sh
# Exit status 0 when every check passes, 1 otherwise.
#
# The expected answers are data of version 2.3.2026061719 of the npm packages: for asn.mmdb the
# rows of asn-ipv4.csv / asn-ipv6.csv of @ip-location-db/asn (line numbers below), for
# geo-whois-asn-country.mmdb the published file of @ip-location-db/geo-whois-asn-country-mmdb.
# geoip/rebuild.sh runs this after a rebuild; a new version may need new answers here.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ASN=$here/asn.mmdb
COUNTRY=$here/geo-whois-asn-country.mmdb

if ! command -v mmdblookup >/dev/null; then
  echo "check.sh: mmdblookup not found (Debian: apt-get install -y mmdb-bin)" >&2
  exit 1
fi

passed=0
failed=0
expect() { # WHAT GOT WANT
  if [ "$2" = "$3" ]; then
    passed=$((passed + 1))
    printf 'ok    %s: %s\n' "$1" "$2"
  else
    failed=$((failed + 1))
    printf 'FAIL  %s: got %s, want %s\n' "$1" "$2" "$3"
  fi
}

# One field of one address: `15169 <uint32>`, `"Google LLC" <utf8_string>`, or `not found`.
answer() { # FILE IP FIELD
  local out rc
  out=$(mmdblookup --file "$1" --ip "$2" "$3" 2>&1)
  rc=$?
  case $rc in
    0) sed -n 's/^ *\(..*\) <\([a-z0-9_]*\)>$/\1 <\2>/p' <<<"$out" | head -n 1 ;;
    6) echo "not found" ;;
    *) echo "mmdblookup error $rc: $(tr -s ' \n' ' ' <<<"$out")" ;;
  esac
}

# One line of the metadata block that `mmdblookup --verbose` prints, e.g. `Type`.
meta() { # FILE LABEL
  mmdblookup --file "$1" --ip 0.0.0.0 --verbose 2>/dev/null | sed -n "s/^ *$2: *//p" | head -n 1
}

asn() { # IP NUMBER ORGANIZATION (NUMBER "-" for no entry)
  if [ "$2" = - ]; then
    expect "asn.mmdb $1" "$(answer "$ASN" "$1" autonomous_system_number)" "not found"
  else
    expect "asn.mmdb $1 number" "$(answer "$ASN" "$1" autonomous_system_number)" "$2 <uint32>"
    expect "asn.mmdb $1 organization" \
      "$(answer "$ASN" "$1" autonomous_system_organization)" "\"$3\" <utf8_string>"
  fi
}

country() { # IP CODE (CODE "-" for no entry)
  local want="\"$2\" <utf8_string>"
  [ "$2" = - ] && want="not found"
  expect "geo-whois-asn-country.mmdb $1 country_code" \
    "$(answer "$COUNTRY" "$1" country_code)" "$want"
}

echo "== checksums (geoip/SHA256SUMS, written by rebuild.sh)"
while read -r sum file; do
  expect "sha256 $file" "$(sha256sum "$here/$file" 2>/dev/null | cut -d' ' -f1)" "$sum"
done <"$here/SHA256SUMS"

echo "== asn.mmdb metadata"
expect "asn.mmdb type" "$(meta "$ASN" Type)" "ip-location-db-ASN (compat=GeoLite2-ASN)"
expect "asn.mmdb ip version" "$(meta "$ASN" "IP version")" "IPv6"
expect "asn.mmdb record size" "$(meta "$ASN" "Record size")" "24 bits"
expect "asn.mmdb build epoch" "$(meta "$ASN" "Build epoch")" "1781722800 (2026-06-17 19:00:00 UTC)"
expect "asn.mmdb languages" "$(meta "$ASN" Languages)" "en"
expect "asn.mmdb description names its source" \
  "$(mmdblookup --file "$ASN" --ip 0.0.0.0 --verbose 2>/dev/null |
    grep -o '@ip-location-db/asn 2\.3\.2026061719' | head -n 1)" "@ip-location-db/asn 2.3.2026061719"

echo "== asn.mmdb answers (rows of the 2.3.2026061719 CSV files)"
asn 8.8.8.8 15169 "Google LLC"                            # asn-ipv4.csv line 5321
asn 1.1.1.1 13335 "Cloudflare, Inc."                      # asn-ipv4.csv line 8
asn 9.9.9.9 19281 "Quad9"                                 # asn-ipv4.csv line 7341
asn 193.0.14.129 25152 "Reseaux IP Europeens Network Coordination Centre (RIPE NCC)" # line 308101
# Lines 399115 (AS749 214.95.0.0-215.0.255.255) and 399116 (AS721 215.0.0.0-215.1.3.255) overlap;
# the narrower range wins the shared addresses.
asn 215.0.0.1 721 "DoD Network Information Center"
asn 214.95.0.1 749 "United States Department of Defense (DoD)"
asn 2001:4860:4860::8888 15169 "Google LLC"               # asn-ipv6.csv line 17112
asn 2606:4700:4700::1111 13335 "Cloudflare, Inc."         # asn-ipv6.csv line 41583
asn 2001:7fd::1 25152 "Reseaux IP Europeens Network Coordination Centre (RIPE NCC)" # line 9302
asn 2a00:1450:4001:80b::200e 15169 "Google LLC"           # asn-ipv6.csv line 63679
# IPv4 in the IPv6 tree: ::a.b.c.d, and the aliases ::ffff:a.b.c.d, 6to4 and Teredo (server).
asn ::8.8.8.8 15169 "Google LLC"
asn ::ffff:8.8.8.8 15169 "Google LLC"
asn ::ffff:1.1.1.1 13335 "Cloudflare, Inc."
asn 2002:808:808::1 15169 "Google LLC"
asn 2001:0:101:101::1 13335 "Cloudflare, Inc."
# No entry: private, documentation and unlisted space.
asn 10.0.0.1 -
asn 192.168.1.1 -
asn 192.0.2.1 -
asn ::ffff:10.0.0.1 -
asn 2001:db8::1 -
asn fe80::1 -

echo "== geo-whois-asn-country.mmdb metadata (as published)"
expect "country type" "$(meta "$COUNTRY" Type)" "country ipvAll"
expect "country ip version" "$(meta "$COUNTRY" "IP version")" "IPv6"
expect "country build epoch" "$(meta "$COUNTRY" "Build epoch")" "1781725900 (2026-06-17 19:51:40 UTC)"

echo "== geo-whois-asn-country.mmdb answers"
country 8.8.8.8 US
country 1.1.1.1 AU
country 193.0.14.129 NL
country ::8.8.8.8 US
country 2001:4860:4860::8888 US
country 2606:4700:4700::1111 US
country 2a00:1450:4001:80b::200e IE
country 10.0.0.1 -
# This file has no IPv4-mapped alias: readers turn ::ffff:a.b.c.d into a.b.c.d before the lookup.
country ::ffff:8.8.8.8 -

echo "geoip: $passed passed, $failed failed"
[ "$failed" = 0 ]
