# shellcheck shell=bash
# daemon-lib.sh - shared by tests/integration/daemon-*.sh and postfix-*.sh.
#
# A test script does:
#   . "$(dirname "$0")/daemon-lib.sh" "$@"     # args: MTA_STSD MTA_STS SRCDIR
#   need unbound unbound ...            # skip (77) or, with CI=true, fail
#   start_world                         # sets WORLD_* (tests/world/README.md)
#   start_daemon NAME CONFIG            # mta-stsd in the background
#   expect_reply MAP KEY "EXPECTED"     # through `mta-sts query`
#   stop_daemon NAME                    # SIGTERM; exit 0 and no sanitizer
#   pass                                # last line: summary, exit 0
# Everything started here is stopped by the EXIT trap (daemons by pid, the
# world with world.sh stop, then the cleanup hooks a test adds with
# on_exit), and the temporary directory is removed (KEEP=1 keeps it).
# A failing assertion prints "FAIL: ..." and the tail of the daemon logs,
# and exits 1.

set -u
PATH=$PATH:/usr/sbin:/sbin

MTA_STSD=${1:-${MTA_STSD:-}}
MTA_STS=${2:-${MTA_STS:-}}
SRCDIR=${3:-${SRCDIR:-}}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -n "$SRCDIR" ] || SRCDIR=$(cd "$HERE/../.." && pwd)
[ -n "$MTA_STSD" ] || MTA_STSD=$SRCDIR/build/daemon/mta-stsd
[ -n "$MTA_STS" ] || MTA_STS=$SRCDIR/build/cli/mta-sts
WORLD_SH=$SRCDIR/tests/world/world.sh
# shellcheck disable=SC2034  # used by the scripts that source this
SOCKMAP=$HERE/sockmap.py
T_NAME=$(basename "$0" .sh)

# Sanitizer builds: report leaks, print UB with a stack, keep going so
# the whole report lands in the log we check.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

N_PASS=0
T_START=$(date +%s)
T_DIR=""
declare -A D_PID D_LOG D_N
EXIT_HOOKS=()
WORLD_UP=""

say() { echo "[$T_NAME $(($(date +%s) - T_START))s] $*"; }

# A missing tool skips the test (77), except in CI where it fails.
skip() {
    if [ "${CI:-}" = true ]; then
        echo "FAIL: $* (CI=true: a missing tool is a failure)" >&2
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}

need() { # need BINARY DEBIAN-PACKAGE
    command -v "$1" >/dev/null 2>&1 ||
        skip "'$1' not found: apt-get install $2"
}

fail() {
    local n
    echo "FAIL: $*" >&2
    # a test may name a function that prints more context (metrics...)
    [ -n "${FAIL_HOOK:-}" ] && "$FAIL_HOOK" >&2 2>/dev/null
    for n in "${!D_LOG[@]}"; do
        echo "---- tail of daemon $n log (${D_LOG[$n]})" >&2
        tail -n 25 "${D_LOG[$n]}" 2>/dev/null | cut -c1-300 >&2
    done
    exit 1
}

ok() {
    N_PASS=$((N_PASS + 1))
    say "ok $N_PASS - $*"
}

pass() {
    say "PASS: $N_PASS checks in $(($(date +%s) - T_START)) s"
    exit 0
}

on_exit() { EXIT_HOOKS+=("$*"); }

