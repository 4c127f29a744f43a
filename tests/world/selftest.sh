#!/bin/bash
# Proves the test world itself, at the protocol level, with drill and curl
# only (none of our C code): starts a world, checks every test domain of
# README.md, prints one line per case, stops the world and checks that no
# process is left.  Exit 0 only if every case passed.
#
#   tests/world/selftest.sh        (about 20 s: the DNS timeout cases wait)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PATH=$PATH:/usr/sbin:/sbin
for b in drill:ldnsutils curl:curl openssl:openssl pgrep:procps; do
    command -v "${b%%:*}" >/dev/null 2>&1 ||
        { echo "selftest: '${b%%:*}' not found: apt-get install -y ${b#*:}" >&2; exit 1; }
done

T=$(mktemp -d /tmp/mta-sts-selftest.XXXXXX)
W=$T/world
cleanup() {
    local j
    for j in $(jobs -p); do # background DNS-silence probes, if interrupted
        pkill -P "$j" 2>/dev/null || true
        kill "$j" 2>/dev/null || true
    done
    "$HERE/world.sh" stop "$W" || true
    rm -rf "$T"
}
trap cleanup EXIT
trap "exit 130" INT TERM
# DANE cases: a validating libunbound client (WORLD_TA as its only anchor)
PROBE_ERR=$(cc -std=c17 -O1 -o "$T/daneprobe" "$HERE/daneprobe.c" -lunbound 2>&1) ||
    PROBE_ERR="cannot build daneprobe (cc, libunbound-dev): $PROBE_ERR"
"$HERE/world.sh" start "$W" >/dev/null
# shellcheck disable=SC1091
. "$W/env"

PASS=0 FAIL=0 MSG=""

# ---------------------------------------------------------------- helpers
# q NAME TYPE [SERVER]: first line the rcode, then one "TYPE RDATA" line per
# answer record (as drill prints them, tabs turned into spaces).
q() {
    drill -p "$WORLD_DNS_PORT" "@${3:-$WORLD_DNS_ADDR}" "$1" "$2" 2>&1 | awk '
        /->>HEADER<<-/ { for (i = 1; i <= NF; i++) if ($i == "rcode:") {
                             r = $(i + 1); sub(",", "", r); print r } }
        /^;; ANSWER SECTION:/ { a = 1; next }
        a && /^$/ { a = 0 }
        a && !/^;/ { sub(/^[^\t]*\t+[^\t]*\t+[^\t]*\t+/, ""); gsub(/\t/, " ");
                     print }'
}
rcode() { q "$@" | head -n 1; }
answers() { q "$@" | tail -n +2; }

# first address of HOST in the world DNS, as curl's --connect-to wants it
addr_of() {
    local a
    a=$(answers "$1" A | awk '$1 == "A" { print $2; exit }')
    [ -n "$a" ] || a=$(answers "$1" AAAA | awk '$1 == "AAAA" { print "[" $2 "]"; exit }')
    echo "$a"
}

# fetch HOST [CURL-ARGS...]: GET the policy URL of HOST at the address the
# world DNS gives, port 443 mapped to WORLD_HTTPS_PORT.  Sets CODE, CURLRC,
# ERR; headers in $T/hdr, body in $T/body.
fetch() {
    local host=$1 addr
    shift
    addr=$(addr_of "$host")
    CURLRC=0
    : >"$T/hdr"
    : >"$T/body"
    CODE=$(curl -sS --max-time 10 --cacert "$WORLD_CA" \
        --connect-to "$host:443:${addr:-no.address}:$WORLD_HTTPS_PORT" \
        -D "$T/hdr" -o "$T/body" -w '%{http_code}' "$@" \
        "https://$host/.well-known/mta-sts.txt" 2>"$T/err") || CURLRC=$?
    ERR=$(cat "$T/err")
}
hdr() { # value of response header $1, without the CR
    grep -i "^$1:" "$T/hdr" | head -n 1 | cut -d: -f2- | sed 's/^ *//; s/\r$//'
}
body_has() { grep -qxF -- "$1" <(tr -d '\r' <"$T/body"); }

