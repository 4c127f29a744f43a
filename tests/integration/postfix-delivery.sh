#!/bin/bash
# postfix-delivery.sh - real deliveries by Debian's Postfix smtp client,
# with smtp_tls_policy_maps = socketmap:...:postfix pointing at mta-stsd,
# to a STARTTLS MX (mx-sink.py) whose certificate comes from the world's
# test CA.
#
#   postfix-delivery.sh MTA_STSD MTA_STS SRCDIR     (meson passes these)
#
# Postfix finds MX hosts through DNS on port 53 and connects to port 25,
# so the whole test runs in a network namespace of its own (ip netns): a
# loopback interface only, /etc/netns/NS/resolv.conf naming the world's
# unbound on 127.0.0.1:53 (WORLD_PORT_BASE=53: DNS 53, fault DNS 54, black
# hole 55, HTTPS 56), the sink on 127.0.0.1:25, the sending Postfix on
# 127.0.0.2.  Nothing can leave the namespace.
#
# Asserts (from the Postfix log, its queue and the sink's record):
#   enforce + matching MX certificate        -> sent, "Verified TLS"
#   enforce with a wildcard mx pattern       -> sent, "Verified TLS"
#   enforce + MX certificate for another name -> deferred, still queued,
#                                              "Server certificate not verified"
#   testing / none / no policy + wrong name  -> sent over unverified TLS
#   downgrade: TXT record removed and the MX swapped for a man in the
#   middle -> the cached enforce policy defers the mail, also after a
#   daemon restart and after kill -9.
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
need python3 python3
need curl curl
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, Postfix master)"

# ---------------------------------------------------------------------------
# Outside: make the namespace, run this script again inside it, clean up.
run_in_netns mtasts "attempts:2 timeout:2"

# ---------------------------------------------------------------------------
# Inside the namespace.
ip link set lo up
ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true
[ "$(ip -o link | grep -vc ' lo:')" = 0 ] || fail "the namespace has interfaces besides lo"

WORLD_TTL=1 WORLD_PORT_BASE=53 start_world
[ "$WORLD_DNS_PORT" = 53 ] || fail "world DNS is not on port 53"
drill mx1.lf.example A | grep -q '127\.0\.0\.1' ||
    fail "the system resolver in the namespace does not reach the world"
say "world up in namespace $MTASTS_NETNS: dns 127.0.0.1:53, https 56"

# MX certificates from the world's CA: the right names, and one for a name
# no policy lists (valid chain, wrong name).
CERTS=$T_DIR/mx-certs
mkdir -p "$CERTS"
issue() { # NAME
    SAN=$1 openssl req -config "$WORLD_DIR/ca/openssl.cnf" -new -nodes \
        -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=$1" \
        -keyout "$CERTS/$1.key" -out "$CERTS/$1.csr" 2>/dev/null &&
        SAN=$1 openssl ca -config "$WORLD_DIR/ca/openssl.cnf" -batch -notext \
            -extensions leaf -days 30 -in "$CERTS/$1.csr" \
            -out "$CERTS/$1.crt" 2>/dev/null || fail "cannot issue a certificate for $1"
}
for n in mx1.lf.example mx1.wildcard.example mx1.xn--bcher-kva.example mx.wrong.example; do
    issue "$n"
done
cat >"$T_DIR/sink.map" <<EOF
mx1.lf.example mx1.lf.example
mx1.wildcard.example mx1.wildcard.example
mx1.xn--bcher-kva.example mx1.xn--bcher-kva.example
EOF
SINKLOG=$T_DIR/sink.jsonl
: >"$SINKLOG"
python3 "$SINK" --addr 127.0.0.1 --port 25 --certdir "$CERTS" \
    --map "$T_DIR/sink.map" --default mx.wrong.example --log "$SINKLOG" \
    --pidfile "$T_DIR/sink.pid" >"$T_DIR/sink.out" 2>&1 &