cleanup() {
    local rc=$? n i
    trap - EXIT INT TERM
    for n in "${!D_PID[@]}"; do
        if kill -0 "${D_PID[$n]}" 2>/dev/null; then
            kill -KILL "${D_PID[$n]}" 2>/dev/null
            wait "${D_PID[$n]}" 2>/dev/null
        fi
    done
    for ((i = ${#EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
        eval "${EXIT_HOOKS[$i]}" >/dev/null 2>&1 || true
    done
    [ -n "$WORLD_UP" ] && "$WORLD_SH" stop "$WORLD_UP" >/dev/null 2>&1
    if [ -n "$T_DIR" ] && [ -d "$T_DIR" ]; then
        if [ "${KEEP:-0}" = 1 ]; then
            echo "kept $T_DIR" >&2
        else
            rm -rf "$T_DIR"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM

[ -x "$MTA_STSD" ] || fail "no daemon binary at $MTA_STSD"
[ -x "$MTA_STS" ] || fail "no CLI binary at $MTA_STS"
# Postfix daemons (user postfix) must be able to walk into it.
# (T_PARENT: a directory of a calling test that removes it in the end.)
T_DIR=$(mktemp -d "${T_PARENT:-/tmp}/mtasts-$T_NAME.XXXXXX")
chmod 755 "$T_DIR"

# A TCP port free on 127.0.0.1 now (the kernel's pick).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

now_ms() { date +%s%3N; }

start_world() { # [DIR]  (env WORLD_TTL, WORLD_PORT_BASE pass through)
    local w=${1:-$T_DIR/world}
    WORLD_UP=$w
    "$WORLD_SH" start "$w" >"$T_DIR/world-start.log" 2>&1 ||
        fail "world did not start: $(tail -n 5 "$T_DIR/world-start.log")"
    # shellcheck disable=SC1091
    . "$w/env"
    : "${WORLD_CA:?}" "${WORLD_DNS:?}" "${WORLD_CONNECT_TO:?}"
}

world_reload() {
    "$WORLD_SH" reload "$WORLD_DIR" >"$T_DIR/world-reload.log" 2>&1 ||
        fail "world reload failed: $(tail -n 5 "$T_DIR/world-reload.log")"
}

# The world part of a daemon config (append zones etc. after it).
world_config() { # PORT CACHEFILE
    cat <<EOF
port: $1
cache: {type: sqlite, options: {filename: $2}}
dnssec: "off"
resolver: ["$WORLD_DNS"]
ca_file: $WORLD_CA
connect_to: ["$WORLD_CONNECT_TO"]
EOF
}

# Sanitizer reports (ASan, LSan, UBSan) in a log: a failure.
check_sanitizer() { # LOG WHAT
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer' "$1" 2>/dev/null; then
        grep -E -A 30 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1" |
            head -n 60 >&2
        fail "$2: sanitizer report in $1"
    fi
}

# start_daemon NAME CONFIG [ARGS...]: log in $T_DIR/NAME-N.log; waits for
# "ready" and for the listener (port: or path: of the config).
start_daemon() {
    local name=$1 cfg=$2 n log pid port path i
    shift 2
    n=$((${D_N[$name]:-0} + 1))
    D_N[$name]=$n
    log=$T_DIR/$name-$n.log
    "$MTA_STSD" -c "$cfg" -v debug "$@" </dev/null >"$log" 2>&1 &
    pid=$!
    D_PID[$name]=$pid
    D_LOG[$name]=$log
    port=$(sed -n 's/^port: *\([0-9]*\).*/\1/p' "$cfg")
    path=$(sed -n 's/^path: *\(.*\)$/\1/p' "$cfg")
    for i in $(seq 200); do
        if grep -q 'ready$' "$log" 2>/dev/null; then
            if [ -n "$path" ]; then
                [ -S "$path" ] && return 0
            elif [ -z "$port" ] || (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
                return 0
            fi
        fi
        kill -0 "$pid" 2>/dev/null || fail "daemon $name exited at start"
        sleep 0.05
    done
    fail "daemon $name not ready after 10 s"
}

# stop_daemon NAME [SIGNAL]: the daemon must exit 0 within 30 s with no
# sanitizer report.
stop_daemon() {
    kill "-${2:-TERM}" "${D_PID[$1]}" 2>/dev/null || fail "daemon $1 not running"
    reap_daemon "$1" 30
}

# reap_daemon NAME SECONDS: wait for a daemon that is stopping by itself;
# it must exit 0 with no sanitizer report.
reap_daemon() {
    local name=$1 pid=${D_PID[$1]} rc i
    for i in $(seq $(($2 * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        grep -q '^[0-9]* (.*) Z' "/proc/$pid/stat" 2>/dev/null && break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null &&
        ! grep -q '^[0-9]* (.*) Z' "/proc/$pid/stat" 2>/dev/null &&
        fail "daemon $name still running after $2 s"
    wait "$pid"
    rc=$?
    unset "D_PID[$name]"
    check_sanitizer "${D_LOG[$name]}" "daemon $name"
    [ "$rc" = 0 ] || fail "daemon $name exited with status $rc"
}

# kill -9: no exit status to check, but UB reported before counts.
kill9_daemon() {
    local name=$1 pid=${D_PID[$1]}
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "D_PID[$name]"
    check_sanitizer "${D_LOG[$name]}" "daemon $name"
}

daemon_running() { kill -0 "${D_PID[$1]}" 2>/dev/null; }

# query SOCKET MAP KEY: the reply text as `mta-sts query` prints it.
# (Its stderr goes to $T_DIR/query.err; expect_reply checks that.)
query() {
    "$MTA_STS" query --socket "$1" --map "$2" -- "$3" 2>"$T_DIR/query.err"
}

# expect_reply MAP KEY EXPECTED [SOCKET]; default socket: inet:127.0.0.1:$PORT
expect_reply() {
    local sock=${4:-inet:127.0.0.1:$PORT} got
    got=$(query "$sock" "$1" "$2")
    check_sanitizer "$T_DIR/query.err" "mta-sts query"
    [ "$got" = "$3" ] ||
        fail "map $1 key '$2': expected '$3', got '$got' $(cat "$T_DIR/query.err")"
}

# Poll: wait_until SECONDS DESCRIPTION COMMAND...
wait_until() {
    local secs=$1 what=$2 i
    shift 2
    for i in $(seq $((secs * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    fail "timed out after $secs s waiting for $what"
}

# metrics PORT NAME{LABELS}: the value, or "" when absent.
metric() {
    curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
        awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print "" }'
}

# log_has NAME REGEX: in the current log of daemon NAME.
log_has() { grep -qE -- "$2" "${D_LOG[$1]}"; }

# log_count_is NAME REGEX N: exactly N lines match.
log_count_is() { [ "$(grep -cE -- "$2" "${D_LOG[$1]}")" = "$3" ]; }

# ---------------------------------------------------------------------------
# run_in_netns NAME-PREFIX RESOLV-OPTIONS: outside a namespace, make one
# (loopback only; /etc/netns/NS/resolv.conf "nameserver 127.0.0.1" with the
# given options), run this script again inside it, clean up, and exit with
# its status.  Inside the namespace (MTASTS_NETNS set) it returns at once.
# The inner run keeps its files under ours (T_PARENT), so whatever happens
# to it, removing our directory removes them.
run_in_netns() {
    [ -n "${MTASTS_NETNS:-}" ] && return 0
    NS=$1-$$
    INNER=""
    ip netns add "$NS" 2>"$T_DIR/netns.err" ||
        skip "cannot create a network namespace: $(cat "$T_DIR/netns.err")"
    netns_cleanup() {
        local p
        # the inner run stops what it started; give it the time to
        if [ -n "$INNER" ] && kill -TERM "$INNER" 2>/dev/null; then
            for _ in $(seq 200); do
                kill -0 "$INNER" 2>/dev/null || break
                sleep 0.1
            done
        fi
        for p in $(ip netns pids "$NS" 2>/dev/null); do
            kill -KILL "$p" 2>/dev/null
        done
        ip netns del "$NS" 2>/dev/null
        rm -rf "/etc/netns/$NS"
    }
    on_exit netns_cleanup
    mkdir -p "/etc/netns/$NS"
    printf 'nameserver 127.0.0.1\noptions %s\n' "$2" >"/etc/netns/$NS/resolv.conf"
    printf '127.0.0.1 localhost\n127.0.0.2 sender.localdomain\n' >"/etc/netns/$NS/hosts"
    # in the background, so that a signal to us is handled at once
    ip netns exec "$NS" env MTASTS_NETNS="$NS" T_PARENT="$T_DIR" \
        bash "$0" "$MTA_STSD" "$MTA_STS" "$SRCDIR" &
    INNER=$!
    wait "$INNER"
    rc=$?
    INNER=""
    # nothing of ours may outlive the test inside the namespace
    left=$(ip netns pids "$NS" 2>/dev/null | tr '\n' ' ')
    [ -z "$left" ] || { echo "FAIL: processes left in $NS: $left" >&2; rc=1; }
    exit "$rc"
}

# start_sender_postfix [MAIN.CF-SETTING...]: the sending Postfix of the
# delivery tests, on 127.0.0.2, asking mta-stsd on $PORT, trusting the
# world's CA; extra settings are appended.  Sets PF, MAILLOG, PFCONF.
start_sender_postfix() {
    PF=$T_DIR/pf
    "$INSTANCE" create "$PF" smtpd_listen=127.0.0.2:25 \
        "inet_interfaces = 127.0.0.2" \
        "smtp_tls_security_level = may" \
        "smtp_tls_policy_maps = socketmap:inet:127.0.0.1:$PORT:postfix" \
        "smtp_tls_CAfile = $WORLD_CA" \
        "smtp_address_preference = ipv4" \
        "$@" \
        >"$T_DIR/pf-create.log" 2>&1 || fail "postfix instance: $(cat "$T_DIR/pf-create.log")"
    on_exit "'$INSTANCE' stop '$PF'"
    "$INSTANCE" start "$PF" >"$T_DIR/pf-start.log" 2>&1 || fail "postfix start: $(cat "$T_DIR/pf-start.log")"
    MAILLOG=$PF/maillog
    PFCONF=$PF/conf
    say "postfix $(postconf -dh mail_version) running from $PFCONF"
}
