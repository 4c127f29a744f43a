#!/bin/bash
# postfix-dane.sh - DANE end to end: Debian's Postfix, a local validating
# resolver, mta-stsd answering "dane-only", and STARTTLS MX sinks.
#
#   postfix-dane.sh MTA_STSD MTA_STS SRCDIR     (meson passes these)
#
# Postfix's DANE trusts the AD bit of the resolver named in resolv.conf,
# and finds MX hosts on port 25, so the test runs in a network namespace of
# its own (ip netns), loopback only:
#   world's unbound    127.0.0.1:<kernel-picked port>  signed example.,
#                      not validating (tests/world/README.md)
#   validating unbound 127.0.0.1:53  forward "." to the world's unbound,
#                      trust anchor WORLD_TA; /etc/netns/NS/resolv.conf
#                      names it with "options trust-ad" (glibc)
#   mta-stsd           dnssec: validate, trust_anchor_file: WORLD_TA,
#                      resolver: the world's unbound
#   mx-sink.py         127.0.0.1:25, certificate chosen by SNI:
#                      mx1.dane-ok.example, mx1.dane-mismatch.example
#                      (whose TLSA names another key), mx1.lf.example
#   Postfix            on 127.0.0.2, smtp_dns_support_level = dnssec,
#                      smtp_tls_security_level = may, smtp_tls_loglevel =
#                      2 (the DANE match lines), policy from mta-stsd
#
# Asserts:
#   the validating resolver sets AD for the DANE names (and the daemon
#   answers "OK dane-only" for dane-ok and dane-mismatch, MTA-STS for
#   lf.example);
#   user@dane-ok.example       -> sent, "Verified TLS", Postfix matched the
#                                 TLSA record (DANE), daemon logged
#                                 state=applies
#   user@lf.example            -> sent, "Verified TLS" through the MTA-STS
#                                 reply (no DANE)
#   user@dane-mismatch.example -> deferred, still queued, the sink got
#                                 nothing: no TLSA match, "Server
#                                 certificate not verified"; again on a
#                                 queue flush
#   the same queued message with the map switched to a zone with
#   dane: off (MTA-STS only) -> sent, "Verified TLS": the MTA-STS policy
#   alone would have accepted that MX, so DANE made the difference.
. "$(dirname "$0")/daemon-lib.sh" "$@"

INSTANCE=$SRCDIR/tests/postfix/instance.sh
SINK=$HERE/mx-sink.py

need postfix postfix
need postconf postfix
need postqueue postfix
need ip iproute2
need unbound unbound
need nginx nginx-light
need openssl openssl
need drill ldnsutils
need ldns-signzone ldnsutils
need python3 python3
need curl curl
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, Postfix master)"

# ---------------------------------------------------------------------------
# Outside: make the namespace, run this script again inside it, clean up.
# trust-ad: glibc keeps the AD bit of the answers (Postfix's DANE
# believes it); the validating unbound on 127.0.0.1:53 sets it.
run_in_netns mtasts-dane "trust-ad attempts:2 timeout:2"

# ---------------------------------------------------------------------------
# Inside the namespace.
ip link set lo up
ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true
[ "$(ip -o link | grep -vc ' lo:')" = 0 ] || fail "the namespace has interfaces besides lo"
grep -q 'trust-ad' /etc/resolv.conf || fail "resolv.conf in the namespace lacks trust-ad"

# The world on kernel-picked ports: port 53 belongs to the validating
# resolver.
start_world
[ "$WORLD_DNS_PORT" != 53 ] || fail "world DNS took port 53"

# The validating resolver Postfix asks (resolv.conf: 127.0.0.1:53).
VR=$T_DIR/validator
mkdir -p "$VR"
cat >"$VR/unbound.conf" <<EOF
server:
    verbosity: 1
    val-log-level: 2
    num-threads: 1
    interface: 127.0.0.1@53
    port: 53
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "$VR"
    pidfile: "$VR/unbound.pid"
    logfile: ""
    use-syslog: no
    log-time-ascii: yes
    module-config: "validator iterator"
    trust-anchor-file: "$WORLD_TA"
    val-permissive-mode: no
    # the world's unbound is on 127.0.0.1
    do-not-query-localhost: no
    outgoing-interface: 127.0.0.1
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@$WORLD_DNS_PORT
EOF
unbound-checkconf "$VR/unbound.conf" >"$VR/check.log" 2>&1 ||
    fail "validator config: $(cat "$VR/check.log")"
