#!/bin/sh
# run.sh [IO_PROBE] - check lib/dns.c and lib/fetch.c against real servers.
#
# Starts a throwaway world (world.sh: unbound with a plain and a signed
# zone, nginx with a test CA, fault servers) inside a private network
# namespace, so nothing can leave loopback, and runs io-probe against it.
# Without IO_PROBE, io-probe is built here from lib/dns.c and lib/fetch.c
# with -fsanitize=address,undefined; any sanitizer report fails the check.
#
# Exit: 0 all passed, 1 a check failed, 77 skipped (no network namespace
# and CI unset).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

if [ -z "${STS_IO_NETNS:-}" ]; then
	if unshare -n true 2>/dev/null; then
		STS_IO_NETNS=1 exec unshare -n sh "$0" "$@"
	fi
	# not root: a user namespace makes us root of our own netns
	if unshare -rn true 2>/dev/null; then
		STS_IO_NETNS=1 exec unshare -rn sh "$0" "$@"
	fi
	if [ "${CI:-}" = true ]; then
		echo "run.sh: cannot create a network namespace (unshare -n)" >&2
		exit 1
	fi
	echo "run.sh: skipped, no network namespace (needs root or user namespaces)"
	exit 77
fi
ip link set lo up || exit 1

for tool in unbound nginx openssl ldns-keygen ldns-signzone drill python3 \
    strace; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "run.sh: $tool missing" >&2
		[ "${CI:-}" = true ] && exit 1
		exit 77
	fi
done

TMP=$(mktemp -d /tmp/sts-io.XXXXXX)
chmod 755 "$TMP" # nginx workers read the policy files
W=$TMP/w
cleanup() {
	sh "$HERE/world.sh" stop "$W" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

if [ $# -ge 1 ]; then
	PROBE=$1
else
	PROBE=$TMP/io-probe
	sh "$HERE/build-probe.sh" "$PROBE" || exit 1
fi

sh "$HERE/world.sh" start "$W" >"$TMP/world.log" 2>&1 || {
	cat "$TMP/world.log"
	exit 1
}

pass=0
fail=0
FWD="--fwd 127.0.0.1@${DNS_PORT:-5353}"
TA="--dnssec --ta $W/secure.example.ds"
CA="--ca $W/ca.pem"
TO=":443::${TLS_PORT:-8443}"

# [TENV="VAR=value ..."] t NAME "PROBE ARGS" [EXPECTED-LINE | ~SUBSTRING | rc=N]...
# (records of one RRset come in any order: check them with ~)
t() {
	name=$1 args=$2
	shift 2
	want_rc=0
	t0=$(date +%s%N)
	# shellcheck disable=SC2086
	env ${TENV:-} "$PROBE" $args >"$TMP/out" 2>&1
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	ok=1
	for e in "$@"; do
		case $e in
		rc=*) want_rc=${e#rc=} ;;
		'~'*) grep -Fq -- "${e#\~}" "$TMP/out" ||
		    { ok=0; echo "  missing: $e"; } ;;
		*) grep -Fxq -- "$e" "$TMP/out" || { ok=0; echo "  missing: $e"; } ;;
		esac
	done
	[ "$rc" = "$want_rc" ] || { ok=0; echo "  exit $rc, want $want_rc"; }
	if grep -Eq 'Sanitizer|runtime error:' "$TMP/out"; then
		ok=0
		echo "  sanitizer report"
	fi
	if [ $ok = 1 ]; then
		pass=$((pass + 1))
		echo "ok   $name ($ms ms)"
	else
		fail=$((fail + 1))
		echo "FAIL $name: io-probe $args"
		sed 's/^/  | /' "$TMP/out"
	fi
}

echo "# DNS"
t "txt one record" "dns txt _mta-sts.ok.example $FWD" \
    status=OK n=1 security=insecure ttl=300 \
    'txt[0]="v=STSv1; id=20240101T000000;" len=28' 'reason=1 TXT record'
t "txt strings joined without separator" \
    "dns txt _mta-sts.split.example $FWD" \
    status=OK 'txt[0]="v=STSv1; id=split1;" len=19'
t "txt two records" "dns txt _mta-sts.multi.example $FWD" \
    status=OK n=2 '~]="some other record" len=17' '~]="v=STSv1; id=m1;" len=15'
