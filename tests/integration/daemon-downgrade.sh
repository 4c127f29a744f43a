#!/bin/bash
# daemon-downgrade.sh - a cached enforce policy stays enforced (RFC 8461
# §5.1) when the policy host later fails or the TXT record disappears, also
# across a restart and a kill -9; a new id with a valid policy replaces it.
#
#   daemon-downgrade.sh MTA_STSD MTA_STS SRCDIR     (meson passes these)
#
# The world runs with TTL 1 s and the daemon with cache_grace 1 s, so that
# every lookup after a second re-checks the TXT record in the background
# (answering from the cache meanwhile); the script waits for each re-check
# to finish (metrics) before it asks again.
. "$(dirname "$0")/daemon-lib.sh" "$@"

need unbound unbound
need nginx nginx-light
need openssl openssl
need drill ldnsutils
need python3 python3
need curl curl

export WORLD_TTL=1
start_world
PORT=$(free_port)
MPORT=$(free_port)
{
    world_config "$PORT" "$T_DIR/cache.db"
    cat <<EOF
cache_grace: 1
default_zone: {timeout: 2}
metrics: {enabled: true, port: $MPORT}
EOF
} >"$T_DIR/d.yml"

S_LF="OK secure match=mx1.lf.example servername=hostname"
S_CRLF="OK secure match=mx1.crlf.example servername=hostname"
POLICY_LF=$WORLD_WWW/mta-sts.lf.example/.well-known/mta-sts.txt

snap() {
    local v
    v=$(metric "$MPORT" "$1")
    echo "${v:-0}"
}
show_metrics() {
    echo "---- metrics"
    curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" | grep -E '^mtasts_(fetches|refresh|cache_hits|cache_misses|lookups_total|discoveries)'
}
# shellcheck disable=SC2034  # read by fail() in daemon-lib.sh
FAIL_HOOK=show_metrics
metric_above() { [ "$(snap "$1")" -gt "$2" ]; }

# recheck DOMAIN EXPECTED METRIC: after the grace period a lookup is
# answered from the cache at once (EXPECTED) and starts a re-check; repeat
# until METRIC counts a re-check (the daemon's resolver may still hold the
# old TXT answer for up to two whole seconds of TTL 1), then the answer
# must still be EXPECTED (or AFTER, when given).
recheck() {
    local dom=$1 want=$2 name=$3 after=${4:-$2} before i
    before=$(snap "$name")
    for i in $(seq 10); do
        sleep 1.1
        expect_reply postfix "$dom" "$want"
        for _ in $(seq 10); do
            metric_above "$name" "$before" && break 2
            sleep 0.1
        done
    done
    metric_above "$name" "$before" ||
        fail "$name did not count a re-check of $dom in 20 s"
    expect_reply postfix "$dom" "$after"
}

zone_edit() { # SED-SCRIPT
    sed -i "$1" "$WORLD_ZONE"
    world_reload
}

start_daemon d "$T_DIR/d.yml"
expect_reply postfix lf.example "$S_LF"
ok "lf.example fetched: enforce, cached"

# (a) The policy host fails.
mv "$POLICY_LF" "$POLICY_LF.orig"
recheck lf.example "$S_LF" 'mtasts_fetches_total{outcome="unchanged"}'
ok "(a1) policy 404 with the same TXT id: no fetch, still enforced"

zone_edit 's/id=lf2026/id=lf2027/'
recheck lf.example "$S_LF" 'mtasts_refresh_failures_enforce_total'
log_has d 'refresh failed domain=lf.example mode=enforce result=sts-policy-fetch-error' ||
    fail "no 'refresh failed' warning in the log"
ok "(a2) new TXT id, policy host answers 404: cached enforce policy kept, warning logged"

fails=$(snap 'mtasts_refresh_failures_enforce_total')
recheck lf.example "$S_LF" 'mtasts_fetches_total{outcome="rate-limited"}'
[ "$(snap 'mtasts_refresh_failures_enforce_total')" = "$fails" ] ||
    fail "the failed id lf2027 was fetched again within 5 minutes"
ok "(a2') the same failed id again: not refetched for 5 minutes (RFC 8461 §3.3)"

zone_edit "s/^mta-sts\.lf\.example\. IN A 127\.0\.0\.1/mta-sts.lf.example. IN A $WORLD_REFUSED_ADDR/; s/id=lf2027/id=lf2028/"
recheck lf.example "$S_LF" 'mtasts_refresh_failures_enforce_total'
ok "(a3) new TXT id, policy host refuses connections: still enforced"

# (b) The TXT record disappears (NXDOMAIN).
zone_edit '/^_mta-sts\.lf\.example\./d'
drill -p "$WORLD_DNS_PORT" @127.0.0.1 _mta-sts.lf.example TXT | grep -q NXDOMAIN ||
    fail "the world still answers _mta-sts.lf.example"
recheck lf.example "$S_LF" 'mtasts_fetches_total{outcome="no-txt"}'
ok "(b) TXT record removed: still enforced"