# server certificate HOST presents (SNI HOST), PEM on stdout
cert_of() {
    openssl s_client -connect "${2:-127.0.0.1}:$WORLD_HTTPS_PORT" \
        -servername "$1" </dev/null 2>/dev/null | openssl x509
}
san_of() { cert_of "$@" | openssl x509 -noout -ext subjectAltName | tail -n +2 | tr -d ' '; }

fail() { MSG=$*; return 1; }

# expect_txt DOMAIN 'TXT "..."' : exactly that one answer
expect_txt() {
    local got
    got=$(answers "_mta-sts.$1" TXT)
    [ "$got" = "$2" ] || fail "_mta-sts.$1 TXT: got [$got], want [$2]"
}

# expect_policy HOST MODE MX MAX_AGE: 200, text/plain, those lines
expect_policy() {
    fetch "$1"
    [ "$CURLRC" = 0 ] || fail "$1: curl exit $CURLRC: $ERR" || return 1
    [ "$CODE" = 200 ] || fail "$1: HTTP $CODE" || return 1
    [ "$(hdr Content-Type)" = text/plain ] ||
        fail "$1: Content-Type $(hdr Content-Type)" || return 1
    if ! { body_has "version: STSv1" && body_has "mode: $2" &&
           body_has "mx: $3" && body_has "max_age: $4"; }; then
        fail "$1: body is $(tr '\r\n' '~|' <"$T/body")"
    fi
}

