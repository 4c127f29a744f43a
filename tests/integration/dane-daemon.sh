#!/bin/sh
# DANE precedence in mta-stsd (RFC 8461 §2, RFC 7672): DNSSEC-signed test
# zones, validated by libunbound with the test zone's trust anchor.
# usage: dane-daemon.sh MTA-STSD MTA-STS SOURCE-DIR
set -eu
MTA_STSD=$1 MTA_STS=$2 SRC=$3
for tool in unbound nginx openssl python3 ldns-signzone cc; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "missing $tool"
		[ "${CI:-}" = true ] && exit 1
		exit 77
	fi
done

W=$(mktemp -d /tmp/mtasts-dane.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	"$SRC/tests/world/world.sh" stop "$W/world" >/dev/null 2>&1
	rm -rf "$W"
}
trap cleanup EXIT INT TERM
"$SRC/tests/world/world.sh" start "$W/world" >"$W/world.log" 2>&1 ||
	{ cat "$W/world.log"; exit 1; }
. "$W/world/env"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cat >"$W/d.yml" <<YML
port: $port
cache: {type: sqlite, options: {filename: $W/cache.db}}
dnssec: validate
trust_anchor_file: $WORLD_TA
resolver: ["$WORLD_DNS"]
ca_file: $WORLD_CA
connect_to: ["$WORLD_CONNECT_TO"]
default_zone: {timeout: 5}
zones:
  opportunistic: {dane: dane, timeout: 5}
  nodane: {dane: "off", timeout: 5}
  lenient: {dane_failure: notfound, timeout: 5}
YML
"$MTA_STSD" -c "$W/d.yml" -v debug >"$W/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 50); do
	"$MTA_STS" query --socket "inet:127.0.0.1:$port" x.invalid >/dev/null 2>&1 && break
	[ $? -eq 1 ] && break
	sleep 0.1
done

fails=0
# expect MAP DOMAIN REPLY-PREFIX WHY
expect() {
	got=$("$MTA_STS" query --socket "inet:127.0.0.1:$port" --map "$1" "$2" || true)
	case $got in
	"$3"*) echo "ok   $1 $2: $4" ;;
	*) echo "FAIL $1 $2: $4: got '$got', want '$3...'"; fails=$((fails + 1)) ;;
	esac
}

# D1: secure MX + secure TLSA: DANE, whatever MTA-STS says
expect postfix dane-ok.example "OK dane-only" "DANE applies over an enforce policy"
expect postfix dane-mismatch.example "OK dane-only" "mismatching TLSA still means DANE (Postfix then defers)"
expect postfix dane-implicit.example "OK dane-only" "implicit MX (RFC 5321 §5.1) with TLSA"
expect opportunistic dane-ok.example "OK dane" "zone dane: dane gives opportunistic DANE"
expect nodane dane-ok.example "OK secure match=mx1.dane-ok.example" "zone dane: off answers MTA-STS"
# D2: signed without TLSA, or unsigned with TLSA: MTA-STS as before
expect postfix dane-notlsa.example "OK secure match=mx1.dane-notlsa.example servername=hostname" "signed, no TLSA: MTA-STS"
expect postfix dane-unsigned.example "OK secure match=mx1.dane-unsigned.example servername=hostname" "unsigned zone: TLSA ignored, MTA-STS"
expect postfix lf.example "OK secure match=mx1.lf.example servername=hostname" "ordinary MTA-STS domain"
# D4: bogus, expired signatures, TLSA SERVFAIL: TEMP, never MTA-STS
expect postfix dane-bogus.example "TEMP " "bogus MX: TEMP"
expect postfix dane-expired.example "TEMP " "expired signatures: TEMP"
expect postfix dane-tlsafail.example "TEMP " "TLSA SERVFAIL on a signed zone: TEMP"
expect lenient dane-bogus.example "NOTFOUND " "dane_failure: notfound"
# D6: null MX
expect postfix dane-nullmx.example "NOTFOUND " "null MX: no DANE, no policy"

# Cached: the same answers again, from memory.
expect postfix dane-ok.example "OK dane-only" "cached DANE state"
expect postfix dane-bogus.example "TEMP " "cached DANE failure"

# The decision log line names the DANE state.
if grep -q "dane domain=dane-ok.example state=applies" "$W/daemon.log" &&
    grep -q "dane domain=dane-bogus.example state=failed" "$W/daemon.log"; then
	echo "ok   log lines carry the DANE state"
else
	echo "FAIL log lines"; fails=$((fails + 1))
fi

# mta-sts fetch shows the DANE state beside the policy.
"$MTA_STS" fetch --json --resolver "$WORLD_DNS" --trust-anchor "$WORLD_TA" \
    --ca-file "$WORLD_CA" --connect-to "$WORLD_CONNECT_TO" dane-ok.example \
    dane-unsigned.example >"$W/fetch.json" || true
if [ "$(jq -r 'select(.domain=="dane-ok.example") | .dane.state + " " + .postfix' "$W/fetch.json")" = "applies OK dane-only" ] &&
    [ "$(jq -r 'select(.domain=="dane-unsigned.example") | .dane.state + " " + .dane.mx_dnssec' "$W/fetch.json")" = "none insecure" ]; then
	echo "ok   fetch shows the DANE state"
else
	echo "FAIL fetch DANE output"; cat "$W/fetch.json"; fails=$((fails + 1))
fi

kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$W/daemon.log"; then
	echo "FAIL sanitizer report"; cat "$W/daemon.log"; fails=$((fails + 1))
fi
[ "$fails" -eq 0 ]
