#!/bin/bash
# daemon-world.sh - mta-stsd against the test world (tests/world): the exact
# socketmap reply for every world domain, zones, key forms, framing and
# connection limits, metrics.
#
#   daemon-world.sh MTA_STSD MTA_STS SRCDIR     (meson passes these)
#
# Exit 0 pass, 1 fail, 77 skip (a tool is missing and CI is not "true").
. "$(dirname "$0")/daemon-lib.sh" "$@"

need unbound unbound
need nginx nginx-light
need openssl openssl
need drill ldnsutils
need python3 python3
need curl curl

start_world
say "world up: dns $WORLD_DNS, https port $WORLD_HTTPS_PORT"

PORT=$(free_port)
MPORT=$(free_port)
TIMEOUT=2 # default_zone.timeout: stall.example must be answered by then
{
    world_config "$PORT" "$T_DIR/cache.db"
    cat <<EOF
postfix_version: "3.10.0"
default_zone: {timeout: $TIMEOUT}
zones:
  strict: {strict_testing: true, timeout: $TIMEOUT}
  nosni: {require_sni: false, timeout: $TIMEOUT}
  rpt: {tlsrpt: true, timeout: $TIMEOUT}
metrics: {enabled: true, port: $MPORT}
EOF
} >"$T_DIR/main.yml"
start_daemon main "$T_DIR/main.yml"
ok "daemon up on 127.0.0.1:$PORT, metrics on $MPORT"

m() { metric "$MPORT" "$1"; }
expect_metric() { # NAME{LABELS} VALUE
    local v
    v=$(m "$1")
    [ "$v" = "$2" ] || fail "metric $1: expected $2, got '$v'"
}
snap() { # NAME{LABELS} -> value, 0 when absent
    local v
    v=$(m "$1")
    echo "${v:-0}"
}

# ---------------------------------------------------------------------------
# Metrics from a fresh daemon, exactly.
S_LF="OK secure match=mx1.lf.example servername=hostname"
expect_reply postfix lf.example "$S_LF"  # miss, fetch
expect_reply postfix lf.example "$S_LF"  # cache hit
expect_reply postfix testing.example "NOTFOUND " # miss, fetch, testing
expect_reply postfix .lf.example "NOTFOUND "     # bad key, no lookup
expect_metric 'mtasts_lookups_total{reply="secure"}' 2
expect_metric 'mtasts_lookups_total{reply="notfound"}' 2
expect_metric 'mtasts_lookups_total{reply="temp"}' 0
expect_metric 'mtasts_bad_keys_total' 1
expect_metric 'mtasts_cache_hits_total' 1
expect_metric 'mtasts_cache_misses_total' 2
expect_metric 'mtasts_fetches_total{outcome="ok"}' 2
expect_metric 'mtasts_lookup_seconds_count' 4
ok "metrics count lookups by reply, cache hits and misses, fetches"

