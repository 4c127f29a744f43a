#!/bin/bash
# bench/run.sh - every benchmark of DESIGN.md "Performance targets", in one
# run, printed as a table of ratios against baselines measured in the same
# run.  Timings never fail anything: the exit status is 0 unless the bench
# itself could not run.
#
#   sudo bench/run.sh [--quick] [--keep]
#
#   BUILD=DIR        build tree with mta-stsd and mta-sts (default: build-release
#                    if it exists, else build); use an optimized one
#   BENCH_ROUNDS=N   warm rounds; the table shows medians over them and
#                    the median of per-round ratios (default 5; --quick: 1)
#   BENCH_SECONDS=S  seconds per warm measurement (default 2; --quick: 1)
#   BENCH_COLD_ROUNDS=N  cold rounds, best of N (default 3, at most 3;
#                    --quick: 1)
#   BENCH_STORM_RATE=R  lookups/s of the paced warm load during the storm
#                    (default 5000)
#   BENCH_PIN=0      do not pin (default: servers on CPU 0, load generator
#                    on CPU 1, for the warm measurements only)
#   BENCH_PEER=0     skip postfix-mta-sts-resolver
#   BENCH_PARTS="warm cold storm rss"  the parts to run (default: all; the
#                    table reports only what ran)
#
# Needs root (network namespace), unbound, nginx, openssl, drill, curl,
# GNU time, and for the peer: apt-get install postfix-mta-sts-resolver
# python3-uvloop (its systemd unit is not used; we run it ourselves).
#
# Everything runs inside a network namespace made for the run: only lo,
# nothing can leave it, and ports 53 and 443 are free there, which the peer
# needs (it reads /etc/resolv.conf, bind-mounted by `ip netns exec` from
# /etc/netns/NS/resolv.conf, and fetches from port 443).  The peer trusts
# the test CA through SSL_CERT_FILE, set for its process only; nothing on
# the host changes.  A run takes about two minutes on 2 cores.

# PID_<name> are set with printf -v by start_ours and start_peer.
# shellcheck disable=SC2154
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PATH=$PATH:/usr/sbin:/sbin

QUICK=0
KEEP=0
INSIDE=0
for a in "$@"; do
    case $a in
        --quick) QUICK=1 ;;
        --keep) KEEP=1 ;;
        --inside) INSIDE=1 ;;
        *) echo "usage: bench/run.sh [--quick] [--keep]" >&2; exit 2 ;;
    esac
done

