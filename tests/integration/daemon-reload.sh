#!/bin/bash
# daemon-reload.sh - mta-stsd's life cycle: --check-config, SIGHUP reload
# (a broken file keeps the running config), SIGTERM drains lookups in
# flight, a second SIGTERM or shutdown_timeout cuts the drain short, and
# the UNIX socket listener.
#
#   daemon-reload.sh MTA_STSD MTA_STS SRCDIR     (meson passes these)
. "$(dirname "$0")/daemon-lib.sh" "$@"

need unbound unbound
need nginx nginx-light
need openssl openssl
need drill ldnsutils
need python3 python3
need curl curl

S_LF="OK secure match=mx1.lf.example servername=hostname"

# ---------------------------------------------------------------------------
# --check-config, without a world.
printf 'port: 8461\ncache:\n  type: sqlite\ncache_gracee: 5\n' >"$T_DIR/bad.yml"
out=$("$MTA_STSD" --check-config -c "$T_DIR/bad.yml" 2>&1)
rc=$?
check_sanitizer <(echo "$out") "mta-stsd --check-config"
[ "$rc" != 0 ] || fail "--check-config accepted bad.yml"
case $out in
    *"bad.yml:4: unknown key 'cache_gracee' (did you mean 'cache_grace'?)"*) ;;
    *) fail "--check-config on bad.yml said: $out" ;;
esac
ok "--check-config -c bad.yml exits $rc naming line 4"

printf 'port: 8461\ndefault_zone:\n  timeout: -3\n' >"$T_DIR/bad2.yml"
out=$("$MTA_STSD" --check-config -c "$T_DIR/bad2.yml" 2>&1) && fail "--check-config accepted bad2.yml"
case $out in *"bad2.yml:3:"*) ;; *) fail "--check-config on bad2.yml said: $out" ;; esac
out=$("$MTA_STSD" --check-config -c "$T_DIR/missing.yml" 2>&1) && fail "--check-config accepted a missing file"
ok "--check-config: a bad value names its line; a missing file fails"

start_world
PORT=$(free_port)
write_config() { # FILE EXTRA-YAML
    {
        world_config "$PORT" "$T_DIR/cache.db"
        echo "default_zone: {timeout: 2}"
        printf '%s\n' "$2"
    } >"$1"
}
write_config "$T_DIR/d.yml" ""
out=$("$MTA_STSD" --check-config -c "$T_DIR/d.yml" 2>&1) || fail "--check-config rejected d.yml: $out"
[ "$out" = "$T_DIR/d.yml: OK" ] || fail "--check-config on d.yml said: $out"
ok "--check-config -c good.yml exits 0"

# ---------------------------------------------------------------------------
# SIGHUP
start_daemon d "$T_DIR/d.yml"
expect_reply postfix lf.example "$S_LF"
expect_reply postfix testing.example "NOTFOUND "

pid=${D_PID[d]}
# a good, changed file: strict_testing for the postfix zone, no SNI
write_config "$T_DIR/d.yml" "zones: {postfix: {strict_testing: true, require_sni: false}}"
kill -HUP "$pid"
wait_until 10 "'reloaded' in the log" log_has d "reloaded $T_DIR/d.yml"
expect_reply postfix testing.example "OK secure match=mx1.testing.example"
expect_reply postfix lf.example "OK secure match=mx1.lf.example"
expect_reply other testing.example "NOTFOUND "
log_has d "take effect at the next restart" &&
    fail "a reload of zone settings warned about a restart"
ok "SIGHUP with a changed file: strict_testing and require_sni take effect"

# a broken file: the old config keeps serving, the error names the line
cp "$T_DIR/d.yml" "$T_DIR/d.yml.good"
sed 's/strict_testing: true/strict_testng: false/' "$T_DIR/d.yml.good" >"$T_DIR/d.yml"
kill -HUP "$pid"
wait_until 10 "the reload error in the log" log_has d "reload of $T_DIR/d.yml failed: keeping the running config"
log_has d "d.yml:[0-9]+: .*strict_testng" || fail "the reload error does not name the key and line"
daemon_running d || fail "daemon died on a broken reload"
expect_reply postfix testing.example "OK secure match=mx1.testing.example"
expect_reply postfix lf.example "OK secure match=mx1.lf.example"
ok "SIGHUP with a broken file: keeps serving with the old config, logs file:line"

printf 'port: [\n' >"$T_DIR/d.yml"
kill -HUP "$pid"
wait_until 10 "the second reload error" log_count_is d "failed: keeping the running config" 2
expect_reply postfix testing.example "OK secure match=mx1.testing.example"
rm -f "$T_DIR/d.yml"
kill -HUP "$pid"
wait_until 10 "the third reload error" log_count_is d "failed: keeping the running config" 3
expect_reply postfix testing.example "OK secure match=mx1.testing.example"
ok "SIGHUP with a YAML syntax error or a missing file: old config kept"

# back to defaults; a changed port is only taken at restart
OLDPORT=$PORT
PORT=$(free_port)
write_config "$T_DIR/d.yml" ""
PORT=$OLDPORT
kill -HUP "$pid"
wait_until 10 "the fourth reload" log_count_is d "reloaded " 2
log_has d "reload: changes to listener .* take effect at the next restart" ||
    fail "no warning about the listener change"