# ---------------------------------------------------------------------------
# Every world domain (tests/world/README.md), first from a cold cache.
# domain | exact reply | what the daemon's discovery counts
# (ok, no-txt, txt-tempfail, fetch-error, policy-invalid, webpki-invalid,
# timeout = answered at the zone timeout, cached = no new discovery).
WORLD_TABLE="
lf.example|$S_LF|cached
crlf.example|OK secure match=mx1.crlf.example servername=hostname|ok
wildcard.example|OK secure match=.wildcard.example servername=hostname|ok
testing.example|NOTFOUND |cached
none.example|NOTFOUND |ok
split.example|OK secure match=mx1.split.example servername=hostname|ok
twosts.example|NOTFOUND |no-txt
mixed.example|OK secure match=mx1.mixed.example servername=hostname|ok
notxt.example|NOTFOUND |no-txt
nodata.example|NOTFOUND |no-txt
404.example|NOTFOUND |fetch-error
redirect.example|NOTFOUND |fetch-error
html.example|NOTFOUND |fetch-error
charset.example|OK secure match=mx1.charset.example servername=hostname|ok
big.example|NOTFOUND |fetch-error
chunked.example|NOTFOUND |fetch-error
stall.example|NOTFOUND |timeout
reset.example|NOTFOUND |fetch-error
wrongname.example|NOTFOUND |webpki-invalid
expired.example|NOTFOUND |webpki-invalid
unknownca.example|NOTFOUND |webpki-invalid
refused.example|NOTFOUND |fetch-error
noaddr.example|NOTFOUND |fetch-error
servfail.example|NOTFOUND |txt-tempfail
v6only.example|OK secure match=mx1.v6only.example servername=hostname|ok
xn--bcher-kva.example|OK secure match=mx1.xn--bcher-kva.example servername=hostname|ok
badpolicy.example|NOTFOUND |policy-invalid
cname.example|OK secure match=mx1.cname.example servername=hostname|ok
"
declare -A WANT=()
M_SECURE0=$(snap 'mtasts_lookups_total{reply="secure"}')
M_NOTFOUND0=$(snap 'mtasts_lookups_total{reply="notfound"}')
n_secure=0
n_notfound=0
while IFS='|' read -r dom want kind; do
    [ -n "$dom" ] || continue
    t0=$(now_ms)
    expect_reply postfix "$dom" "$want"
    ms=$(($(now_ms) - t0))
    if [ "$kind" = timeout ]; then
        # answered by the zone timeout, not by curl's 30 s or never
        [ "$ms" -ge $((TIMEOUT * 1000 - 300)) ] && [ "$ms" -le $((TIMEOUT * 1000 + 1500)) ] ||
            fail "$dom answered after $ms ms, expected about ${TIMEOUT}000 ms"
    else
        [ "$ms" -lt 1500 ] || fail "$dom took $ms ms"
    fi
    WANT[$kind]=$((${WANT[$kind]:-0} + 1))
    case $want in
        OK*) n_secure=$((n_secure + 1)) ;;
        *) n_notfound=$((n_notfound + 1)) ;;
    esac
done <<<"$WORLD_TABLE"
ok "every world domain from a cold cache (${#WANT[@]} outcome kinds)"

# The discovery outcomes, by RFC 8460 result type (stall's own fetch is
# still running: it gives up at 30 s).
expect_metric 'mtasts_fetches_total{outcome="ok"}' $((2 + ${WANT[ok]}))
expect_metric 'mtasts_fetches_total{outcome="no-txt"}' "${WANT[no-txt]}"
expect_metric 'mtasts_fetches_total{outcome="txt-tempfail"}' "${WANT[txt-tempfail]}"
expect_metric 'mtasts_fetches_total{outcome="failed",result_type="sts-policy-fetch-error"}' "${WANT[fetch-error]}"
expect_metric 'mtasts_fetches_total{outcome="failed",result_type="sts-policy-invalid"}' "${WANT[policy-invalid]}"
expect_metric 'mtasts_fetches_total{outcome="failed",result_type="sts-webpki-invalid"}' "${WANT[webpki-invalid]}"
expect_metric 'mtasts_lookup_timeouts_total' "${WANT[timeout]}"
expect_metric 'mtasts_lookups_total{reply="secure"}' $((M_SECURE0 + n_secure))
expect_metric 'mtasts_lookups_total{reply="notfound"}' $((M_NOTFOUND0 + n_notfound))
ok "fetch outcomes by result type match the world"

# The same again: now from the cache (positive and negative).
hits0=$(snap mtasts_cache_hits_total)
neg0=$(snap mtasts_cache_negative_hits_total)
while IFS='|' read -r dom want kind; do
    [ -n "$dom" ] || continue
    expect_reply postfix "$dom" "$want"
done <<<"$WORLD_TABLE"
hits=$(($(snap mtasts_cache_hits_total) - hits0))
neg=$(($(snap mtasts_cache_negative_hits_total) - neg0))
# the valid policies (enforce, testing, none) are hits; the failures
# remembered for negative_ttl are negative hits
[ "$hits" = $((${WANT[ok]} + ${WANT[cached]})) ] || fail "second pass: $hits cache hits"
[ "$neg" = $((${WANT[no-txt]} + ${WANT[fetch-error]} + ${WANT[policy-invalid]} + ${WANT[webpki-invalid]})) ] ||
    fail "second pass: $neg negative cache hits"
ok "every world domain again, from the cache ($hits hits, $neg negative hits)"