SINK_PID=$!
on_exit "kill $SINK_PID; wait $SINK_PID"
wait_until 10 "the sink on port 25" eval '(exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null'

# mta-stsd
PORT=$(free_port)
MPORT=$(free_port)
{
    world_config "$PORT" "$T_DIR/cache.db"
    cat <<EOF
cache_grace: 1
idle_timeout: 1
default_zone: {timeout: 5}
metrics: {enabled: true, port: $MPORT}
EOF
} >"$T_DIR/d.yml"
start_daemon d "$T_DIR/d.yml"
expect_reply postfix lf.example "OK secure match=mx1.lf.example servername=hostname"

# The sending Postfix.
start_sender_postfix \
    "smtp_tls_loglevel = 1"

# Show the Postfix log when something fails.
show_postfix() {
    echo "---- tail of $MAILLOG"
    tail -n 40 "$MAILLOG" | cut -c1-300
    echo "---- sink records"
    cat "$SINKLOG"
}
FAIL_HOOK=show_postfix

# submit TO TAG: one message through the instance's smtpd
submit() {
    python3 - "$1" "$2" <<'EOF' || fail "cannot submit a message to $1"
import smtplib, sys
to, tag = sys.argv[1], sys.argv[2]
msg = ("From: tester@sender.localdomain\r\nTo: %s\r\nSubject: %s\r\n"
       "Message-ID: <%s@sender.localdomain>\r\n\r\nhello %s\r\n") % (to, tag, tag, tag)
with smtplib.SMTP("127.0.0.2", 25, timeout=30) as s:
    s.sendmail("tester@sender.localdomain", [to], msg)
EOF
}

# A message's fate: the "status=" line of the smtp client for that recipient.
status_line() { # RCPT [NTH]  -> the NTH (default last) status line
    grep -F "to=<$1>" "$MAILLOG" | grep -E 'postfix/smtp\[.*status=' | sed -n "${2:-\$}p"
}
n_status() { grep -F "to=<$1>" "$MAILLOG" | grep -cE 'postfix/smtp\[.*status=' || true; }
n_status_ge() { [ "$(n_status "$1")" -ge "$2" ]; }
wait_status() { # RCPT COUNT
    wait_until 60 "delivery attempt $2 to $1" n_status_ge "$1" "$2"
}
sink_has() { # SUBJECT -> the sink's record, if any
    grep -F "\"subject\": \"$1\"" "$SINKLOG" || true
}
queued() { # RCPT: still in the queue?
    postqueue -c "$PFCONF" -p 2>/dev/null | grep -qF "$1"
}

deliver_verified() { # RCPT SUBJECT MXHOST
    local rec line
    submit "$1" "$2"
    wait_status "$1" 1
    line=$(status_line "$1")
    case $line in *status=sent*) ;; *) fail "$1: not sent: $line" ;; esac
    grep -qE "Verified TLS connection established to $3\[127\.0\.0\.1\]:25" "$MAILLOG" ||
        fail "$1: no 'Verified TLS connection established to $3'"
    rec=$(sink_has "$2")
    [ -n "$rec" ] || fail "$1: the sink has no message '$2'"
    case $rec in *"\"sni\": \"$3\""*"\"cert\": \"$3\""*) ;; *) fail "$1: sink record $rec" ;; esac
}

deliver_unverified() { # RCPT SUBJECT MXHOST
    local rec line
    submit "$1" "$2"
    wait_status "$1" 1
    line=$(status_line "$1")
    case $line in *status=sent*) ;; *) fail "$1: not sent: $line" ;; esac
    grep -E "TLS connection established to $3\[127\.0\.0\.1\]:25" "$MAILLOG" | grep -q Verified &&
        fail "$1: the connection to $3 was verified, expected opportunistic TLS"
    grep -qE "(Trusted|Untrusted|Anonymous) TLS connection established to $3\[127\.0\.0\.1\]:25" "$MAILLOG" ||
        fail "$1: no opportunistic TLS connection to $3 in the log"
    rec=$(sink_has "$2")
    case $rec in *'"cert": "mx.wrong.example"'*'"tls": "TLSv1'*) ;; *) fail "$1: sink record '$rec'" ;; esac
}