unbound -d -c "$VR/unbound.conf" >"$VR/unbound.log" 2>&1 &
VR_PID=$!
on_exit "kill $VR_PID; wait $VR_PID"
# drill with -D sets DO; its header line carries the flags, "ad" included
ad_flag() { # NAME TYPE: the answer through resolv.conf is validated
    drill -D "$1" "$2" 2>/dev/null | grep -qE '^;; flags: .*\bad\b'
}
wait_until 10 "the validating resolver on 127.0.0.1:53" ad_flag dane-ok.example MX
for q in "dane-ok.example MX" "mx1.dane-ok.example A" \
    "_25._tcp.mx1.dane-ok.example TLSA" "_25._tcp.mx1.dane-mismatch.example TLSA" \
    "mx1.lf.example A"; do
    # shellcheck disable=SC2086
    ad_flag $q || fail "no AD bit from the validating resolver for $q"
done
drill -D dane-bogus.example MX 2>/dev/null | grep -q 'rcode: SERVFAIL' ||
    fail "the validating resolver does not reject the bogus zone"
say "world up (dns 127.0.0.1:$WORLD_DNS_PORT), validating unbound on 127.0.0.1:53 sets AD"
ok "validating resolver: AD for the DANE names, SERVFAIL for a bogus zone"

# MX certificates: the world's for the DANE hosts; one for mx1.lf.example
# from the world's CA; the default (no or unknown SNI) is valid for
# mx.other.example only.
CERTS=$T_DIR/mx-certs
mkdir -p "$CERTS"
for n in mx1.dane-ok.example mx1.dane-mismatch.example mx1.check-wrongname.example; do
    cp "$WORLD_CERTS/$n.crt" "$WORLD_CERTS/$n.key" "$CERTS/" || fail "no certificate $n in the world"
done
if ! SAN=mx1.lf.example openssl req -config "$WORLD_DIR/ca/openssl.cnf" -new -nodes \
    -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=mx1.lf.example" \
    -keyout "$CERTS/mx1.lf.example.key" -out "$CERTS/mx1.lf.example.csr" 2>/dev/null ||
    ! SAN=mx1.lf.example openssl ca -config "$WORLD_DIR/ca/openssl.cnf" -batch -notext \
        -extensions leaf -days 30 -in "$CERTS/mx1.lf.example.csr" \
        -out "$CERTS/mx1.lf.example.crt" 2>/dev/null; then
    fail "cannot issue a certificate for mx1.lf.example"
fi
# the mismatch MX's certificate is fine for MTA-STS (name, CA, dates)
openssl verify -CAfile "$WORLD_CA" -verify_hostname mx1.dane-mismatch.example \
    "$CERTS/mx1.dane-mismatch.example.crt" >/dev/null 2>&1 ||
    fail "mx1.dane-mismatch.example's certificate does not verify under the test CA"
cat >"$T_DIR/sink.map" <<EOF
mx1.dane-ok.example mx1.dane-ok.example
mx1.dane-mismatch.example mx1.dane-mismatch.example
mx1.lf.example mx1.lf.example
EOF
SINKLOG=$T_DIR/sink.jsonl
: >"$SINKLOG"
python3 "$SINK" --addr 127.0.0.1 --port 25 --certdir "$CERTS" \
    --map "$T_DIR/sink.map" --default mx1.check-wrongname.example --log "$SINKLOG" \
    --pidfile "$T_DIR/sink.pid" >"$T_DIR/sink.out" 2>&1 &
SINK_PID=$!
on_exit "kill $SINK_PID; wait $SINK_PID"
wait_until 10 "the sink on port 25" eval '(exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null'

# mta-stsd, validating with the world's trust anchor.  Zone nodane: the
# same daemon with DANE off, i.e. what MTA-STS alone says.
PORT=$(free_port)
MPORT=$(free_port)
cat >"$T_DIR/d.yml" <<EOF
port: $PORT
cache: {type: sqlite, options: {filename: $T_DIR/cache.db}}
dnssec: validate
trust_anchor_file: $WORLD_TA
resolver: ["$WORLD_DNS"]
ca_file: $WORLD_CA
connect_to: ["$WORLD_CONNECT_TO"]
default_zone: {timeout: 5}
zones:
  nodane: {dane: "off", timeout: 5}
metrics: {enabled: true, port: $MPORT}
EOF
start_daemon d "$T_DIR/d.yml"
expect_reply postfix dane-ok.example "OK dane-only"
expect_reply postfix dane-mismatch.example "OK dane-only"
expect_reply postfix lf.example "OK secure match=mx1.lf.example servername=hostname"
expect_reply nodane dane-mismatch.example \
    "OK secure match=mx1.dane-mismatch.example servername=hostname"
log_has d 'dane domain=dane-ok\.example state=applies' ||
    fail "daemon log: no 'dane domain=dane-ok.example state=applies'"
log_has d 'dane domain=dane-mismatch\.example state=applies' ||
    fail "daemon log: no 'dane domain=dane-mismatch.example state=applies'"