# IDN: a UTF-8 key is looked up as its A-label.
expect_reply postfix "bücher.example" "OK secure match=mx1.xn--bcher-kva.example servername=hostname"
expect_reply postfix "[bücher.example]:25" "OK secure match=mx1.xn--bcher-kva.example servername=hostname"
expect_reply postfix "BÜCHER.example" "OK secure match=mx1.xn--bcher-kva.example servername=hostname"
ok "UTF-8 keys become A-labels"

# ---------------------------------------------------------------------------
# Zones: the socketmap name selects one.
expect_reply strict testing.example "OK secure match=mx1.testing.example servername=hostname"
expect_reply strict lf.example "$S_LF"
expect_reply strict none.example "NOTFOUND "
expect_reply strict notxt.example "NOTFOUND "
expect_reply postfix testing.example "NOTFOUND "
expect_reply unknownzone testing.example "NOTFOUND "
expect_reply unknownzone lf.example "$S_LF"
ok "strict_testing zone enforces testing policies, other zones do not"

expect_reply nosni lf.example "OK secure match=mx1.lf.example"
expect_reply nosni wildcard.example "OK secure match=.wildcard.example"
expect_reply nosni testing.example "NOTFOUND "
ok "require_sni false drops servername=hostname"

expect_reply rpt lf.example "OK secure match=mx1.lf.example servername=hostname policy_type=sts policy_domain=lf.example mx_host_pattern=mx1.lf.example { policy_string = mx: mx1.lf.example } { policy_string = version: STSv1 } { policy_string = mode: enforce } { policy_string = max_age: 86400 }"
# CRLF line ends must not leak a CR into the attributes
expect_reply rpt crlf.example "OK secure match=mx1.crlf.example servername=hostname policy_type=sts policy_domain=crlf.example mx_host_pattern=mx1.crlf.example { policy_string = mx: mx1.crlf.example } { policy_string = version: STSv1 } { policy_string = mode: enforce } { policy_string = max_age: 86400 }"
expect_reply rpt wildcard.example "OK secure match=.wildcard.example servername=hostname policy_type=sts policy_domain=wildcard.example mx_host_pattern=*.wildcard.example { policy_string = mx: *.wildcard.example } { policy_string = version: STSv1 } { policy_string = mode: enforce } { policy_string = max_age: 86400 }"
expect_reply rpt "[Bücher.Example]:25" "OK secure match=mx1.xn--bcher-kva.example servername=hostname policy_type=sts policy_domain=xn--bcher-kva.example mx_host_pattern=mx1.xn--bcher-kva.example { policy_string = mx: mx1.xn--bcher-kva.example } { policy_string = version: STSv1 } { policy_string = mode: enforce } { policy_string = max_age: 86400 }"
expect_reply rpt testing.example "NOTFOUND "
expect_reply rpt notxt.example "NOTFOUND "
ok "tlsrpt zone (postfix_version 3.10.0) appends the TLSRPT attributes"

# ---------------------------------------------------------------------------
# Key forms Postfix sends.
for key in "[lf.example]" "[lf.example]:25" "lf.example:25" "[lf.example]:587" \
    "LF.EXAMPLE." "Lf.Example" "lf.example." " lf.example "; do
    expect_reply postfix "$key" "$S_LF"
done
for key in ".lf.example" ".example" "[127.0.0.1]" "[127.0.0.1]:25" \
    "127.0.0.1" "[ipv6:::1]" "[::1]:25" "[ipv6:2001:db8::1]:25" "" \
    "[lf.example" "lf..example" "25"; do
    expect_reply postfix "$key" "NOTFOUND "
done
ok "key forms: [host], [host]:port, host:port, case, trailing dot; parent probes and IP literals NOTFOUND"

# ---------------------------------------------------------------------------
# Framing (raw sockets).
ADDR=127.0.0.1:$PORT
sm() { python3 "$SOCKMAP" "$@" 2>&1; }
expect_lines() { # WHAT EXPECTED GOT
    [ "$2" = "$3" ] || fail "$1: expected
$2
got
$3"
}

got=$(sm pipeline "$ADDR" postfix lf.example testing.example .lf.example \
    wildcard.example "[lf.example]:25" notxt.example bücher.example 404.example)
