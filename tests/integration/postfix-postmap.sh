#!/bin/bash
# postfix-postmap.sh - Postfix's own socketmap client (postmap -q with a
# private config directory) against mta-stsd on the test world, over TCP
# and over a UNIX socket: for every world domain and key form Postfix
# must see exactly what `mta-sts query` sees (OK data -> postmap prints
# the data and exits 0; NOTFOUND -> no output, exit 1, no warning).
#
#   postfix-postmap.sh MTA_STSD MTA_STS SRCDIR     (meson passes these)
. "$(dirname "$0")/daemon-lib.sh" "$@"

INSTANCE=$SRCDIR/tests/postfix/instance.sh

need postmap postfix
need postconf postfix
need unbound unbound
need nginx nginx-light
need openssl openssl
need drill ldnsutils
need python3 python3
need curl curl
[ "$(id -u)" = 0 ] || skip "needs root (a Postfix instance)"

start_world
PORT=$(free_port)
SOCK=$T_DIR/mta-sts.sock
{
    world_config "$PORT" "$T_DIR/cache-tcp.db"
    cat <<EOF
default_zone: {timeout: 2}
zones: {strict: {strict_testing: true, timeout: 2}, rpt: {tlsrpt: true, timeout: 2}}
EOF
} >"$T_DIR/tcp.yml"
{
    world_config 1 "$T_DIR/cache-unix.db" | sed '/^port:/d'
    cat <<EOF
path: $SOCK
mode: 0666
default_zone: {timeout: 2}
zones: {strict: {strict_testing: true, timeout: 2}}
EOF
} >"$T_DIR/unix.yml"
start_daemon tcp "$T_DIR/tcp.yml"
start_daemon unix "$T_DIR/unix.yml"

# postmap only needs a config directory; the instance is never started.
PF=$T_DIR/pf
"$INSTANCE" create "$PF" >"$T_DIR/pf-create.log" 2>&1 ||
    fail "postfix instance: $(cat "$T_DIR/pf-create.log")"
PFCONF=$PF/conf
say "postmap of Postfix $(postconf -dh mail_version), config $PFCONF"

# same KEY MAP: postmap over TCP and over the UNIX socket against the
# reply mta-sts query gets (over TCP).
same() {
    local key=$1 map=$2 want tcp unix rc_t rc_u err
    want=$(query "inet:127.0.0.1:$PORT" "$map" "$key")
    check_sanitizer "$T_DIR/query.err" "mta-sts query"
    tcp=$(postmap -c "$PFCONF" -q "$key" "socketmap:inet:127.0.0.1:$PORT:$map" 2>"$T_DIR/pm-tcp.err")
    rc_t=$?
    unix=$(postmap -c "$PFCONF" -q "$key" "socketmap:unix:$SOCK:$map" 2>"$T_DIR/pm-unix.err")
    rc_u=$?
    err=$(cat "$T_DIR/pm-tcp.err" "$T_DIR/pm-unix.err")
    [ -z "$err" ] || fail "postmap '$key' ($map) warned: $err"
    case $want in
        "OK "*)
            [ "$rc_t" = 0 ] && [ "$tcp" = "${want#OK }" ] ||
                fail "postmap inet '$key' ($map): rc $rc_t '$tcp', mta-sts query '$want'"
            [ "$rc_u" = 0 ] && [ "$unix" = "${want#OK }" ] ||
                fail "postmap unix '$key' ($map): rc $rc_u '$unix', mta-sts query '$want'"
            ;;
        "NOTFOUND ")
            [ "$rc_t" = 1 ] && [ -z "$tcp" ] ||
                fail "postmap inet '$key' ($map): rc $rc_t '$tcp', mta-sts query '$want'"
            [ "$rc_u" = 1 ] && [ -z "$unix" ] ||
                fail "postmap unix '$key' ($map): rc $rc_u '$unix', mta-sts query '$want'"
            ;;
        *) fail "mta-sts query '$key' ($map): unexpected '$want'" ;;
    esac
    LAST=$want
}