[ "$(metric "$MPORT" 'mtasts_dane_checks_total{state="applies"}')" -ge 2 ] ||
    fail "metrics: mtasts_dane_checks_total{state=\"applies\"} below 2"
ok "mta-stsd: OK dane-only for dane-ok and dane-mismatch, MTA-STS for lf; dane off: MTA-STS accepts mx1.dane-mismatch"

# The sending Postfix.  dnssec_probe: the default (NS of ".") is refused
# by the world; ask for a name of the signed zone instead.
# smtp_tls_loglevel 2: at level 1 a DANE-verified and a CA-verified
# connection log the same "Verified TLS connection established" line;
# level 2 adds "DNSSEC-signed TLSA record: ..." and "Matched DANE EE
# certificate at depth 0: ...", the proof that DANE did the verifying.
start_sender_postfix \
    "smtp_dns_support_level = dnssec" \
    "dnssec_probe = ns:example." \
    "smtp_tls_loglevel = 2"

show_postfix() {
    echo "---- tail of $MAILLOG"
    tail -n 40 "$MAILLOG" | cut -c1-300
    echo "---- sink records"
    cat "$SINKLOG"
    echo "---- tail of the validating unbound's log"
    tail -n 20 "$VR/unbound.log" | cut -c1-300
}
# shellcheck disable=SC2034  # read by fail() in daemon-lib.sh
FAIL_HOOK=show_postfix

submit() { # TO TAG
    python3 - "$1" "$2" <<'EOF' || fail "cannot submit a message to $1"
import smtplib, sys
to, tag = sys.argv[1], sys.argv[2]
msg = ("From: tester@sender.localdomain\r\nTo: %s\r\nSubject: %s\r\n"
       "Message-ID: <%s@sender.localdomain>\r\n\r\nhello %s\r\n") % (to, tag, tag, tag)
with smtplib.SMTP("127.0.0.2", 25, timeout=30) as s:
    s.sendmail("tester@sender.localdomain", [to], msg)
EOF
}
status_line() { # RCPT [NTH]
    grep -F "to=<$1>" "$MAILLOG" | grep -E 'postfix/smtp\[.*status=' | sed -n "${2:-\$}p"
}
n_status() { grep -F "to=<$1>" "$MAILLOG" | grep -cE 'postfix/smtp\[.*status=' || true; }
n_status_ge() { [ "$(n_status "$1")" -ge "$2" ]; }
wait_status() { wait_until 60 "delivery attempt $2 to $1" n_status_ge "$1" "$2"; }
sink_has() { grep -F "\"subject\": \"$1\"" "$SINKLOG" || true; }
queued() { postqueue -c "$PFCONF" -p 2>/dev/null | grep -qF "$1"; }

expect_sent_verified() { # RCPT SUBJECT MXHOST NTH
    local line rec
    wait_status "$1" "$4"
    line=$(status_line "$1" "$4")
    case $line in *status=sent*) ;; *) fail "$1: not sent: $line" ;; esac
    grep -qE "Verified TLS connection established to $3\[127\.0\.0\.1\]:25" "$MAILLOG" ||
        fail "$1: no 'Verified TLS connection established to $3'"
    rec=$(sink_has "$2")
    case $rec in *"\"cert\": \"$3\""*'"tls": "TLSv1'*) ;; *) fail "$1: sink record '$rec'" ;; esac
}

# ---------------------------------------------------------------------------
# SHA-256 of a certificate's SubjectPublicKeyInfo, upper case (TLSA 3 1 1)
spki() { # CERTFILE
    openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER |
        openssl dgst -sha256 -r | cut -d' ' -f1 | tr a-f A-F
}
OK_HASH=$(spki "$CERTS/mx1.dane-ok.example.crt")
MM_HASH=$(spki "$CERTS/mx1.dane-mismatch.example.crt")
# the key the TLSA record of mx1.dane-mismatch.example names
MM_TLSA=$(spki "$WORLD_CERTS/mx1.dane-mismatch.example-tlsa.crt")
if [ -z "$OK_HASH" ] || [ -z "$MM_HASH" ] || [ "$MM_HASH" = "$MM_TLSA" ]; then
    fail "SPKI hashes: ok=$OK_HASH mismatch=$MM_HASH tlsa=$MM_TLSA"
fi

# 1. DANE, TLSA matches: sent; Postfix looked up the signed TLSA record and
# matched the MX's key against it.
submit user@dane-ok.example dane-ok
expect_sent_verified user@dane-ok.example dane-ok mx1.dane-ok.example 1
grep -qF "DNSSEC-signed TLSA record: _25._tcp.mx1.dane-ok.example: 3 1 1 $OK_HASH" "$MAILLOG" ||
    fail "dane-ok.example: no 'DNSSEC-signed TLSA record' line for mx1.dane-ok.example"