# the ordinary domain: TXT id, A 127.0.0.1, LF policy
ordinary() { # DOMAIN MODE MX MAX_AGE
    local id=${1%.example}
    id=${id//[^a-z0-9]/}2026
    expect_txt "$1" "TXT \"v=STSv1; id=$id\"" || return 1
    [ "$(addr_of "mta-sts.$1")" = 127.0.0.1 ] || fail "mta-sts.$1 address" || return 1
    expect_policy "mta-sts.$1" "$2" "$3" "$4" || return 1
    ! grep -q $'\r' "$T/body" || fail "CR in body"
}

run() { # NAME FUNCTION [ARGS...]
    local name=$1
    shift
    MSG=""
    if "$@"; then
        PASS=$((PASS + 1))
        printf 'ok   %-28s %s\n' "$name" "${OK:-}"
    else
        FAIL=$((FAIL + 1))
        printf 'FAIL %-28s %s\n' "$name" "$MSG"
    fi
    OK=""
}

# ------------------------------------------------------------------ cases
# The two DNS-silence checks take 15 s each (drill's own give-up time), so
# they run in the background from the start and are collected at the end.
silence() { # OUTFILE SERVER PORT NAME
    local t0 t1
    t0=$(date +%s)
    drill -p "$3" "@$2" "$4" TXT >"$1.out" 2>&1 || true
    t1=$(date +%s)
    echo $((t1 - t0)) >"$1"
}
silence "$T/timeout" 127.0.0.1 "$WORLD_DNS_PORT" _mta-sts.dnstimeout.example &
SIL1=$!
silence "$T/blackhole" 127.0.0.1 "${WORLD_DNS_BLACKHOLE#*@}" _mta-sts.lf.example &
SIL2=$!

c_lf() {
    ordinary lf.example enforce mx1.lf.example 86400 || return 1
    # also the literal WORLD_CONNECT_TO mapping, as a client would use it
    curl -sS --max-time 10 --cacert "$WORLD_CA" --connect-to "$WORLD_CONNECT_TO" \
        --resolve "mta-sts.lf.example:$WORLD_HTTPS_PORT:127.0.0.1" -o /dev/null \
        https://mta-sts.lf.example/.well-known/mta-sts.txt 2>"$T/err" ||
        fail "via WORLD_CONNECT_TO: $(cat "$T/err")" || return 1
    OK="TXT id=lf2026, 200 text/plain, LF lines, enforce"
}
c_crlf() {
    expect_txt crlf.example 'TXT "v=STSv1; id=crlf2026"' || return 1
    expect_policy mta-sts.crlf.example enforce mx1.crlf.example 86400 || return 1
    [ "$(grep -c $'\r$' "$T/body")" = 4 ] && [ "$(wc -l <"$T/body")" = 4 ] ||
        fail "not 4 CRLF lines" || return 1
    OK="all 4 policy lines end in CRLF"
}
c_wildcard() {
    ordinary wildcard.example enforce "*.wildcard.example" 86400 || return 1
    [ "$(answers wildcard.example MX)" = "MX 10 mx1.wildcard.example." ] ||
        fail "MX" || return 1
    OK="mx: *.wildcard.example, MX mx1.wildcard.example"
}
c_testing() { ordinary testing.example testing mx1.testing.example 604800 && OK="mode testing, max_age 604800"; }
c_none() { ordinary none.example none mx1.none.example 86400 && OK="mode none"; }
c_split() {
    expect_txt split.example 'TXT "v=STSv1; " "id=split" "2026"' || return 1
    expect_policy mta-sts.split.example enforce mx1.split.example 86400 &&
        OK="one TXT of 3 strings: \"v=STSv1; \" \"id=split\" \"2026\""
}
c_twosts() {
    local got
    got=$(answers _mta-sts.twosts.example TXT | sort)
    [ "$got" = $'TXT "v=STSv1; id=twosts1"\nTXT "v=STSv1; id=twosts2"' ] ||
        fail "got [$got]" || return 1
    expect_policy mta-sts.twosts.example enforce mx1.twosts.example 86400 &&
        OK="two TXT records both v=STSv1 (policy host exists)"
}
c_mixed() {
    local got
    got=$(answers _mta-sts.mixed.example TXT | sort)
    [ "$got" = $'TXT "v=STSv1; id=mixed2026"\nTXT "v=spf1 -all"' ] ||
        fail "got [$got]" || return 1
    expect_policy mta-sts.mixed.example enforce mx1.mixed.example 86400 &&
        OK="TXT v=spf1 -all beside TXT v=STSv1; id=mixed2026"
}
c_notxt() {
    [ "$(rcode _mta-sts.notxt.example TXT)" = NXDOMAIN ] || fail "rcode not NXDOMAIN" || return 1
    expect_policy mta-sts.notxt.example enforce mx1.notxt.example 86400 &&
        OK="_mta-sts TXT NXDOMAIN, policy host serves a policy"
}
c_nodata() {
    [ "$(rcode _mta-sts.nodata.example TXT)" = NOERROR ] || fail "rcode" || return 1
    [ -z "$(answers _mta-sts.nodata.example TXT)" ] || fail "TXT answer not empty" || return 1
    [ "$(answers _mta-sts.nodata.example A)" = "A 127.0.0.1" ] || fail "A missing" || return 1
    OK="_mta-sts TXT NOERROR with no answer, A exists"
}
c_404() {
    expect_txt 404.example 'TXT "v=STSv1; id=4042026"' || return 1
    fetch mta-sts.404.example
    [ "$CURLRC" = 0 ] && [ "$CODE" = 404 ] || fail "HTTP $CODE curl $CURLRC" || return 1
    OK="HTTP 404"
}
c_redirect() {
    fetch mta-sts.redirect.example
    [ "$CODE" = 301 ] || fail "HTTP $CODE" || return 1
    [ "$(hdr Location)" = https://mta-sts.lf.example/.well-known/mta-sts.txt ] ||
        fail "Location $(hdr Location)" || return 1
    OK="HTTP 301 Location: https://mta-sts.lf.example/.well-known/mta-sts.txt"
}
c_html() {
    fetch mta-sts.html.example
    [ "$CODE" = 200 ] && [ "$(hdr Content-Type)" = text/html ] ||
        fail "HTTP $CODE type $(hdr Content-Type)" || return 1
    body_has "mode: enforce" || fail "body" || return 1
    OK="200, Content-Type: text/html, valid policy body"
}
c_charset() {
    fetch mta-sts.charset.example
    [ "$CODE" = 200 ] && [ "$(hdr Content-Type)" = "text/plain; charset=utf-8" ] ||
        fail "HTTP $CODE type $(hdr Content-Type)" || return 1
    body_has "mx: mx1.charset.example" || fail "body" || return 1
    OK="200, Content-Type: text/plain; charset=utf-8"
}
c_big() {
    fetch mta-sts.big.example
    [ "$CODE" = 200 ] && [ "$(hdr Content-Length)" = 1048576 ] &&
        [ "$(wc -c <"$T/body")" = 1048576 ] ||
        fail "HTTP $CODE length $(hdr Content-Length) got $(wc -c <"$T/body")" || return 1
    body_has "mx: mx1.big.example" || fail "body" || return 1
    OK="200, Content-Length: 1048576, 1 MiB received"
}
c_chunked() {
    [ "$(addr_of mta-sts.chunked.example)" = "$WORLD_FAULT_ADDR" ] || fail "address" || return 1
    fetch mta-sts.chunked.example
    [ "$CURLRC" = 0 ] && [ "$CODE" = 200 ] || fail "HTTP $CODE curl $CURLRC $ERR" || return 1
    [ "$(hdr Transfer-Encoding)" = chunked ] && [ -z "$(hdr Content-Length)" ] ||
        fail "headers: $(tr '\r\n' ' |' <"$T/hdr")" || return 1
    [ "$(wc -c <"$T/body")" = 1048576 ] || fail "size $(wc -c <"$T/body")" || return 1
    OK="200, chunked, no Content-Length, 1 MiB received"
}
c_stall() {
    local t0=$SECONDS
    fetch mta-sts.stall.example --max-time 3
    [ "$CURLRC" = 28 ] || fail "curl exit $CURLRC (want 28, timeout): $ERR" || return 1
    [ "$CODE" = 200 ] && [ -s "$T/body" ] || fail "no headers/partial body" || return 1
    OK="200 headers + $(wc -c <"$T/body") of 1024 bytes, then silence (curl timeout after $((SECONDS - t0)) s)"
}
c_reset() {
    fetch mta-sts.reset.example
    [ "$CURLRC" = 56 ] && grep -q "reset by peer" <<<"$ERR" ||
        fail "curl exit $CURLRC: $ERR" || return 1
    OK="TLS ok, then TCP RST instead of a response (curl 56)"
}
c_wrongname() {
    fetch mta-sts.wrongname.example
    [ "$CURLRC" = 60 ] || fail "curl exit $CURLRC: $ERR" || return 1
    [ "$(san_of mta-sts.wrongname.example)" = DNS:mta-sts.other.example ] ||
        fail "SAN $(san_of mta-sts.wrongname.example)" || return 1
    cert_of mta-sts.wrongname.example >"$T/c.pem"
    openssl verify -CAfile "$WORLD_CA" "$T/c.pem" >/dev/null 2>&1 ||
        fail "chain does not verify" || return 1
    OK="curl 60; chain valid, SAN only DNS:mta-sts.other.example"
}
c_expired() {
    fetch mta-sts.expired.example
    [ "$CURLRC" = 60 ] && grep -q "expired" <<<"$ERR" || fail "curl $CURLRC: $ERR" || return 1
    cert_of mta-sts.expired.example >"$T/c.pem"
    [ "$(san_of mta-sts.expired.example)" = DNS:mta-sts.expired.example ] || fail "SAN" || return 1
    OK="curl 60 certificate has expired ($(openssl x509 -in "$T/c.pem" -noout -enddate))"
}
c_unknownca() {
    fetch mta-sts.unknownca.example
    [ "$CURLRC" = 60 ] || fail "curl $CURLRC: $ERR" || return 1
    fetch mta-sts.unknownca.example --cacert "$WORLD_UNKNOWN_CA"
    [ "$CODE" = 200 ] || fail "not valid under WORLD_UNKNOWN_CA: $ERR" || return 1
    OK="curl 60 with WORLD_CA; 200 with WORLD_UNKNOWN_CA"
}
c_refused() {
    [ "$(addr_of mta-sts.refused.example)" = "$WORLD_REFUSED_ADDR" ] || fail "address" || return 1
    fetch mta-sts.refused.example
    [ "$CURLRC" = 7 ] || fail "curl $CURLRC: $ERR" || return 1
    OK="A $WORLD_REFUSED_ADDR, connection refused (curl 7)"
}
c_noaddr() {
    expect_txt noaddr.example 'TXT "v=STSv1; id=noaddr2026"' || return 1
    [ "$(rcode mta-sts.noaddr.example A)" = NXDOMAIN ] &&
        [ "$(rcode mta-sts.noaddr.example AAAA)" = NXDOMAIN ] || fail "not NXDOMAIN" || return 1
    OK="TXT ok, mta-sts.noaddr.example A/AAAA NXDOMAIN"
}
c_servfail() {
    local t0=$SECONDS r
    r=$(rcode _mta-sts.servfail.example TXT)
    [ "$r" = SERVFAIL ] || fail "rcode [$r]" || return 1
    [ $((SECONDS - t0)) -le 2 ] || fail "took $((SECONDS - t0)) s" || return 1
    # only the _mta-sts name fails: the rest of the domain resolves
    [ "$(addr_of mta-sts.servfail.example)" = 127.0.0.1 ] || fail "policy host" || return 1
    OK="rcode SERVFAIL within $((SECONDS - t0)) s; mta-sts.servfail.example resolves"
}
c_dnstimeout() {
    wait "$SIL1" || true
    local secs
    secs=$(cat "$T/timeout")
    ! grep -q "rcode:" "$T/timeout.out" || fail "got an answer: $(grep rcode "$T/timeout.out")" || return 1
    [ "$secs" -ge 10 ] || fail "drill gave up after only $secs s" || return 1
    [ "$(addr_of mta-sts.dnstimeout.example)" = 127.0.0.1 ] || fail "policy host" || return 1
    OK="no answer at all; drill gave up after $secs s"
}
c_blackhole() {
    wait "$SIL2" || true
    local secs
    secs=$(cat "$T/blackhole")
    ! grep -q "rcode:" "$T/blackhole.out" || fail "got an answer" || return 1
    [ "$secs" -ge 10 ] || fail "drill gave up after only $secs s" || return 1
    OK="WORLD_DNS_BLACKHOLE never answers; drill gave up after $secs s"
}
c_v6only() {
    [ "$(answers mta-sts.v6only.example AAAA)" = "AAAA ::1" ] || fail "AAAA" || return 1
    [ "$(rcode mta-sts.v6only.example A)" = NOERROR ] &&
        [ -z "$(answers mta-sts.v6only.example A)" ] || fail "has an A" || return 1
    expect_policy mta-sts.v6only.example enforce mx1.v6only.example 86400 || return 1
    OK="AAAA ::1 only, policy served on [::1]"
}
c_idn() { ordinary xn--bcher-kva.example enforce mx1.xn--bcher-kva.example 86400 && OK="TXT id=bcherkva2026, policy 200"; }
c_badpolicy() {
    expect_txt badpolicy.example 'TXT "v=STSv1; id=badpolicy2026"' || return 1
    fetch mta-sts.badpolicy.example
    [ "$CODE" = 200 ] || fail "HTTP $CODE" || return 1
    body_has "mode: enforce" && ! grep -q max_age "$T/body" || fail "body" || return 1
    OK="200 text/plain, no max_age line"
}
c_cname() {
    local got
    got=$(answers _mta-sts.cname.example TXT)
    [ "$got" = $'CNAME _mta-sts.lf.example.\nTXT "v=STSv1; id=lf2026"' ] ||
        fail "got [$got]" || return 1
    expect_policy mta-sts.cname.example enforce mx1.cname.example 86400 &&
        OK="CNAME -> _mta-sts.lf.example (id=lf2026); own policy mx1.cname.example"
}
c_mx_all() {
    local d n=0
    for d in lf crlf wildcard testing none split twosts mixed notxt nodata 404 \
             redirect html charset big chunked stall reset wrongname expired \
             unknownca refused noaddr servfail dnstimeout v6only \
             xn--bcher-kva badpolicy cname; do
        [ "$(answers "$d.example" MX)" = "MX 10 mx1.$d.example." ] &&
            [ "$(answers "mx1.$d.example" A)" = "A 127.0.0.1" ] ||
            fail "$d.example MX" || return 1
        n=$((n + 1))
    done
    OK="$n domains: MX 10 mx1.<d>, mx1.<d> A 127.0.0.1"
}
c_dns_v6() {
    [ "$(answers _mta-sts.lf.example TXT ::1)" = 'TXT "v=STSv1; id=lf2026"' ] ||
        fail "no answer on [::1]:$WORLD_DNS_PORT" || return 1
    OK="unbound answers on [::1]:$WORLD_DNS_PORT too"
}
c_outside() {
    local t0=$SECONDS r
    r=$(rcode example.com A)
    [ "$r" = REFUSED ] || fail "example.com rcode [$r]" || return 1
    r=$(rcode . NS)
    [ "$r" = REFUSED ] || fail ". NS rcode [$r]" || return 1
    OK="names outside example. REFUSED at once ($((SECONDS - t0)) s)"
}
c_nosni() {
    if curl -sS --max-time 5 --cacert "$WORLD_CA" -o /dev/null \
        "https://127.0.0.1:$WORLD_HTTPS_PORT/.well-known/mta-sts.txt" 2>"$T/err"; then
        fail "handshake without SNI succeeded"
        return 1
    fi
    grep -q "unrecognized name" "$T/err" || fail "$(cat "$T/err")" || return 1
    OK="unknown/no SNI: handshake refused (unrecognized_name)"
}
c_tls12() {
    local host addr
    fetch mta-sts.lf.example --tlsv1.2 --tls-max 1.2
    [ "$CODE" = 200 ] || fail "TLS 1.2: $ERR" || return 1
    # TLS 1.1 must be refused by the server itself (alert protocol_version),
    # so the client is told to allow it (SECLEVEL=0).
    for host in mta-sts.lf.example mta-sts.stall.example; do
        addr=$(addr_of "$host")
        openssl s_client -connect "$addr:$WORLD_HTTPS_PORT" -servername "$host" \
            -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' </dev/null >"$T/err" 2>&1 || true
        grep -q "alert protocol version" "$T/err" || fail "$host accepts TLS 1.1" || return 1
    done
    OK="TLS 1.2 ok; TLS 1.1 gets alert protocol_version (nginx, faulthttp)"
}

# ------------------------------------------------------------------- DANE
# sec NAME TYPE: what a validating libunbound client forwarding to the world
# with WORLD_TA sees: "secure|insecure|bogus|error rcode=R data=N [why=...]"
sec() { "$T/daneprobe" "$WORLD_DNS" "$WORLD_TA" "$1" "$2" 2>&1; }
# expect_sec NAME TYPE WANT: the probe line starts with WANT
expect_sec() {
    local got
    [ -x "$T/daneprobe" ] || fail "$PROBE_ERR" || return 1
    got=$(sec "$1" "$2")
    case $got in
        "$3"*) ;;
        *) fail "$1 $2: got [$got], want [$3]" ;;
    esac
}
spki() { # CERT-NAME in WORLD_CERTS: SHA-256 of its SubjectPublicKeyInfo
    openssl x509 -in "$WORLD_CERTS/$1.crt" -noout -pubkey |
        openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1
}
# expect_tlsa NAME CERT-NAME: the one TLSA record is 3 1 1 <spki of CERT>
expect_tlsa() {
    local got
    got=$(answers "$1" TLSA)
    [ "$got" = "TLSA 3 1 1 $(spki "$2")" ] || fail "$1 TLSA [$got] is not 3 1 1 spki($2)"
}
# secure MX, mx1 address, MTA-STS TXT and policy host (enforce, mx1.<d>)
dane_base() { # D MX-STATUS
    expect_sec "$1" MX "$2 rcode=NOERROR data=1" || return 1
    expect_sec "mx1.$1" A "$2 rcode=NOERROR data=1" || return 1
    [ "$(answers "$1" MX)" = "MX 10 mx1.$1." ] || fail "$1 MX" || return 1
    ordinary "$1" enforce "mx1.$1" 86400 || return 1
    if ! [ -s "$WORLD_CERTS/mx1.$1.crt" ] || ! [ -s "$WORLD_CERTS/mx1.$1.key" ]; then
        fail "no $WORLD_CERTS/mx1.$1.crt|key"
    fi
}

