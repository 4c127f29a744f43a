#!/bin/bash
# daemon-zones.sh - zone semantics (the socketmap name picks a zone): each
# zone's keys default to the built-in defaults, not to default_zone's
# (postfix-mta-sts-resolver's rule, kept for its users), and each zone's
# own timeout bounds the lookups made through it (mta-sts.conf(5):
# "timeout: Seconds for the DNS lookups and for the whole policy fetch").
#
#   daemon-zones.sh MTA_STSD MTA_STS SRCDIR     (meson passes these)
. "$(dirname "$0")/daemon-lib.sh" "$@"

need unbound unbound
need nginx nginx-light
need openssl openssl
need drill ldnsutils
need python3 python3
need curl curl

start_world
PORT=$(free_port)
{
    world_config "$PORT" "$T_DIR/cache.db"
    cat <<EOF
default_zone: {timeout: 2, require_sni: false, strict_testing: true}
zones:
  postfix: {strict_testing: true}
  fast: {timeout: 1}
  slow: {timeout: 4}
EOF
} >"$T_DIR/d.yml"
start_daemon d "$T_DIR/d.yml"

# Keys left out of a zone take the built-in default (require_sni true,
# strict_testing false), not default_zone's.
expect_reply postfix lf.example "OK secure match=mx1.lf.example servername=hostname"
expect_reply postfix testing.example "OK secure match=mx1.testing.example servername=hostname"
expect_reply fast testing.example "NOTFOUND "
expect_reply fast lf.example "OK secure match=mx1.lf.example servername=hostname"
expect_reply unlisted testing.example "OK secure match=mx1.testing.example"
expect_reply unlisted lf.example "OK secure match=mx1.lf.example"
ok "zone keys default to the built-in defaults; unlisted names get default_zone"

# stall.example's policy host never finishes its body: every lookup waits
# for its zone's timeout (the discovery itself goes on for 30 s, and the
# three lookups below join it).
timed() { # ZONE -> ms
    local t0
    t0=$(now_ms)
    expect_reply "$1" stall.example "NOTFOUND "
    echo $(($(now_ms) - t0))
}
ms_default=$(timed unlisted)
ms_fast=$(timed fast)
ms_slow=$(timed slow)
say "stall.example answered after: default_zone ${ms_default} ms, fast ${ms_fast} ms, slow ${ms_slow} ms"
within() { [ "$1" -ge $(($2 - 300)) ] && [ "$1" -le $(($2 + 1000)) ]; }
within "$ms_default" 2000 || fail "default_zone (timeout 2): answered after $ms_default ms"
within "$ms_fast" 1000 || fail "zone fast (timeout 1): answered after $ms_fast ms, not ~1000"
within "$ms_slow" 4000 || fail "zone slow (timeout 4): answered after $ms_slow ms, not ~4000"
ok "each zone's timeout bounds its lookups"

stop_daemon d
pass