expect_lines "pipelined requests in one write" "$S_LF
NOTFOUND 
NOTFOUND 
OK secure match=.wildcard.example servername=hostname
$S_LF
NOTFOUND 
OK secure match=mx1.xn--bcher-kva.example servername=hostname
NOTFOUND " "$got"
# uncached: a pipeline behind a lookup that has to wait for the network
got=$(sm pipeline "$ADDR" postfix mx1.lf.example lf.example mx1.lf.example lf.example)
expect_lines "pipelined requests behind a discovery" "NOTFOUND 
$S_LF
NOTFOUND 
$S_LF" "$got"
ok "pipelined requests are answered in order"

got=$(sm bytewise "$ADDR" postfix lf.example)
expect_lines "request split byte by byte" "$S_LF
$S_LF" "$got"
ok "a request split byte by byte"

got=$(sm size "$ADDR" 10000)
expect_lines "10000-byte request" "A $S_LF
B NOTFOUND 
B $S_LF
A $S_LF
C $S_LF" "$got"
ok "a 10000-byte request is answered"

got=$(sm size "$ADDR" 10001)
expect_lines "10001-byte request" "A $S_LF
B EOF
A $S_LF
C $S_LF" "$got"
ok "a 10001-byte request closes that client only"

for bad in 'abc,' '5:abcdef,' '3:abc;' ':lf.example,' '-1:x,' '17:postfixlf.example,' \
    '01:x,' '99999999999999999999:x,'; do
    got=$(sm malformed "$ADDR" "$bad")
    expect_lines "malformed '$bad'" "A $S_LF
B EOF
A $S_LF
C $S_LF" "$got"
done
ok "malformed netstrings close that client only"

# A half request and a dead peer: the daemon must not hang or crash.
python3 -c "
import socket; s = socket.create_connection(('127.0.0.1', $PORT)); s.sendall(b'100:postfix lf'); s.close()"
python3 -c "
import socket; s = socket.create_connection(('127.0.0.1', $PORT)); s.sendall(b'18:postfix lf.example,'); s.close()"
expect_reply postfix lf.example "$S_LF"
ok "clients that hang up mid-request or before the reply"

# metrics for what the server closed
# (8 malformed, the 10001-byte one; not the two that hung up)
v=$(snap mtasts_connections_malformed_total)
[ "$v" = 9 ] || fail "mtasts_connections_malformed_total is $v, expected 9"
ok "malformed connections counted ($v)"

# ---------------------------------------------------------------------------
# Connection limits: a second daemon with max_connections 3, idle 1 s.
LPORT=$(free_port)
{
    world_config "$LPORT" "$T_DIR/cache-lim.db"
    cat <<EOF
max_connections: 3
idle_timeout: 1
default_zone: {timeout: $TIMEOUT}
EOF
} >"$T_DIR/lim.yml"
start_daemon lim "$T_DIR/lim.yml"
expect_reply postfix lf.example "$S_LF" "inet:127.0.0.1:$LPORT"
got=$(sm maxconn "127.0.0.1:$LPORT" 3)
expect_lines "max_connections 3" "conn1 $S_LF
conn2 $S_LF
conn3 $S_LF
conn4 EOF
conn1 $S_LF
new $S_LF" "$got"
ok "max_connections: one client over the limit is closed, the others keep working"

got=$(sm idle "127.0.0.1:$LPORT" 1)
expect_lines "idle_timeout 1" "lazy $S_LF
busy open
lazy EOF" "$got"
ok "idle_timeout closes an idle client, not a busy one"
stop_daemon lim
ok "second daemon stopped cleanly"

# ---------------------------------------------------------------------------
# Last, as it poisons libunbound's view of the forwarder for a while (see
# tests/world/README.md): a TXT query that is never answered.
t0=$(now_ms)
expect_reply postfix dnstimeout.example "NOTFOUND "
ms=$(($(now_ms) - t0))
[ "$ms" -le $((TIMEOUT * 1000 + 1500)) ] || fail "dnstimeout.example answered after $ms ms"
ok "dnstimeout.example: NOTFOUND at the zone timeout ($ms ms)"

daemon_running main || fail "daemon died"
stop_daemon main
ok "daemon stopped cleanly on SIGTERM"
pass