c_dnssec() {
    local n
    expect_sec example. DNSKEY "secure rcode=NOERROR data=1" || return 1
    expect_sec _mta-sts.lf.example TXT "secure rcode=NOERROR data=1" || return 1
    expect_sec _mta-sts.notxt.example TXT "secure rcode=NXDOMAIN" || return 1
    expect_sec _mta-sts.nodata.example TXT "secure rcode=NOERROR data=0" || return 1
    # without the anchor the same answer is insecure, not bogus
    case $("$T/daneprobe" "$WORLD_DNS" - _mta-sts.lf.example TXT) in
        "insecure rcode=NOERROR data=1"*) ;;
        *) fail "no trust anchor: not insecure" || return 1 ;;
    esac
    # RRSIGs only for DO queries: non-validating clients see what they saw
    n=$(drill -D -p "$WORLD_DNS_PORT" @127.0.0.1 lf.example MX | grep -c 'RRSIG') || true
    [ "$n" -ge 1 ] || fail "no RRSIG with DO" || return 1
    n=$(drill -p "$WORLD_DNS_PORT" @127.0.0.1 lf.example MX | grep -c 'RRSIG') || true
    [ "$n" = 0 ] || fail "RRSIG without DO" || return 1
    OK="secure with WORLD_TA (answer, NXDOMAIN, NODATA); RRSIG only with DO"
}
c_dane_ok() {
    dane_base dane-ok.example secure || return 1
    expect_sec _25._tcp.mx1.dane-ok.example TLSA "secure rcode=NOERROR data=1" || return 1
    expect_tlsa _25._tcp.mx1.dane-ok.example mx1.dane-ok.example || return 1
    OK="MX, A, TLSA secure; TLSA 3 1 1 = mx1 cert; MTA-STS enforce too"
}
c_dane_mismatch() {
    dane_base dane-mismatch.example secure || return 1
    expect_sec _25._tcp.mx1.dane-mismatch.example TLSA "secure rcode=NOERROR data=1" || return 1
    expect_tlsa _25._tcp.mx1.dane-mismatch.example mx1.dane-mismatch.example-tlsa || return 1
    [ "$(spki mx1.dane-mismatch.example)" != "$(spki mx1.dane-mismatch.example-tlsa)" ] ||
        fail "same key" || return 1
    OK="TLSA secure, names mx1.dane-mismatch.example-tlsa's key, not mx1's"
}
c_dane_notlsa() {
    dane_base dane-notlsa.example secure || return 1
    expect_sec _25._tcp.mx1.dane-notlsa.example TLSA "secure rcode=NXDOMAIN data=0" || return 1
    OK="MX secure; TLSA secure NXDOMAIN; MTA-STS enforce"
}
c_dane_unsigned() {
    dane_base dane-unsigned.example insecure || return 1
    expect_sec dane-unsigned.example DS "secure rcode=NOERROR data=0" || return 1
    expect_sec _25._tcp.mx1.dane-unsigned.example TLSA "insecure rcode=NOERROR data=1" || return 1
    expect_tlsa _25._tcp.mx1.dane-unsigned.example mx1.dane-unsigned.example || return 1
    OK="no DS (secure NODATA): MX, TLSA insecure; MTA-STS enforce"
}
c_dane_bogus() {
    expect_sec dane-bogus.example DS "secure rcode=NOERROR data=1" || return 1
    expect_sec dane-bogus.example MX "bogus" || return 1
    expect_sec mx1.dane-bogus.example A "bogus" || return 1
    expect_sec _25._tcp.mx1.dane-bogus.example TLSA "bogus" || return 1
    expect_tlsa _25._tcp.mx1.dane-bogus.example mx1.dane-bogus.example || return 1
    OK="DS secure, names another key: MX, A, TLSA bogus"
}
c_dane_expired() {
    expect_sec dane-expired.example DS "secure rcode=NOERROR data=1" || return 1
    expect_sec dane-expired.example MX "bogus" || return 1
    expect_sec _25._tcp.mx1.dane-expired.example TLSA "bogus" || return 1
    sec dane-expired.example MX | grep -q "signature expired" ||
        fail "why: $(sec dane-expired.example MX)" || return 1
    OK="DS secure, RRSIGs expired 2020-02-01: MX, TLSA bogus"
}
c_dane_tlsafail() {
    local t0=$SECONDS
    dane_base dane-tlsafail.example secure || return 1
    expect_sec _25._tcp.mx1.dane-tlsafail.example DS "secure rcode=NOERROR data=1" || return 1
    expect_sec _25._tcp.mx1.dane-tlsafail.example TLSA "error rcode=SERVFAIL data=0" || return 1
    [ $((SECONDS - t0)) -le 3 ] || fail "took $((SECONDS - t0)) s" || return 1
    OK="MX secure; TLSA SERVFAIL (signed delegation, DS secure); MTA-STS enforce"
}
c_dane_implicit() {
    expect_sec dane-implicit.example MX "secure rcode=NOERROR data=0" || return 1
    expect_sec dane-implicit.example A "secure rcode=NOERROR data=1" || return 1
    expect_sec _25._tcp.dane-implicit.example TLSA "secure rcode=NOERROR data=1" || return 1
    expect_tlsa _25._tcp.dane-implicit.example dane-implicit.example || return 1
    OK="no MX (secure NODATA), A secure, TLSA secure = its cert"
}
c_dane_nullmx() {
    expect_sec dane-nullmx.example MX "secure rcode=NOERROR data=1" || return 1
    [ "$(answers dane-nullmx.example MX)" = "MX 0 ." ] || fail "MX [$(answers dane-nullmx.example MX)]" || return 1
    OK="MX 0 . secure"
}