# Every world domain except dnstimeout.example (last, see below).
n_ok=0
n_nf=0
for d in lf crlf wildcard testing none split twosts mixed notxt nodata 404 \
    redirect html charset big chunked stall reset wrongname expired \
    unknownca refused noaddr servfail v6only xn--bcher-kva badpolicy cname; do
    same "$d.example" postfix
    case $LAST in OK*) n_ok=$((n_ok + 1)) ;; *) n_nf=$((n_nf + 1)) ;; esac
done
[ "$n_ok" = 9 ] && [ "$n_nf" = 19 ] ||
    fail "world: $n_ok OK and $n_nf NOTFOUND, expected 9 and 19"
same lf.example postfix
[ "$LAST" = "OK secure match=mx1.lf.example servername=hostname" ] || fail "lf.example: $LAST"
same wildcard.example postfix
[ "$LAST" = "OK secure match=.wildcard.example servername=hostname" ] || fail "wildcard.example: $LAST"
ok "postmap -q = mta-sts query for all 28 world domains ($n_ok OK, $n_nf NOTFOUND), TCP and UNIX socket"

# postfix_version is "auto": the daemon asks this box's postconf.  The
# TLSRPT attributes go only to Postfix 3.10 and newer.
PFV=$(postconf -dh mail_version)
same lf.example rpt
case $PFV in
    3.[0-9].*)
        [ "$LAST" = "OK secure match=mx1.lf.example servername=hostname" ] ||
            fail "rpt zone for Postfix $PFV: $LAST"
        log_has tcp "tlsrpt is set but the local Postfix \(older\)" ||
            fail "no warning that Postfix $PFV takes no TLSRPT attributes"
        ;;
    *)
        case $LAST in *" policy_type=sts policy_domain=lf.example "*) ;;
            *) fail "rpt zone for Postfix $PFV: $LAST" ;;
        esac
        ;;
esac
ok "postfix_version auto: Postfix $PFV detected, TLSRPT attributes only for 3.10+"

same testing.example strict
[ "$LAST" = "OK secure match=mx1.testing.example servername=hostname" ] || fail "strict testing.example: $LAST"
same none.example strict
ok "the socketmap name selects the zone (strict_testing)"

for key in "[lf.example]" "[lf.example]:25" "lf.example:25" "LF.EXAMPLE." \
    ".lf.example" ".example" "[127.0.0.1]" "[127.0.0.1]:25" "[ipv6:::1]"; do
    same "$key" postfix
done
ok "key forms through postmap"

# UTF-8 keys: Postfix passes them on with smtputf8_enable = yes.
postconf -c "$PFCONF" -e "smtputf8_enable = yes"
same "bücher.example" postfix
[ "$LAST" = "OK secure match=mx1.xn--bcher-kva.example servername=hostname" ] || fail "bücher.example: $LAST"
ok "UTF-8 key through postmap (smtputf8_enable = yes)"

# Many keys on one connection, as Postfix's smtp processes do.
keys="lf.example testing.example .lf.example crlf.example notxt.example [lf.example]:25 wildcard.example"
got=$(printf '%s\n' $keys | postmap -c "$PFCONF" -q - "socketmap:inet:127.0.0.1:$PORT:postfix" 2>"$T_DIR/pm.err")
[ -s "$T_DIR/pm.err" ] && fail "postmap -q - warned: $(cat "$T_DIR/pm.err")"
want=$(printf '%s\t%s\n' lf.example "secure match=mx1.lf.example servername=hostname" \
    crlf.example "secure match=mx1.crlf.example servername=hostname" \
    "[lf.example]:25" "secure match=mx1.lf.example servername=hostname" \
    wildcard.example "secure match=.wildcard.example servername=hostname")
[ "$got" = "$want" ] || fail "postmap -q - gave
$got
expected
$want"
ok "postmap -q - : seven keys over one connection"

# Last: a TXT query that never gets an answer (it makes libunbound think
# the forwarder is down for a while, see tests/world/README.md).
t0=$(now_ms)
same dnstimeout.example postfix
ms=$(($(now_ms) - t0))
[ "$LAST" = "NOTFOUND " ] || fail "dnstimeout.example: $LAST"
ok "dnstimeout.example: NOTFOUND through postmap too (${ms} ms for three lookups)"

stop_daemon tcp
stop_daemon unix
ok "daemons stopped cleanly"
pass
