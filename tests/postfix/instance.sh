#!/bin/bash
# instance.sh - a private Postfix instance for tests: its own
# config_directory, queue_directory, data_directory and log file, all under
# one directory; the system's Postfix (/etc/postfix, /var/spool/postfix) is
# neither read nor touched.
#
#   instance.sh create DIR [name=value ...]   write DIR/conf (main.cf and
#                                             master.cf), DIR/queue, DIR/data
#   instance.sh start DIR                     start the master (waits for it)
#   instance.sh stop DIR                      stop it and every child (idempotent)
#   instance.sh conf DIR                      print the config directory
#
# Defaults: no chroot, mail_owner postfix, inet_interfaces loopback-only,
# nothing local (mydestination empty, local delivery refused), log to
# DIR/maillog through postlogd (no syslog needed), long queue-run and
# back-off times so a deferred message stays put until the test flushes
# it.  No listening smtpd unless `smtpd_listen=ADDR:PORT` is given; every
# other name=value is set in main.cf with postconf -e.
#
# Needs root (Postfix's master) and the Debian package postfix.
set -eu
PATH=$PATH:/usr/sbin:/sbin

die() {
    echo "instance.sh: $*" >&2
    exit 1
}

# The postfix command logs to syslog, or to stderr only when that is a
# terminal; its messages also land in DIR/maillog.  Show them on failure.
run_postfix() { # DIR ARGS...
    local d=$1
    shift
    if ! postfix -c "$d/conf" "$@" >"$d/postfix-cmd.log" 2>&1; then
        tail -n 20 "$d/maillog" >&2 2>/dev/null || true
        cat "$d/postfix-cmd.log" >&2
        return 1
    fi
}

create() {
    local d=$1 listen="" kv
    shift
    command -v postfix >/dev/null || die "postfix not found: apt-get install postfix"
    id postfix >/dev/null 2>&1 || die "no user postfix"
    [ "$(id -u)" = 0 ] || die "must run as root"
    mkdir -p "$d"
    d=$(cd "$d" && pwd)
    case $d in *[[:space:]]*) die "DIR must not contain white space" ;; esac
    mkdir -p "$d/conf" "$d/queue" "$d/data"
    # Postfix's own processes (user postfix) walk into these.
    chmod 755 "$d"
    chown postfix "$d/data"
    cat >"$d/conf/main.cf" <<EOF
# private test instance; see tests/postfix/instance.sh
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
myhostname = sender.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination =
local_transport = error:5.1.1 local delivery is disabled in this test
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
maillog_file = $d/maillog
maillog_file_prefixes = $d
smtputf8_enable = no
biff = no
queue_run_delay = 3600s
minimal_backoff_time = 3600s
maximal_backoff_time = 3600s
maximal_queue_lifetime = 1d
bounce_queue_lifetime = 1d
smtp_connect_timeout = 10s
smtp_helo_timeout = 20s
EOF
    for kv in "$@"; do
        case $kv in
            smtpd_listen=*) listen=${kv#smtpd_listen=} ;;
            *=*) postconf -c "$d/conf" -e "$kv" ;;
            *) die "expected name=value, got '$kv'" ;;
        esac
    done
    {
        echo "# service type  private unpriv  chroot  wakeup  maxproc command"
        [ -n "$listen" ] &&
            echo "$listen inet n       -       n       -       -       smtpd"
        cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    } >"$d/conf/master.cf"
    run_postfix "$d" check || die "postfix check failed for $d"
}

master_pid() { # DIR
    local f=$1/queue/pid/master.pid
    [ -f "$f" ] && tr -d ' \n' <"$f"
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

start() {
    local d=$1 pid
    [ -f "$d/conf/main.cf" ] || die "no instance in $d (create it first)"
    run_postfix "$d" start || die "postfix start failed for $d"
    for _ in $(seq 100); do
        pid=$(master_pid "$d" || true)
        if alive "$pid" && grep -q 'daemon started' "$d/maillog" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "master of $d not running after 10 s"
}

# Processes of this instance: the master passes MAIL_CONFIG to its children.
instance_pids() { # DIR
    local p
    for p in /proc/[0-9]*; do
        if grep -qzxF "MAIL_CONFIG=$1/conf" "$p/environ" 2>/dev/null; then
            echo "${p#/proc/}"
        fi
    done
}

stop() {
    local d=$1 pid pids
    [ -d "$d/conf" ] || return 0
    d=$(cd "$d" && pwd)
    pid=$(master_pid "$d" || true)
    if alive "$pid"; then
        run_postfix "$d" stop || true
        for _ in $(seq 100); do
            alive "$pid" || break
            sleep 0.1
        done
    fi
    # children normally exit with the master; make sure
    for _ in $(seq 30); do
        pids=$(instance_pids "$d")
        [ -z "$pids" ] && return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
}

[ $# -ge 2 ] || die "usage: instance.sh create|start|stop|conf DIR [name=value...]"
cmd=$1
dir=$2
shift 2
case $cmd in
    create) create "$dir" "$@" ;;
    start) start "$(cd "$dir" && pwd)" ;;
    stop) stop "$dir" ;;
    conf) echo "$(cd "$dir" && pwd)/conf" ;;
    *) die "usage: instance.sh create|start|stop|conf DIR [name=value...]" ;;
esac