run lf.example            c_lf
run crlf.example          c_crlf
run wildcard.example      c_wildcard
run testing.example       c_testing
run none.example          c_none
run split.example         c_split
run twosts.example        c_twosts
run mixed.example         c_mixed
run notxt.example         c_notxt
run nodata.example        c_nodata
run 404.example           c_404
run redirect.example      c_redirect
run html.example          c_html
run charset.example       c_charset
run big.example           c_big
run chunked.example       c_chunked
run stall.example         c_stall
run reset.example         c_reset
run wrongname.example     c_wrongname
run expired.example       c_expired
run unknownca.example     c_unknownca
run refused.example       c_refused
run noaddr.example        c_noaddr
run servfail.example      c_servfail
run v6only.example        c_v6only
run xn--bcher-kva.example c_idn
run badpolicy.example     c_badpolicy
run cname.example         c_cname
run "MX of all domains"   c_mx_all
run "DNS on ::1"          c_dns_v6
run "outside example."    c_outside
run "no SNI"              c_nosni
run "TLS versions"        c_tls12
run "DNSSEC example."      c_dnssec
run dane-ok.example        c_dane_ok
run dane-mismatch.example  c_dane_mismatch
run dane-notlsa.example    c_dane_notlsa
run dane-unsigned.example  c_dane_unsigned
run dane-bogus.example     c_dane_bogus
run dane-expired.example   c_dane_expired
run dane-tlsafail.example  c_dane_tlsafail
run dane-implicit.example  c_dane_implicit
run dane-nullmx.example    c_dane_nullmx
run dnstimeout.example    c_dnstimeout
run "DNS black hole"      c_blackhole

# stop, then nothing of this world may remain
c_stop() {
    local pids="$WORLD_UNBOUND_PID $WORLD_NGINX_PID $WORLD_FAULTDNS_PID $WORLD_FAULTHTTP_PID" p left
    "$HERE/world.sh" stop "$W" || fail "stop failed" || return 1
    "$HERE/world.sh" stop "$W" || fail "second stop failed" || return 1
    for p in $pids; do
        if kill -0 "$p" 2>/dev/null && ! grep -q ') Z' "/proc/$p/stat" 2>/dev/null; then
            fail "pid $p still running" || return 1
        fi
    done
    left=$(pgrep -f -- "$W" || true)
    [ -z "$left" ] || fail "left: $left" || return 1
    [ -z "$(pgrep -P "$WORLD_NGINX_PID" 2>/dev/null || true)" ] || fail "nginx worker left" || return 1
    OK="no process left (pgrep), second stop is a no-op"
}
run "world.sh stop"       c_stop

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