t "txt keeps NUL bytes" "dns txt _mta-sts.nul.example $FWD" \
    status=OK 'txt[0]="v=STSv1;\x00id=x;" len=14'
t "txt 255+45 byte strings" "dns txt _mta-sts.long.example $FWD" \
    status=OK n=1 '~" len=300'
t "txt through CNAME chain" "dns txt _mta-sts.chain.example $FWD" \
    status=OK n=1 'txt[0]="v=STSv1; id=20240101T000000;" len=28'
t "txt NXDOMAIN" "dns txt nonexist.example $FWD" \
    status=ENOTFOUND nxdomain=1 rcode=3 ttl=120 reason=NXDOMAIN
t "txt NODATA" "dns txt nodata.example $FWD" \
    status=ENOTFOUND nxdomain=0 rcode=0 ttl=120 \
    'reason=NODATA (no TXT records)'
t "CNAME to nothing is NXDOMAIN" "dns txt _mta-sts.dangling.example $FWD" \
    status=ENOTFOUND nxdomain=1
t "SERVFAIL" "dns txt foo.net $FWD" \
    status=ETEMP rcode=2 'reason=SERVFAIL from resolver'
t "REFUSED forwarder gives SERVFAIL" \
    "dns txt x.example --fwd 127.0.0.1@${REFUSE_PORT:-5354}" \
    status=ETEMP rcode=2
t "timeout" "dns txt x.example --fwd 127.0.0.1@${HOLE_PORT:-5355} --timeout 700" \
    status=ETEMP rcode=-1 'reason=timed out after 700 ms'
t "mx lower case, no trailing dot" "dns mx ok.example $FWD" \
    status=OK n=2 '~]=20 mx2.ok.example' '~]=10 mail.ok.example'
t "null MX" "dns mx nullmx.example $FWD" status=OK n=1 'mx[0]=0 '
t "A and AAAA" "dns addr mta-sts.ok.example $FWD" \
    status=OK n=2 'addr[0]=ipv6 ::1' 'addr[1]=ipv4 127.0.0.1'
t "A only" "dns addr v4only.example $FWD" \
    status=OK n=1 'addr[0]=ipv4 127.0.0.2'
t "AAAA only" "dns addr v6only.example $FWD" \
    status=OK n=1 'addr[0]=ipv6 ::2'
t "addr NXDOMAIN on both" "dns addr nonexist.example $FWD" \
    status=ENOTFOUND nxdomain=1 'reason=AAAA: NXDOMAIN; A: NXDOMAIN'
t "addr NODATA on both" "dns addr _mta-sts.ok.example $FWD" \
    status=ENOTFOUND nxdomain=0
t "addr SERVFAIL on both" "dns addr foo.net $FWD" status=ETEMP rcode=2
t "addr timeout" "dns addr x.example --fwd 127.0.0.1@${HOLE_PORT:-5355} --timeout 500" \
    status=ETEMP 'reason=AAAA: timed out after 500 ms; A: timed out after 500 ms'
t "tlsa" "dns tlsa mail.ok.example --port 25 $FWD" \
    status=OK n=2 name=_25._tcp.mail.ok.example \
    '~]=3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' \
    '~]=2 0 1 fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210'
t "tlsa none" "dns tlsa mail.ok.example --port 465 $FWD" status=ENOTFOUND
t "dnssec secure" "dns txt _mta-sts.secure.example $FWD $TA" \
    validating=1 status=OK security=secure
t "dnssec secure NXDOMAIN" "dns txt nonexist.secure.example $FWD $TA" \
    status=ENOTFOUND security=secure nxdomain=1 ttl=60
t "dnssec bogus" "dns txt bogus.secure.example $FWD $TA" \
    status=ETEMP security=bogus
t "dnssec outside the anchor is insecure" "dns txt _mta-sts.ok.example $FWD $TA" \
    status=OK security=insecure
t "dnssec off: no validation" "dns txt bogus.secure.example $FWD" \
    validating=0 status=OK security=insecure
t "bad trust anchor file" "dns txt x.example $FWD --dnssec --ta /nonexistent" \
    rc=2 new=EINVAL "diag=cannot read trust anchor file '/nonexistent'"
printf 'garbage\n' >"$TMP/bad.ta"
t "unparsable trust anchor file" "dns txt x.example $FWD --dnssec --ta $TMP/bad.ta" \
    rc=2 new=EINVAL