expect_reply postfix testing.example "NOTFOUND "
expect_reply postfix lf.example "$S_LF"
ok "SIGHUP with a new port: warned, still serving on the old one"
# settings the resolver took at start: said so, not silently dropped
write_config "$T_DIR/d.yml" "cache_grace: 5"
sed -i 's/default_zone: {timeout: 2}/default_zone: {timeout: 3}/;
    s|options: {filename: \([^}]*\)}|options: {filename: \1, negative_ttl: 7}|' "$T_DIR/d.yml"
grep -q 'negative_ttl: 7' "$T_DIR/d.yml" || fail "test bug: negative_ttl not set"
kill -HUP "$pid"
wait_until 10 "the fifth reload" log_count_is d "reloaded " 3
log_has d "reload: changes to cache.options.negative_ttl, cache_grace take effect at the next restart" ||
    fail "no warning naming cache_grace and negative_ttl"
# zone timeouts are read per lookup, so they apply at once: not listed
log_has d "default_zone.timeout take effect" &&
    fail "default_zone.timeout listed as restart-only though it applies at once"
expect_reply postfix lf.example "$S_LF"
ok "SIGHUP changing cache_grace, negative_ttl: warned that they wait for a restart; the zone timeout is live"
stop_daemon d
ok "daemon stopped cleanly after five reloads"

# ---------------------------------------------------------------------------
# SIGTERM drains: a lookup waiting for the network is answered, new
# clients are refused, then the daemon exits 0.
write_config "$T_DIR/drain.yml" "shutdown_timeout: 10"
start_daemon drain "$T_DIR/drain.yml"
t0=$(now_ms)
query "inet:127.0.0.1:$PORT" postfix stall.example >"$T_DIR/drain.out" &
qpid=$!
sleep 0.5 # the lookup waits for stall.example's policy host
pid=${D_PID[drain]}
kill -TERM "$pid"
wait_until 5 "'draining 1 lookups'" log_has drain "draining 1 lookups"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    fail "a new connection was accepted while draining"
fi
wait "$qpid"
[ "$(cat "$T_DIR/drain.out")" = "NOTFOUND " ] ||
    fail "the lookup in flight got '$(cat "$T_DIR/drain.out")' during the drain"
ms=$(($(now_ms) - t0))
reap_daemon drain 10 # exit 0, no sanitizer report
ok "SIGTERM: no new clients, the lookup in flight answered (${ms} ms), exit 0"

# shutdown_timeout shorter than the lookup: the client is cut off
write_config "$T_DIR/drain.yml" "shutdown_timeout: 1"
sed -i 's/default_zone: {timeout: 2}/default_zone: {timeout: 30}/' "$T_DIR/drain.yml"
start_daemon drain "$T_DIR/drain.yml"
query "inet:127.0.0.1:$PORT" postfix stall.example >"$T_DIR/drain.out" &
qpid=$!
sleep 0.5
t0=$(now_ms)
kill -TERM "${D_PID[drain]}"
wait "$qpid"
ms=$(($(now_ms) - t0))
[ -s "$T_DIR/drain.out" ] && fail "the cut-off client got a reply: $(cat "$T_DIR/drain.out")"
[ "$ms" -lt 5000 ] || fail "shutdown_timeout 1 s took $ms ms"
reap_daemon drain 10
log_has drain "shutdown timeout: 1 lookups left unanswered" || fail "no shutdown timeout message"
ok "shutdown_timeout 1: the unanswered client is closed after ${ms} ms, exit 0"

start_daemon drain "$T_DIR/drain.yml"
query "inet:127.0.0.1:$PORT" postfix stall.example >"$T_DIR/drain.out" &
qpid=$!
sleep 0.5
t0=$(now_ms)
kill -TERM "${D_PID[drain]}"
sleep 0.2
stop_daemon drain # the second SIGTERM
ms=$(($(now_ms) - t0))
wait "$qpid"
[ "$ms" -lt 1000 ] || fail "second SIGTERM: exit took $ms ms"
log_has drain "again: exiting now" || fail "no 'exiting now' after the second SIGTERM"
ok "a second SIGTERM exits at once (${ms} ms), exit 0"

# ---------------------------------------------------------------------------
# UNIX socket listener with a mode.
SOCK=$T_DIR/mta-sts.sock
{
    world_config 1 "$T_DIR/cache.db" | sed '/^port:/d'
    echo "path: $SOCK"
    echo "mode: 0660"
} >"$T_DIR/unix.yml"
start_daemon unix "$T_DIR/unix.yml"
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "socket mode is $(stat -c %a "$SOCK")"
expect_reply postfix lf.example "$S_LF" "unix:$SOCK"
got=$(python3 "$SOCKMAP" pipeline "$SOCK" postfix lf.example .lf.example testing.example)
[ "$got" = "$S_LF
NOTFOUND 
NOTFOUND " ] || fail "pipeline over the UNIX socket: $got"
stop_daemon unix
start_daemon unix "$T_DIR/unix.yml" # a stale socket file is replaced
expect_reply postfix lf.example "$S_LF" "unix:$SOCK"
stop_daemon unix
ok "UNIX socket: mode 0660, pipelining, stale socket replaced on restart"

pass
