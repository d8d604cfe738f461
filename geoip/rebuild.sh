#!/usr/bin/env bash
# Rebuilds the two databases in geoip/ from one version of the ip-location-db npm packages:
#   geoip/geo-whois-asn-country.mmdb  copied as published from @ip-location-db/geo-whois-asn-country-mmdb
#   geoip/asn.mmdb                    built from the CSV files of @ip-location-db/asn by
#                                     examples/geoip_build.rs (which reads the result back with the
#                                     maxminddb crate and checks every range against the CSV)
# then checks both with mmdblookup, prints their build dates, and rewrites geoip/SHA256SUMS.
#
# Usage: geoip/rebuild.sh [VERSION]      (default: PINNED_VERSION below)
# Needs: npm, tar, cargo, sha256sum, mmdblookup (Debian: apt-get install -y mmdb-bin).
#
# The ASN file's build epoch is derived from VERSION (its YYYYMMDDHH part, UTC), so rebuilding
# the same version gives byte-identical files: `git diff --exit-code geoip/` after a rebuild of
# the pinned version shows nothing. After moving to a new version, update PINNED_VERSION, the
# versions and dates in NOTICE and README.md, and the expected answers in check.sh (take them from
# the new CSV files), then run geoip/check.sh.
set -euo pipefail

PINNED_VERSION=2.3.2026061719
version=${1:-$PINNED_VERSION}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

die() { echo "rebuild.sh: $*" >&2; exit 1; }
for tool in npm tar cargo sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
command -v mmdblookup >/dev/null || die "mmdblookup not found (Debian: apt-get install -y mmdb-bin)"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]{10}$ ]] || die "version '$version' is not MAJOR.MINOR.YYYYMMDDHH"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== npm pack @ip-location-db/*@$version"
(cd "$work" && npm pack --silent \
  "@ip-location-db/asn@$version" \
  "@ip-location-db/geo-whois-asn-country-mmdb@$version" >/dev/null)
mkdir "$work/asn" "$work/country"
tar -xzf "$work/ip-location-db-asn-$version.tgz" -C "$work/asn"
tar -xzf "$work/ip-location-db-geo-whois-asn-country-mmdb-$version.tgz" -C "$work/country"
asn_pkg=$work/asn/package
country_pkg=$work/country/package
for pkg in "$asn_pkg" "$country_pkg"; do
  grep -q "\"version\": \"$version\"" "$pkg/package.json" || die "$pkg/package.json is not version $version"
done

echo "== country database (as published)"
cp "$country_pkg/geo-whois-asn-country.mmdb" "$here/geo-whois-asn-country.mmdb"

echo "== ASN database (CSV -> MMDB)"
(cd "$root" && cargo run --release --quiet --example geoip_build -- \
  --ipv4 "$asn_pkg/asn-ipv4.csv" \
  --ipv6 "$asn_pkg/asn-ipv6.csv" \
  --source-version "$version" \
  --out "$here/asn.mmdb")

echo "== licence texts"
# NOTICE quotes these files verbatim; a change upstream must be carried into it by hand.
for f in "$asn_pkg"/DBIP-LICENSE "$asn_pkg"/ROUTEVIEWS-LICENSE "$asn_pkg"/NRO_LICENSE \
         "$asn_pkg"/MODIFICATIONS "$country_pkg"/NRO_LICENSE; do
  while IFS= read -r line || [ -n "$line" ]; do
    [ -z "$line" ] || grep -qxF -- "$line" "$here/NOTICE" ||
      die "${f#"$work"/}: line not in geoip/NOTICE (licence text changed?): $line"
  done <"$f"
done
grep -q "$version" "$here/NOTICE" || echo "rebuild.sh: note: geoip/NOTICE does not name version $version yet" >&2
echo "ok: NOTICE quotes the packages' licence files"

echo "== spot checks with mmdblookup"
# Answer of mmdblookup for one field: the value, or "-" when the address has no entry.
field() { # FILE IP FIELD
  mmdblookup --file "$1" --ip "$2" "$3" 2>/dev/null |
    sed -n -e 's/^ *"\(.*\)" <utf8_string>$/\1/p' -e 's/^ *\([0-9][0-9]*\) <uint32>$/\1/p' |
    head -n 1 | grep . || echo -
}
# The asn-ipv4.csv row covering an IPv4 address, as "ASN|ORG" ("-" when none).
csv_row() { # IP
  awk -F, -v ip="$1" '
    function num(a,  p) { split(a, p, "."); return ((p[1] * 256 + p[2]) * 256 + p[3]) * 256 + p[4] }
    BEGIN { x = num(ip); found = 0 }
    num($1) <= x && x <= num($2) {
      org = substr($0, length($1) + length($2) + length($3) + 4)
      if (org ~ /^".*"$/) { org = substr(org, 2, length(org) - 2); gsub(/""/, "\"", org) }
      print $3 "|" org; found = 1; exit
    }
    END { if (!found) print "-" }' "$asn_pkg/asn-ipv4.csv"
}
bad=0
for ip in 8.8.8.8 1.1.1.1 9.9.9.9 193.0.14.129 10.0.0.1; do
  want=$(csv_row "$ip")
  for query in "$ip" "::ffff:$ip"; do
    num=$(field "$here/asn.mmdb" "$query" autonomous_system_number)
    org=$(field "$here/asn.mmdb" "$query" autonomous_system_organization)
    got="$num|$org"; [ "$got" = "-|-" ] && got=-
    if [ "$got" = "$want" ]; then verdict=ok; else verdict="MISMATCH (csv: $want)"; bad=1; fi
    printf '  %-20s asn %-8s %-40s country %-3s %s\n' "$query" "$num" "$org" \
      "$(field "$here/geo-whois-asn-country.mmdb" "$query" country_code)" "$verdict"
  done
done
for ip in 2001:4860:4860::8888 2606:4700:4700::1111 2001:7fd::1; do
  printf '  %-20s asn %-8s %-40s country %-3s\n' "$ip" \
    "$(field "$here/asn.mmdb" "$ip" autonomous_system_number)" \
    "$(field "$here/asn.mmdb" "$ip" autonomous_system_organization)" \
    "$(field "$here/geo-whois-asn-country.mmdb" "$ip" country_code)"
done
[ "$bad" = 0 ] || die "mmdblookup answers differ from asn-ipv4.csv"

echo "== build dates"
for f in geo-whois-asn-country.mmdb asn.mmdb; do
  meta=$(mmdblookup --file "$here/$f" --ip 0.0.0.0 --verbose 2>/dev/null || true)
  printf '  %-28s %9s bytes  %s  type: %s\n' "$f" "$(stat -c %s "$here/$f")" \
    "$(sed -n 's/^ *Build epoch: *//p' <<<"$meta")" "$(sed -n 's/^ *Type: *//p' <<<"$meta")"
done

(cd "$here" && sha256sum geo-whois-asn-country.mmdb asn.mmdb >SHA256SUMS)
echo "== SHA256SUMS"
cat "$here/SHA256SUMS"

echo "== check.sh"
if ! bash "$here/check.sh"; then
  [ "$version" = "$PINNED_VERSION" ] ||
    echo "rebuild.sh: check.sh holds the answers of $PINNED_VERSION; update them from the $version CSV files" >&2
  exit 1
fi