grep -qF "mx1.dane-ok.example[127.0.0.1]:25: Matched DANE EE certificate at depth 0: 3 1 1 $OK_HASH" "$MAILLOG" ||
    fail "dane-ok.example: no 'Matched DANE EE certificate' line"
ok "dane-ok.example: delivered over verified TLS, Postfix matched the DNSSEC-signed TLSA 3 1 1"

# 2. Plain MTA-STS (signed zone, no TLSA): sent, verified by the CA and the
# policy's mx name; no DANE.
submit user@lf.example mtasts-lf
expect_sent_verified user@lf.example mtasts-lf mx1.lf.example 1
grep -E 'TLSA|DANE' "$MAILLOG" | grep -qF 'lf.example' &&
    fail "lf.example: Postfix used DANE for an MTA-STS domain"
log_has d 'lookup domain=lf\.example .*OK secure' || fail "daemon: no MTA-STS answer for lf.example"
ok "lf.example (MTA-STS only): delivered over verified TLS, no DANE"

# 3. DANE, TLSA does not match: deferred (the MTA-STS policy would accept).
expect_deferred_dane() { # NTH
    local line
    wait_status user@dane-mismatch.example "$1"
    line=$(status_line user@dane-mismatch.example "$1")
    case $line in
        *status=deferred*"Server certificate not verified"*) ;;
        *) fail "dane-mismatch attempt $1: expected deferred (certificate not verified), got: $line" ;;
    esac
    queued user@dane-mismatch.example || fail "user@dane-mismatch.example: not in the queue after the deferral"
    [ -z "$(sink_has dane-mismatch)" ] || fail "the sink got the dane-mismatch message"
    # (an smtp process caches TLSA records: one lookup line for several tries)
    grep -qF "DNSSEC-signed TLSA record: _25._tcp.mx1.dane-mismatch.example: 3 1 1 $MM_TLSA" "$MAILLOG" ||
        fail "dane-mismatch: Postfix did not look up the signed TLSA record"
    [ "$(grep -cF "server certificate verification failed for mx1.dane-mismatch.example[127.0.0.1]:25: num=65:no matching DANE TLSA records" "$MAILLOG")" -ge "$1" ] ||
        fail "dane-mismatch attempt $1: no 'no matching DANE TLSA records' failure logged"
}
submit user@dane-mismatch.example dane-mismatch
expect_deferred_dane 1
grep -qE 'Matched DANE .*dane-mismatch|Verified TLS connection established to mx1\.dane-mismatch' "$MAILLOG" &&
    fail "dane-mismatch: Postfix matched or verified although the TLSA names another key"
grep -qE "mx1\.dane-mismatch\.example\[127\.0\.0\.1\]:25: depth=0 verify=0 subject=/CN=mx1\.dane-mismatch\.example" "$MAILLOG" ||
    fail "dane-mismatch: no failed verification (depth=0 verify=0) logged"
grep -qE "(Untrusted|Anonymous|Trusted) TLS connection established to mx1\.dane-mismatch\.example" "$MAILLOG" ||
    fail "dane-mismatch: no TLS connection to mx1.dane-mismatch.example logged"
ok "dane-mismatch.example: TLSA does not match: deferred, still queued, not at the sink"

postqueue -c "$PFCONF" -f
expect_deferred_dane 2
ok "dane-mismatch.example: deferred again on a queue flush"

# 4. The same daemon with DANE off for this lookup (zone nodane): the
# MTA-STS policy accepts the very same MX and certificate.
postconf -c "$PFCONF" -e "smtp_tls_policy_maps = socketmap:inet:127.0.0.1:$PORT:nodane"
postfix -c "$PFCONF" reload >/dev/null 2>&1 || fail "postfix reload failed"
sleep 1
postqueue -c "$PFCONF" -f
expect_sent_verified user@dane-mismatch.example dane-mismatch mx1.dane-mismatch.example 3
log_has d 'lookup domain=dane-mismatch\.example .*OK secure match=mx1\.dane-mismatch\.example' ||
    fail "daemon: no MTA-STS answer for dane-mismatch.example in zone nodane"
ok "control: with MTA-STS alone (dane off) the queued dane-mismatch mail is delivered over verified TLS"

# Never a policy table problem.
grep -E 'socketmap|TLS policy|client TLS configuration problem|invalid attribute|policy table|DNSSEC validation may be unavailable' "$MAILLOG" &&
    fail "Postfix logged a policy lookup or DNSSEC problem"
ok "no policy lookup or DNSSEC problems in the Postfix log"

"$INSTANCE" stop "$PF" >/dev/null 2>&1
stop_daemon d
ok "postfix and daemon stopped cleanly"
pass