t "bad forwarder" "dns txt x.example --fwd 127.0.0.1@99999" rc=2 new=EINVAL
t "bad name" "dns txt a..b $FWD" rc=2 start=EINVAL
t "cancel: no callback" "dns txt _mta-sts.ok.example $FWD --cancel --repeat 5" \
    callbacks=0
t "cancel after a synchronous answer (/etc/hosts)" \
    "dns addr localhost --cancel --repeat 3" callbacks=0
t "synchronous answer delivered later (/etc/hosts)" "dns addr localhost" \
    status=OK 'addr[1]=ipv4 127.0.0.1' callbacks=1
t "free with queries outstanding" "dns txt x.example --fwd 127.0.0.1@${HOLE_PORT:-5355} --free-early --repeat 5" \
    callbacks=0
t "free inside a callback" "dns addr mta-sts.ok.example $FWD --free-in-cb --repeat 5" \
    callbacks=1
t "200 concurrent queries" "dns txt _mta-sts.ok.example $FWD --repeat 200" \
    callbacks=200

echo "# HTTPS"
f() {
	name=$1 dom=$2
	shift 2
	t "$name" "fetch $dom 127.0.0.1 $CA --connect-to $TO" "$@"
}
f "200 text/plain" ok.example status=OK tlsrpt=- http=200 ctype=text/plain \
    address=127.0.0.1 port=${TLS_PORT:-8443} tls=TLSv1.3 body_len=68 \
    url=https://mta-sts.ok.example/.well-known/mta-sts.txt
f "charset parameter" charset.example status=OK \
    'ctype=text/plain; charset=utf-8'
f "media type case and spaces" upper.example status=OK
f "text/html" html.example status=EPROTO tlsrpt=sts-policy-fetch-error \
    'reason=media type text/html, need text/plain (RFC 8461 §3.2)'
f "no Content-Type" notype.example status=EPROTO \
    'reason=no Content-Type, need text/plain (RFC 8461 §3.2)'
f "404" notfound.example status=EPROTO http=404 \
    'reason=HTTP status 404, only 200 is a policy (RFC 8461 §3.3)'
f "301 not followed" redirect.example status=EPROTO http=301 \
    'reason=redirect 301 to https://mta-sts.elsewhere.example/.well-known/mta-sts.txt, not followed (RFC 8461 §3.3)'
f "503 is temporary" unavail.example status=ETEMP http=503
f ">64 KiB with Content-Length" big.example status=ETOOBIG \
    'reason=body exceeds 65536 bytes (RFC 8461 §3.3)'
f "exactly 64 KiB" exact.example status=OK body_len=65536
f "empty body" empty.example status=OK body_len=0
f ">64 KiB without Content-Length (HTTP/2)" chunked.example status=ETOOBIG
t ">64 KiB chunked (HTTP/1.1)" \
    "fetch chunked.example 127.0.0.1 $CA --connect-to :443::${H1_PORT:-8444}" \
    status=ETOOBIG port=${H1_PORT:-8444}
t "exactly 64 KiB chunked (HTTP/1.1)" \
    "fetch chunkexact.example 127.0.0.1 $CA --connect-to :443::${H1_PORT:-8444}" \
    status=OK body_len=65536
f "certificate for another name" wrongname.example status=ETLS \
    tlsrpt=sts-webpki-invalid \
    'reason=certificate is for mta-sts.other.example, not valid for mta-sts.wrongname.example'
f "expired certificate" expired.example status=ETLS 'reason=certificate expired'
f "unknown CA" unknownca.example status=ETLS \
    'reason=certificate not signed by a trusted CA (self-signed certificate in certificate chain)'
f "CN only, no DNS-ID (RFC 8461 §3.3)" cnonly.example status=ETLS
f "partial wildcard refused" partial.example status=ETLS
f "wildcard as the leftmost label" wild.example status=OK
f "wildcard covers one label only" x.wild.example status=ETLS
t "system CA store does not know the test CA" \
    "fetch ok.example 127.0.0.1 --connect-to $TO" status=ETLS
t "connection refused" \
    "fetch ok.example 127.0.0.9 $CA --connect-to :443::${CLOSED_PORT:-8446}" \
    status=ETEMP "reason=connection to 127.0.0.9:${CLOSED_PORT:-8446} refused"