die() { echo "bench/run.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Outside: make the namespace, run this script inside it, clean up.
if [ "$INSIDE" = 0 ]; then
    [ "$(id -u)" = 0 ] || die "needs root (ip netns)"
    for t in ip unbound nginx openssl drill curl; do
        command -v "$t" >/dev/null || die "'$t' not found"
    done
    [ -x /usr/bin/time ] || die "GNU time not found: apt-get install time"
    NS=mtasts-bench-$$
    export BENCH_TMP=${BENCH_TMP:-$(mktemp -d /tmp/mtasts-bench.XXXXXX)}
    # shellcheck disable=SC2317  # called by the trap
    cleanup_ns() {
        ip netns del "$NS" 2>/dev/null || true
        rm -rf "/etc/netns/$NS"
        [ "$KEEP" = 1 ] || rm -rf "$BENCH_TMP"
    }
    trap cleanup_ns EXIT
    ip netns add "$NS"
    mkdir -p "/etc/netns/$NS"
    echo "nameserver 127.0.0.1" >"/etc/netns/$NS/resolv.conf"
    ip netns exec "$NS" ip link set lo up
    set +e
    ip netns exec "$NS" "$0" --inside "$@"
    rc=$?
    set -e
    [ "$KEEP" = 1 ] && echo "kept $BENCH_TMP"
    exit $rc
fi

# ---------------------------------------------------------------------------
# Inside the namespace.
T=$BENCH_TMP
BUILD=${BUILD:-}
if [ -z "$BUILD" ]; then
    if [ -x "$ROOT/build-release/daemon/mta-stsd" ]; then BUILD=$ROOT/build-release; else BUILD=$ROOT/build; fi
fi
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
DAEMON=$BUILD/daemon/mta-stsd
CLI=$BUILD/cli/mta-sts
if [ ! -x "$DAEMON" ] || [ ! -x "$CLI" ]; then
    die "no mta-stsd/mta-sts in $BUILD (build it first)"
fi
ROUNDS=${BENCH_ROUNDS:-5}
SECS=${BENCH_SECONDS:-2}
CROUNDS=${BENCH_COLD_ROUNDS:-3}
if [ "$QUICK" = 1 ]; then
    ROUNDS=${BENCH_ROUNDS:-1} SECS=${BENCH_SECONDS:-1} CROUNDS=${BENCH_COLD_ROUNDS:-1}
fi
[ "$CROUNDS" -le 3 ] || die "BENCH_COLD_ROUNDS is at most 3 (names for more are not in the world)"
PIN=${BENCH_PIN:-1}
PEER=${BENCH_PEER:-1}
PARTS=" ${BENCH_PARTS:-warm cold storm rss} "
part() { [[ $PARTS == *" $1 "* ]]; }
NCPU=$(nproc)
[ "$NCPU" -ge 2 ] || PIN=0
if [ "$PEER" = 1 ] && [ ! -x /usr/bin/mta-sts-daemon ]; then
    echo "note: /usr/bin/mta-sts-daemon missing: peer skipped" \
        "(apt-get install postfix-mta-sts-resolver python3-uvloop)" >&2
    PEER=0
fi

# The C tools: from the build tree when meson built them, else compiled here.
BIN=$T/bin
mkdir -p "$BIN" "$T/log" "$T/conf"
for tool in loadgen trivial-server; do
    if [ -x "$BUILD/bench/$tool" ]; then
        ln -sf "$BUILD/bench/$tool" "$BIN/$tool"
    else
        ${CC:-cc} -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$BIN/$tool" "$HERE/$tool.c" ||
            die "cannot compile $tool"
    fi
done
LOADGEN=$BIN/loadgen

PIDS=""
# TERM to a server and to its children (the daemon itself when BENCH_WRAP
# runs it under a profiler that waits for it).
stop_pid() {
    pkill -TERM -P "$1" 2>/dev/null || true
    kill -TERM "$1" 2>/dev/null || true
}
cleanup() {
    local p
    for p in $PIDS; do stop_pid "$p"; done
    for p in $PIDS; do
        for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    "$HERE/world-bench.sh" stop "$T/world" >/dev/null 2>&1 || true
}
trap cleanup EXIT

RESULTS=$T/results.txt
: >"$RESULTS"
res() { echo "$*" >>"$RESULTS"; }

# ---- helpers ---------------------------------------------------------------
cpu_ns() { # PID: CPU time of all its threads, ns
    local s=0 t v
    for t in /proc/"$1"/task/*/schedstat; do
        read -r v _ <"$t" 2>/dev/null || continue
        s=$((s + v))
    done
    echo "$s"
}
field() { # LINE KEY
    local kv
    for kv in $1; do
        case $kv in "$2="*) echo "${kv#*=}"; return ;; esac
    done
    echo 0
}
pin() { # PID CPULIST
    if [ "$PIN" = 1 ]; then taskset -a -cp "$2" "$1" >/dev/null 2>&1 || true; fi
}
wait_port() { # PORT PID NAME
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || { tail "$T/log/$3.log" >&2; die "$3 died at start"; }
        sleep 0.1
    done
    die "$3 not listening on $1"
}
calc() { awk "BEGIN { printf \"%s\", $* }"; }

start_ours() { # NAME PORT CACHE_SIZE
    cat >"$T/conf/$1.yml" <<EOF
host: 127.0.0.1
port: $2
cache:
  type: internal
  options:
    cache_size: $3
dnssec: "off"
ca_file: $BENCH_CA
default_zone:
  timeout: 4
EOF
    # shellcheck disable=SC2086  # BENCH_WRAP: a profiler command line, or empty
    ${BENCH_WRAP:-} "$DAEMON" -c "$T/conf/$1.yml" >"$T/log/$1.log" 2>&1 &
    printf -v "PID_$1" %s "$!"
    PIDS="$PIDS $!"
    wait_port "$2" "$!" "$1"
}

start_peer() { # NAME PORT CACHE_SIZE
    cat >"$T/conf/$1.yml" <<EOF
host: 127.0.0.1
port: $2
reuse_port: true
cache:
  type: internal
  options:
    cache_size: $3
default_zone:
  strict_testing: false
  timeout: 4
EOF
    SSL_CERT_FILE=$BENCH_CA /usr/bin/mta-sts-daemon -c "$T/conf/$1.yml" \
        >"$T/log/$1.log" 2>&1 &
    printf -v "PID_$1" %s "$!"
    PIDS="$PIDS $!"
    wait_port "$2" "$!" "$1"
    # as the peer recommends: uvloop (python3-uvloop) loaded?
    if grep -q uvloop "/proc/$!/maps" 2>/dev/null; then
        res "peer name=$1 uvloop=yes"
    else
        res "peer name=$1 uvloop=no"
        echo "note: the peer runs without uvloop (apt-get install python3-uvloop)" >&2
    fi
}

# fill PORT FIRST END: look every domain up once, 50 at a time
fill() {
    "$LOADGEN" -s "127.0.0.1:$1" -k 50 --once -P "d%u.bench.example" -r "$2:$3" \
        --label fill
}

# ---- world -------------------------------------------------------------------
echo "== bench world (17000 domains) =="
BENCH_DOMAINS=17000 "$HERE/world-bench.sh" start "$T/world" >"$T/log/world.log" 2>&1 ||
    { cat "$T/log/world.log" >&2; die "bench world did not start"; }
# shellcheck disable=SC1091
. "$T/world/env"
BUILDTYPE=$(python3 -c 'import json,sys
for o in json.load(open(sys.argv[1])):
    if o["name"] == "buildtype": print(o["value"])' \
    "$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null || echo "?")
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
res "machine cpus=$NCPU model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs | tr ' ' '_') load_at_start=${LOAD0// /,} build=$BUILD buildtype=$BUILDTYPE"

# Ranges of dN.bench.example: warm set 0-999; cold round r (0..2) uses
# 1000+4000r .. 4999+4000r (four tools x 1000), so every cold run sees
# names nobody (unbound included) has looked up yet; storms: closed loop
# 13000-13999 (ours) and 14000-14999 (peer), paced 15000-15999 (ours) and
# 16000-16999 (peer); the RSS daemons, fresh processes, 0-9999.
if part warm || part cold || part storm; then
start_ours ours 8461 20000
[ "$PEER" = 1 ] && start_peer peer 8462 20000
"$BIN/trivial-server" -p 7001 >"$T/log/trivial.log" 2>&1 &
PID_trivial=$!
PIDS="$PIDS $!"
wait_port 7001 "$PID_trivial" trivial
fi

if part warm || part storm; then
echo "== filling the warm set (d0-d999) =="
line=$(fill 8461 0 1000)
res "fill server=ours $line"
[ "$(field "$line" ok)" = 1000 ] || echo "warning: ours filled $(field "$line" ok)/1000" >&2
if [ "$PEER" = 1 ]; then
    line=$(fill 8462 0 1000)
    res "fill server=peer $line"
    [ "$(field "$line" ok)" = 1000 ] || echo "warning: peer filled $(field "$line" ok)/1000" >&2
fi

fi

# ---- 1. warm -------------------------------------------------------------------
if part warm; then
echo "== warm: $ROUNDS round(s) x ${SECS}s per server and K =="
SERVERS="trivial:7001 ours:8461"
[ "$PEER" = 1 ] && SERVERS="$SERVERS peer:8462"
LG_PIN=""
[ "$PIN" = 1 ] && LG_PIN="taskset -c 1"
for r in $(seq "$ROUNDS"); do
    for k in 8 64; do
        for sp in $SERVERS; do
            name=${sp%%:*} port=${sp#*:}
            pidvar=PID_$name
            pid=${!pidvar}
            pin "$pid" 0
            c0=$(cpu_ns "$pid")
            line=$($LG_PIN "$LOADGEN" -s "127.0.0.1:$port" -k "$k" -t "$SECS" \
                -P "d%u.bench.example" -r 0:1000 --label "$name")
            c1=$(cpu_ns "$pid")
            pin "$pid" "0-$((NCPU - 1))"
            n=$(field "$line" replies)
            cpu_us=$(calc "($n > 0) ? (($c1 - $c0) / 1000 / $n) : 0")
            util=$(calc "($c1 - $c0) / 1e9 / $(field "$line" elapsed_s) * 100")
            res "warm server=$name round=$r cpu_us_per_req=$cpu_us server_cpu_pct=$util $line"
        done
    done
done

fi

# ---- 2. cold ---------------------------------------------------------------------
if part cold; then
echo "== cold: 1000 uncached domains, 50 at a time, $CROUNDS round(s) =="
urls() { # FIRST END -> curl config
    local i
    for ((i = $1; i < $2; i++)); do
        echo "url = \"https://mta-sts.d$i.bench.example/.well-known/mta-sts.txt\""
        echo "output = /dev/null"
    done
}
timed() { # OUTFILE CMD...: wall user sys maxrss_kb
    local out=$1
    shift
    /usr/bin/time -o "$T/time.out" -f "%e %U %S %M" "$@" >"$out" 2>>"$T/log/cold.err" || true
    cat "$T/time.out"
}
for r in $(seq 0 $((CROUNDS - 1))); do
    b=$((1000 + r * 4000))
    # curl: HTTPS only (A/AAAA through getaddrinfo, no TXT, no parsing)
    urls "$b" "$((b + 1000))" >"$T/urls.cfg"
    read -r wall usr sys rss <<<"$(timed "$T/curl.out" curl -sS --parallel \
        --parallel-max 50 --cacert "$BENCH_CA" -w '%{http_code}\n' -K "$T/urls.cfg")"
    ok=$(grep -c '^200$' "$T/curl.out" || true)
    res "cold tool=curl round=$r wall_s=$wall cpu_s=$(calc "$usr + $sys") maxrss_kb=$rss ok=$ok"
    # mta-sts fetch: TXT + A/AAAA + HTTPS + parse, one process
    b1=$((b + 1000))
    read -r wall usr sys rss <<<"$(timed "$T/cli.out" "$CLI" fetch --dnssec off \
        --ca-file "$BENCH_CA" --concurrency 50 \
        $(seq -f "d%g.bench.example" "$b1" "$((b1 + 999))"))"
    ok=$(grep -c 'postfix:  OK secure' "$T/cli.out" || true)
    res "cold tool=cli round=$r wall_s=$wall cpu_s=$(calc "$usr + $sys") maxrss_kb=$rss ok=$ok"
    # mta-stsd over socketmap: 50 connections, each domain once
    b2=$((b + 2000))
    c0=$(cpu_ns "$PID_ours")
    line=$("$LOADGEN" -s 127.0.0.1:8461 -k 50 --once -P "d%u.bench.example" \
        -r "$b2:$((b2 + 1000))" --label ours)
    c1=$(cpu_ns "$PID_ours")
    res "cold tool=ours round=$r wall_s=$(field "$line" elapsed_s) cpu_s=$(calc "($c1 - $c0) / 1e9") ok=$(field "$line" ok) $line"
    if [ "$PEER" = 1 ]; then
        b3=$((b + 3000))
        c0=$(cpu_ns "$PID_peer")
        line=$("$LOADGEN" -s 127.0.0.1:8462 -k 50 --once -P "d%u.bench.example" \
            -r "$b3:$((b3 + 1000))" --label peer)
        c1=$(cpu_ns "$PID_peer")
        res "cold tool=peer round=$r wall_s=$(field "$line" elapsed_s) cpu_s=$(calc "($c1 - $c0) / 1e9") ok=$(field "$line" ok) $line"
    fi
done

fi

# ---- 3. warm during a cold storm ---------------------------------------------------
if part storm; then
echo "== warm K=8 during a cold storm =="
# The warm side runs closed loop (as fast as the daemon answers, which
# leaves the storm only what the warm load does not take), then paced at
# STORM_RATE lookups/s (a busy MTA's order of magnitude and more).
STORM_RATE=${BENCH_STORM_RATE:-5000}
storm() { # NAME PORT FIRST MODE
    local wl sl wpid pace=""
    [ "$4" = paced ] && pace="--rate $STORM_RATE"
    # shellcheck disable=SC2086  # $pace is two words or none
    "$LOADGEN" -s "127.0.0.1:$2" -k 8 -t 120 -P "d%u.bench.example" -r 0:1000 \
        $pace --label "$1-warm" >"$T/storm-warm.out" &
    wpid=$!
    sleep 0.5
    kill -USR1 "$wpid"
    sl=$("$LOADGEN" -s "127.0.0.1:$2" -k 50 --once -P "d%u.bench.example" \
        -r "$3:$(($3 + 1000))" --label "$1-storm")
    kill -TERM "$wpid"
    wait "$wpid" || true
    wl=$(cat "$T/storm-warm.out")
    res "storm server=$1 mode=$4 part=warm $wl"
    res "storm server=$1 mode=$4 part=cold $sl"
}
storm ours 8461 13000 closed
[ "$PEER" = 1 ] && storm peer 8462 14000 closed
storm ours 8461 15000 paced
[ "$PEER" = 1 ] && storm peer 8462 16000 paced

fi

# ---- 4. peak RSS with 10 000 cached policies ----------------------------------------
if part rss; then
echo "== RSS: 10000 cached policies =="
rss_of() { # NAME PID PORT
    local hwm0 line check hwm rss
    hwm0=$(awk '/^VmHWM/ {print $2}' "/proc/$2/status")
    line=$(fill "$3" 0 10000)
    check=$("$LOADGEN" -s "127.0.0.1:$3" -k 8 --once -P "d%u.bench.example" -r 0:10000 \
        --label "$1-check")
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$2/status")
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$2/status")
    anon=$(awk '/^RssAnon/ {print $2}' "/proc/$2/status")
    file=$(awk '/^RssFile/ {print $2}' "/proc/$2/status")
    res "rss server=$1 start_hwm_kb=$hwm0 peak_kb=$hwm rss_kb=$rss anon_kb=$anon file_kb=$file fill_ok=$(field "$line" ok) fill_s=$(field "$line" elapsed_s) check_ok=$(field "$check" ok) check_p99_us=$(field "$check" p99_us)"
}
# Fresh processes, nothing else cached; the others are stopped first.
for p in $PIDS; do stop_pid "$p"; done
sleep 0.5
start_ours oursrss 8463 10000
rss_of ours "$PID_oursrss" 8463
if [ "$PEER" = 1 ]; then
    start_peer peerrss 8464 10000
    rss_of peer "$PID_peerrss" 8464
fi

fi

# ---- report -----------------------------------------------------------------------------
python3 "$HERE/report.py" "$RESULTS" "$ROUNDS" "$SECS" "$PIN" "$CROUNDS"
if [ "$KEEP" = 1 ]; then
    echo "(raw results: $RESULTS; logs: $T/log)"
else
    echo "(--keep keeps the raw results and logs)"
fi