expect_deferred() { # RCPT SUBJECT MXHOST NTH-ATTEMPT
    local line
    wait_status "$1" "$4"
    line=$(status_line "$1" "$4")
    case $line in
        *status=deferred*"Server certificate not verified"*) ;;
        *) fail "$1 attempt $4: expected deferred (certificate not verified), got: $line" ;;
    esac
    queued "$1" || fail "$1: not in the queue after the deferral"
    [ -z "$(sink_has "$2")" ] || fail "$1: the sink got '$2' although it was deferred"
}

# ---------------------------------------------------------------------------
deliver_verified user@lf.example "enforce-lf" mx1.lf.example
ok "enforce, matching MX certificate: delivered over verified TLS"

deliver_verified user@wildcard.example "enforce-wildcard" mx1.wildcard.example
ok "enforce with mx *.wildcard.example: delivered over verified TLS"

deliver_verified "user@xn--bcher-kva.example" "enforce-idn" mx1.xn--bcher-kva.example
ok "enforce for an IDN domain (A-label): delivered over verified TLS"

submit user@crlf.example "enforce-crlf-wrongcert"
expect_deferred user@crlf.example "enforce-crlf-wrongcert" mx1.crlf.example 1
grep -qE "mx1\.crlf\.example\[127\.0\.0\.1\]:25: .*(certificate verification failed|not verified)|Server certificate not verified" "$MAILLOG" ||
    fail "no certificate verification failure logged for mx1.crlf.example"
ok "enforce, MX certificate for another name: deferred, still queued"

deliver_unverified user@testing.example "testing-wrongcert" mx1.testing.example
ok "testing policy, wrong MX certificate: delivered (NOTFOUND -> may)"

deliver_unverified user@none.example "none-wrongcert" mx1.none.example
ok "mode none, wrong MX certificate: delivered"

deliver_unverified user@notxt.example "nopolicy-wrongcert" mx1.notxt.example
ok "no MTA-STS record, wrong MX certificate: delivered"

deliver_unverified user@404.example "fetchfail-wrongcert" mx1.404.example
ok "policy fetch fails (404), no cache: delivered (no policy)"

# The daemon closes connections idle for 1 s; Postfix's smtp processes
# keep theirs and find them closed at the next lookup: it must reconnect
# (dict_sockmap retries once), not defer the mail.
open_before=$(metric "$MPORT" 'mtasts_connections')
sleep 2.5
open_after=$(metric "$MPORT" 'mtasts_connections')
[ "${open_before:-0}" -gt 0 ] && [ "$open_after" = 0 ] ||
    fail "idle close: $open_before connections from Postfix before, $open_after after 2.5 s"
deliver_verified user4@wildcard.example "after-idle-close" mx1.wildcard.example
grep -E 'socketmap|TLS policy|client TLS configuration problem' "$MAILLOG" &&
    fail "Postfix logged a policy lookup problem after the idle close"
ok "the daemon closed Postfix's $open_before idle socketmap connections: next delivery still verified"

# ---------------------------------------------------------------------------
# Downgrade: the attacker strips the TXT record and the policy, and puts a
# man in the middle in front of mx1.lf.example.  The cached policy holds.
sed -i '/^_mta-sts\.lf\.example\./d' "$WORLD_ZONE"
world_reload
mv "$WORLD_WWW/mta-sts.lf.example/.well-known/mta-sts.txt" "$T_DIR/lf-policy.orig"
sed -i '/^mx1\.lf\.example /d' "$T_DIR/sink.map" # now gets mx.wrong.example
before=$(metric "$MPORT" 'mtasts_fetches_total{outcome="no-txt"}')
for i in $(seq 20); do # until the daemon's re-check has seen the TXT gone
    sleep 1.1
    expect_reply postfix lf.example "OK secure match=mx1.lf.example servername=hostname"
    [ "$(metric "$MPORT" 'mtasts_fetches_total{outcome="no-txt"}')" -gt "$before" ] && break
