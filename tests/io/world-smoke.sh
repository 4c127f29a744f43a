#!/bin/sh
# world-smoke.sh [IO_PROBE] - io-probe against the project's shared test
# world (tests/world/world.sh): the same adapters, someone else's servers,
# plus the faults only that world has (TCP reset after TLS, stalled body).
# Without IO_PROBE, io-probe is built with ASan+UBSan as in run.sh.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
WORLD=$TOP/tests/world/world.sh
[ -x "$WORLD" ] || [ -f "$WORLD" ] || { echo "no $WORLD"; exit 77; }

TMP=$(mktemp -d /tmp/sts-io-world.XXXXXX)
cleanup() {
	bash "$WORLD" stop "$TMP/w" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

if [ $# -ge 1 ]; then
	PROBE=$1
else
	PROBE=$TMP/io-probe
	sh "$HERE/build-probe.sh" "$PROBE" || exit 1
fi

bash "$WORLD" start "$TMP/w" >"$TMP/world.log" 2>&1 || {
	cat "$TMP/world.log"
	exit 1
}
# shellcheck disable=SC1091
. "$TMP/w/env"

pass=0
fail=0
t() {
	name=$1 args=$2
	shift 2
	# shellcheck disable=SC2086
	"$PROBE" $args >"$TMP/out" 2>&1
	ok=1
	for e in "$@"; do
		case $e in
		'~'*) grep -Fq -- "${e#\~}" "$TMP/out" ||
		    { ok=0; echo "  missing: $e"; } ;;
		*) grep -Fxq -- "$e" "$TMP/out" ||
		    { ok=0; echo "  missing: $e"; } ;;
		esac
	done
	grep -Eq 'Sanitizer|runtime error:' "$TMP/out" && ok=0
	if [ $ok = 1 ]; then
		pass=$((pass + 1))
		echo "ok   $name"
	else
		fail=$((fail + 1))
		echo "FAIL $name: io-probe $args"
		sed 's/^/  | /' "$TMP/out"
	fi
}

F="--fwd $WORLD_DNS"
t "split TXT" "dns txt _mta-sts.split.example $F" status=OK \
    'txt[0]="v=STSv1; id=split2026" len=21'
t "CNAME delegation" "dns txt _mta-sts.cname.example $F" status=OK \
    '~id=lf2026'
t "two STS records" "dns txt _mta-sts.twosts.example $F" status=OK n=2
t "NXDOMAIN" "dns txt _mta-sts.notxt.example $F" status=ENOTFOUND nxdomain=1
t "NODATA" "dns txt _mta-sts.nodata.example $F" status=ENOTFOUND nxdomain=0
t "SERVFAIL" "dns txt _mta-sts.servfail.example $F" status=ETEMP rcode=2
t "dropped query: our deadline" \
    "dns txt _mta-sts.dnstimeout.example $F --timeout 1500" \
    status=ETEMP 'reason=timed out after 1500 ms'
t "black hole forwarder" "dns txt x.example --fwd $WORLD_DNS_BLACKHOLE --timeout 800" \
    status=ETEMP 'reason=timed out after 800 ms'
t "IPv6 forwarder" "dns mx lf.example --fwd $WORLD_DNS6" status=OK \
    'mx[0]=10 mx1.lf.example'
t "AAAA only" "dns addr mta-sts.v6only.example $F" status=OK n=1 \
    'addr[0]=ipv6 ::1'
t "policy host without address" "dns addr mta-sts.noaddr.example $F" \
    status=ENOTFOUND nxdomain=1

C="--ca $WORLD_CA --connect-to $WORLD_CONNECT_TO"
t "200" "fetch lf.example 127.0.0.1 $C" status=OK http=200
t "charset" "fetch charset.example 127.0.0.1 $C" status=OK
t "404" "fetch 404.example 127.0.0.1 $C" status=EPROTO http=404
t "301" "fetch redirect.example 127.0.0.1 $C" status=EPROTO \
    'reason=redirect 301 to https://mta-sts.lf.example/.well-known/mta-sts.txt, not followed (RFC 8461 §3.3)'
t "text/html" "fetch html.example 127.0.0.1 $C" status=EPROTO
t "1 MiB with Content-Length" "fetch big.example 127.0.0.1 $C" status=ETOOBIG
t "1 MiB chunked" "fetch chunked.example $WORLD_FAULT_ADDR $C" status=ETOOBIG
t "stalled body" "fetch stall.example $WORLD_FAULT_ADDR $C --timeout 1500" \
    status=ETEMP 'reason=timed out after 1500 ms'
t "reset after TLS" "fetch reset.example $WORLD_FAULT_ADDR $C" status=ETEMP \
    tlsrpt=sts-policy-fetch-error \
    "~reason=connection to $WORLD_FAULT_ADDR:$WORLD_HTTPS_PORT broken: "
t "wrong name" "fetch wrongname.example 127.0.0.1 $C" status=ETLS \
    'reason=certificate is for mta-sts.other.example, not valid for mta-sts.wrongname.example'
t "expired" "fetch expired.example 127.0.0.1 $C" status=ETLS \
    'reason=certificate expired'
t "unknown CA" "fetch unknownca.example 127.0.0.1 $C" status=ETLS \
    '~reason=certificate not signed by a trusted CA'
t "refused" "fetch refused.example $WORLD_REFUSED_ADDR $C" status=ETEMP \
    "reason=connection to $WORLD_REFUSED_ADDR:$WORLD_HTTPS_PORT refused"
t "IPv6" "fetch v6only.example ::1 $C" status=OK address=::1

echo "$pass passed, $fail failed"
[ $fail = 0 ]