t "port 443 without connect_to" "fetch ok.example 127.0.0.1 $CA" \
    status=ETEMP 'reason=connection to 127.0.0.1:443 refused'
t "second address after a refused one" \
    "fetch ok.example 127.0.0.9 127.0.0.1 $CA --connect-to $TO" \
    status=OK address=127.0.0.1
t "IPv6" "fetch ok.example ::1 $CA --connect-to $TO --body" status=OK \
    address=::1 \
    'body="version: STSv1\x0d\x0amode: enforce\x0d\x0amx: mail.ok.example\x0d\x0amax_age: 86400\x0d\x0a"'
t "connect_to naming the host and address" \
    "fetch ok.example 127.0.0.9 $CA --connect-to mta-sts.ok.example:443:127.0.0.1:${TLS_PORT:-8443}" \
    status=OK address=127.0.0.1
t "TLS handshake timeout" \
    "fetch ok.example 127.0.0.1 $CA --connect-to :443::${TCPHOLE_PORT:-8445} --timeout 700" \
    status=ETEMP 'reason=timed out after 700 ms'
t "body timeout" "fetch slow.example 127.0.0.1 $CA --connect-to $TO --timeout 1000" \
    status=ETEMP http=200 'reason=timed out after 1000 ms'
: >"$TMP/empty.cnf"
TENV="OPENSSL_CONF=$TMP/empty.cnf" t "TLS 1.1 refused (not by openssl.cnf)" \
    "fetch ok.example 127.0.0.1 $CA --connect-to :443::${OLDTLS_PORT:-8448}" \
    status=ETEMP '~reason=TLS handshake failed:' '~protocol version'
t "bad domain" "fetch bad/domain 127.0.0.1 $CA" rc=2 start=EINVAL
t "no address" "fetch ok.example $CA" rc=2 start=EINVAL
t "bad connect_to" "fetch ok.example 127.0.0.1 --connect-to nonsense" \
    rc=2 new=EINVAL
t "cancel: no callback" "fetch ok.example 127.0.0.1 $CA --connect-to $TO --cancel --repeat 5" \
    callbacks=0
t "free with fetches outstanding" \
    "fetch ok.example 127.0.0.1 $CA --connect-to $TO --free-early --repeat 5" \
    callbacks=0
t "free inside a callback" \
    "fetch ok.example 127.0.0.1 $CA --connect-to $TO --free-in-cb --repeat 5" \
    callbacks=1
t "100 concurrent fetches" \
    "fetch ok.example 127.0.0.1 $CA --connect-to $TO --repeat 100" callbacks=100

echo "# proxy from the environment"
t0=$(date +%s%N)
https_proxy=http://127.0.0.1:${PROXY_PORT:-8447} "$PROBE" fetch ok.example \
    $CA >"$TMP/out" 2>&1
rc=$?
if [ $rc = 0 ] && grep -Fxq status=OK "$TMP/out" &&
    grep -Fxq "port=${PROXY_PORT:-8447}" "$TMP/out" &&
    grep -Fxq "CONNECT mta-sts.ok.example:443 HTTP/1.1" "$W/proxy.log" &&
    ! grep -Eq 'Sanitizer|runtime error:' "$TMP/out"; then
	pass=$((pass + 1))
	echo "ok   https_proxy honoured, no address needed ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
else
	fail=$((fail + 1))
	echo "FAIL https_proxy: rc=$rc"
	sed 's/^/  | /' "$TMP/out" "$W/proxy.log"
fi

echo "# CA store loaded once per context"
# (LeakSanitizer cannot run under ptrace)
ASAN_OPTIONS=detect_leaks=0 strace -f -e trace=openat -o "$TMP/strace" \
    "$PROBE" fetch ok.example 127.0.0.1 $CA --connect-to $TO --repeat 50 \
    >"$TMP/out" 2>&1
n_ok=$(grep -c '^status=OK' "$TMP/out")
n_open=$(grep -c "$W/ca.pem" "$TMP/strace")
if [ "$n_ok" = 50 ] && [ "$n_open" = 1 ]; then
	pass=$((pass + 1))
	echo "ok   50 fetches opened the CA file once"
else
	fail=$((fail + 1))
	echo "FAIL 50 fetches: $n_ok OK, CA file opened $n_open times"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