done
[ "$(metric "$MPORT" 'mtasts_fetches_total{outcome="no-txt"}')" -gt "$before" ] ||
    fail "the daemon never re-checked lf.example"
submit user2@lf.example "downgrade-mitm"
expect_deferred user2@lf.example "downgrade-mitm" mx1.lf.example 1
ok "TXT removed + MITM certificate: the cached enforce policy defers the mail"

stop_daemon d
start_daemon d "$T_DIR/d.yml"
postqueue -c "$PFCONF" -f
expect_deferred user2@lf.example "downgrade-mitm" mx1.lf.example 2
ok "after a daemon restart: still deferred"

kill9_daemon d
start_daemon d "$T_DIR/d.yml"
postqueue -c "$PFCONF" -f
expect_deferred user2@lf.example "downgrade-mitm" mx1.lf.example 3
ok "after kill -9 and restart: still deferred"

# The real MX comes back: the queued mail goes out, verified.
echo "mx1.lf.example mx1.lf.example" >>"$T_DIR/sink.map"
postqueue -c "$PFCONF" -f
wait_status user2@lf.example 4
case $(status_line user2@lf.example 4) in *status=sent*) ;; *) fail "user2@lf.example not sent after the MX came back" ;; esac
[ -n "$(sink_has downgrade-mitm)" ] || fail "the sink did not get downgrade-mitm"
ok "the real MX back: the deferred message is delivered over verified TLS"

# Never a policy table problem (a TEMP reply, a lost connection, a reply
# Postfix cannot parse all log one of these and defer with 4.7.5).
grep -E 'socketmap|TLS policy|client TLS configuration problem|invalid attribute|policy table' "$MAILLOG" &&
    fail "Postfix logged a policy lookup problem"
ok "no policy lookup errors in the Postfix log"

# The same through a UNIX socket only user postfix may use (mode 0600,
# socket_owner postfix), as a chrooted Postfix would have it.
SOCK=$T_DIR/mta-sts.sock
{
    world_config 1 "$T_DIR/cache-unix.db" | sed '/^port:/d'
    cat <<EOF
path: $SOCK
mode: 0600
socket_owner: postfix
default_zone: {timeout: 5}
EOF
} >"$T_DIR/u.yml"
start_daemon u "$T_DIR/u.yml"
[ "$(stat -c '%U %a' "$SOCK")" = "postfix 600" ] ||
    fail "socket is $(stat -c '%U %a' "$SOCK"), expected postfix 600"
postconf -c "$PFCONF" -e "smtp_tls_policy_maps = socketmap:unix:$SOCK:postfix"
postfix -c "$PFCONF" reload >/dev/null 2>&1 || fail "postfix reload failed"
sleep 1
deliver_verified user3@wildcard.example "unix-enforce-wildcard" mx1.wildcard.example
submit user3@crlf.example "unix-enforce-crlf"
expect_deferred user3@crlf.example "unix-enforce-crlf" mx1.crlf.example 1
log_has u 'lookup domain=wildcard.example .*OK secure' || fail "daemon u did not answer wildcard.example"
log_has u 'lookup domain=crlf.example .*OK secure' || fail "daemon u did not answer crlf.example"
grep -E 'socketmap|TLS policy|client TLS configuration problem' "$MAILLOG" &&
    fail "Postfix logged a policy lookup problem over the UNIX socket"
ok "UNIX socket (0600, owner postfix): verified delivery and a deferral, answered by that daemon"

"$INSTANCE" stop "$PF" >/dev/null 2>&1
stop_daemon u
stop_daemon d
ok "postfix and daemon stopped cleanly"
pass