# (c) Restart on the same cache: the answer can only come from the file.
stop_daemon d
start_daemon d "$T_DIR/d.yml"
expect_reply postfix lf.example "$S_LF"
wait_until 10 "the re-check after restart" metric_above 'mtasts_fetches_total{outcome="no-txt"}' 0
expect_reply postfix lf.example "$S_LF"
ok "(c) SIGTERM and restart: still enforced from the sqlite cache"

# (d) kill -9 right after a fresh fetch, then the world forgets crlf.
expect_reply postfix crlf.example "$S_CRLF"
kill9_daemon d
zone_edit '/^_mta-sts\.crlf\.example\./d'
mv "$WORLD_WWW/mta-sts.crlf.example/.well-known/mta-sts.txt" "$T_DIR/crlf.orig"
start_daemon d "$T_DIR/d.yml"
expect_reply postfix lf.example "$S_LF"
expect_reply postfix crlf.example "$S_CRLF"
recheck crlf.example "$S_CRLF" 'mtasts_fetches_total{outcome="no-txt"}'
expect_reply postfix lf.example "$S_LF"
ok "(d) kill -9: lf.example and the just-fetched crlf.example still enforced"

# (e) A new id with a valid new policy replaces the cached one.
printf 'version: STSv1\nmode: enforce\nmx: mx2.lf.example\nmx: *.backup.example\nmax_age: 86400\n' >"$POLICY_LF"
zone_edit "s/^mta-sts\.lf\.example\. IN A .*/mta-sts.lf.example. IN A 127.0.0.1/; \$a _mta-sts.lf.example. IN TXT \"v=STSv1; id=lf2029\""
S_NEW="OK secure match=mx2.lf.example:.backup.example servername=hostname"
# served from the cache at once while the re-check fetches
recheck lf.example "$S_LF" 'mtasts_fetches_total{outcome="ok"}' "$S_NEW"
ok "(e1) new id lf2029 and a valid policy: the new policy replaces the old"

stop_daemon d
start_daemon d "$T_DIR/d.yml"
expect_reply postfix lf.example "$S_NEW"
ok "(e2) the replacement survived a restart"

printf 'version: STSv1\nmode: none\nmx: mx2.lf.example\nmax_age: 86400\n' >"$POLICY_LF"
zone_edit 's/id=lf2029/id=lf2030/'
recheck lf.example "$S_NEW" 'mtasts_fetches_total{outcome="ok"}' "NOTFOUND "
ok "(e3) new id with mode none: the domain opts out (NOTFOUND)"

# (f) CONFORMANCE.md C1: a re-check that finds the same id extends the
# policy's life without a fetch, so it outlives its max_age while the
# publisher's TXT record stands, even with the policy host gone.
POLICY_SPLIT=$WORLD_WWW/mta-sts.split.example/.well-known/mta-sts.txt
printf 'version: STSv1\nmode: enforce\nmx: mx1.split.example\nmax_age: 4\n' >"$POLICY_SPLIT"
S_SPLIT="OK secure match=mx1.split.example servername=hostname"
expect_reply postfix split.example "$S_SPLIT"
t_split=$(now_ms)
rm "$POLICY_SPLIT"
while [ $(($(now_ms) - t_split)) -lt 6500 ]; do
    recheck split.example "$S_SPLIT" 'mtasts_fetches_total{outcome="unchanged"}'
done
ok "(f) max_age 4, same TXT id, policy host gone: still enforced 6.5 s later (C1)"

# (g) ... but without the TXT record it lapses at max_age (§5.1).  No
# lookup for 2.6 s after the fetch, so that no re-check can still see the
# old TXT record (TTL 1) and extend the policy as in (f).
POLICY_MIXED=$WORLD_WWW/mta-sts.mixed.example/.well-known/mta-sts.txt
printf 'version: STSv1\nmode: enforce\nmx: mx1.mixed.example\nmax_age: 6\n' >"$POLICY_MIXED"
expect_reply postfix mixed.example "OK secure match=mx1.mixed.example servername=hostname"
t_fetch=$(now_ms)
rm "$POLICY_MIXED"
zone_edit '/^_mta-sts\.mixed\.example\./d'
sleep_until() { # MS since t_fetch
    local left=$(($1 - ($(now_ms) - t_fetch)))
    [ "$left" -gt 0 ] && sleep "$((left / 1000)).$(printf '%03d' $((left % 1000)))"
    return 0
}
sleep_until 2600
before=$(snap 'mtasts_fetches_total{outcome="no-txt"}')
expect_reply postfix mixed.example "OK secure match=mx1.mixed.example servername=hostname"
wait_until 5 "the re-check of mixed.example" metric_above 'mtasts_fetches_total{outcome="no-txt"}' "$before"
[ $(($(now_ms) - t_fetch)) -lt 5000 ] || fail "test too slow: the re-check ended after 5 s"
expect_reply postfix mixed.example "OK secure match=mx1.mixed.example servername=hostname"
# fetched at second S, expires when S + 6 has passed: 7.5 s is after that
sleep_until 7500
expect_reply postfix mixed.example "NOTFOUND "
ok "(g) max_age 6 and the TXT record gone: enforced until max_age, then NOTFOUND"

stop_daemon d
ok "daemon stopped cleanly"
pass
