#!/bin/bash
# A benchmark world: N domains dN.bench.example (N = BENCH_DOMAINS, default
# 10000), each with an MTA-STS TXT record and a policy served over HTTPS,
# on loopback only.  The approach is tests/world/world.sh's (unbound with
# an auth-zone for-upstream, nginx with a test CA made at run time), cut
# down to the one ordinary case and scaled up:
#
#   _mta-sts.dN.bench.example.  TXT "v=STSv1; id=dN2026"
#   mta-sts.dN.bench.example.   A   127.0.0.1
#   policy: version STSv1, mode enforce, mx mx1.dN.bench.example, max_age 86400
#
# Certificates: one ECDSA P-256 leaf per BENCH_SANS_PER_CERT (default 50)
# policy hosts, all issued by one test CA ($DIR/ca/ca.crt); one nginx
# server block per certificate, chosen by SNI.
#
#   world-bench.sh start DIR    generate, start unbound and nginx, write DIR/env
#   world-bench.sh stop DIR     stop them (idempotent)
#
# Ports: BENCH_DNS_PORT (default 53) and BENCH_HTTPS_PORT (default 443).  The
# defaults are what postfix-mta-sts-resolver needs (it reads /etc/resolv.conf
# and fetches from port 443), so bench/run.sh starts this world inside a
# network namespace of its own, where nothing else listens and no packet can
# leave: only lo exists there.  Outside a namespace pick free high ports.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PATH=$PATH:/usr/sbin:/sbin

N=${BENCH_DOMAINS:-10000}
PER_CERT=${BENCH_SANS_PER_CERT:-50}
DNS_PORT=${BENCH_DNS_PORT:-53}
HTTPS_PORT=${BENCH_HTTPS_PORT:-443}
NGINX_WORKERS=${BENCH_NGINX_WORKERS:-1}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

die() {
    echo "world-bench.sh: $*" >&2
    exit 1
}

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: apt-get install -y $2"; }

CLEANUP=0
trap 'if [ "$CLEANUP" = 1 ]; then CLEANUP=0; stop_world; fi' EXIT

# Zone, policy files, per-certificate SAN lists and the nginx server blocks,
# all from one Python run (10 000 domains in well under a second).
generate() {
    "$PY" - "$W" "$N" "$PER_CERT" "$HTTPS_PORT" <<'EOF'
import os, sys
w, n, per, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with open(f"{w}/zones/example.zone", "w") as z:
    z.write("$ORIGIN example.\n$TTL 3600\n"
            "@ IN SOA ns.example. hostmaster.example. 1 3600 600 86400 3600\n"
            "@ IN NS ns.example.\nns.example. IN A 127.0.0.1\n")
    for i in range(n):
        d = f"d{i}.bench"
        z.write(f'_mta-sts.{d} IN TXT "v=STSv1; id=d{i}2026"\n'
                f"mta-sts.{d} IN A 127.0.0.1\n"
                f"{d} IN MX 10 mx1.{d}.example.\n")
for i in range(n):
    host = f"mta-sts.d{i}.bench.example"
    os.makedirs(f"{w}/www/{host}/.well-known")
    with open(f"{w}/www/{host}/.well-known/mta-sts.txt", "w") as f:
        f.write(f"version: STSv1\nmode: enforce\nmx: mx1.d{i}.bench.example\n"
                "max_age: 86400\n")
groups = [list(range(s, min(s + per, n))) for s in range(0, n, per)]
with open(f"{w}/conf/groups", "w") as g:
    for k, grp in enumerate(groups):
        g.write(f"{k} " + ",".join(f"DNS:mta-sts.d{i}.bench.example"
                                   for i in grp) + "\n")
with open(f"{w}/conf/servers.conf", "w") as s:
    for k, grp in enumerate(groups):
        names = " ".join(f"mta-sts.d{i}.bench.example" for i in grp)
        s.write(f"""    server {{
        listen 127.0.0.1:{port} ssl;
        listen [::1]:{port} ssl;
        server_name {names};
        ssl_certificate     {w}/certs/g{k}.crt;
        ssl_certificate_key {w}/certs/leaf.key;
        root {w}/www/$host;
        location = /.well-known/mta-sts.txt {{ }}
    }}
""")
EOF
}

# One CA, one leaf key, one certificate per group of SANs (openssl 3.0's
# `req -x509 -CA` signs in one process).
write_certs() {
    local k sans
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -sha256 -days 3650 -subj "/CN=mta-sts bench test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$W/ca/ca.key" -out "$W/ca/ca.crt" 2>/dev/null
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$W/certs/leaf.key" 2>/dev/null
    while read -r k sans; do
        openssl req -new -x509 -key "$W/certs/leaf.key" -CA "$W/ca/ca.crt" \
            -CAkey "$W/ca/ca.key" -days 30 -sha256 -subj "/CN=bench group $k" \
            -addext "basicConstraints=critical,CA:FALSE" \
            -addext "keyUsage=critical,digitalSignature" \
            -addext "extendedKeyUsage=serverAuth" \
            -addext "subjectAltName=$sans" \
            -out "$W/certs/g$k.crt" 2>/dev/null || die "openssl failed for group $k"
    done <"$W/conf/groups"
}

write_unbound_conf() {
    cat >"$W/conf/unbound.conf" <<EOF
server:
    verbosity: 0
    num-threads: 1
    interface: 127.0.0.1@$DNS_PORT
    port: $DNS_PORT
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "$W"
    pidfile: "$W/run/unbound.own.pid"
    logfile: ""
    use-syslog: no
    module-config: "iterator"
    do-not-query-localhost: no
    outgoing-interface: 127.0.0.1
    local-zone: "." refuse
    local-zone: "example." transparent
    msg-cache-size: 64m
    rrset-cache-size: 64m

auth-zone:
    name: "example."
    zonefile: "$W/zones/example.zone"
    for-downstream: no
    for-upstream: yes
    fallback-enabled: no
EOF
}

write_nginx_conf() {
    local user=""
    [ "$(id -u)" = 0 ] && user="user root;"
    mkdir -p "$W/nginx-tmp"
    cat >"$W/conf/nginx.conf" <<EOF
$user
daemon off;
worker_processes $NGINX_WORKERS;
pid $W/run/nginx.own.pid;
error_log $W/logs/nginx-error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $W/nginx-tmp/body;
    proxy_temp_path $W/nginx-tmp/proxy;
    fastcgi_temp_path $W/nginx-tmp/fastcgi;
    uwsgi_temp_path $W/nginx-tmp/uwsgi;
    scgi_temp_path $W/nginx-tmp/scgi;
    server_tokens off;
    types { text/plain txt; }
    default_type application/octet-stream;
    ssl_protocols TLSv1.2 TLSv1.3;
    server_names_hash_max_size 65536;
    server_names_hash_bucket_size 128;
    server {
        listen 127.0.0.1:$HTTPS_PORT ssl default_server;
        listen [::1]:$HTTPS_PORT ssl default_server;
        ssl_reject_handshake on;
    }
    include $W/conf/servers.conf;
}
EOF
}

launch() { # NAME COMMAND...
    local name=$1
    shift
    "$@" </dev/null >>"$W/logs/$name.log" 2>&1 &
    echo $! >"$W/run/$name.pid"
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }

ours() { alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$W"; }

wait_for() { # NAME TEST...
    local name=$1 pid
    shift
    pid=$(cat "$W/run/$name.pid")
    for _ in $(seq 200); do
        "$@" >/dev/null 2>&1 && return 0
        alive "$pid" || { tail -n 20 "$W/logs/$name.log" >&2; die "$name exited during start-up"; }
        sleep 0.1
    done
    tail -n 20 "$W/logs/$name.log" >&2
    die "$name not answering after 20 s"
}

tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
dns_ready() { drill -p "$DNS_PORT" @127.0.0.1 _mta-sts.d0.bench.example TXT 2>/dev/null | grep -q 'rcode: NOERROR'; }

start() {
    need unbound unbound
    need nginx nginx-light
    need openssl openssl
    need drill ldnsutils
    if [ -e "$W" ] && [ -n "$(ls -A "$W")" ]; then die "$W exists and is not empty"; fi
    mkdir -p "$W"
    W=$(cd "$W" && pwd)
    case $W in *[[:space:]]*) die "world dir must not contain white space" ;; esac
    mkdir -p "$W/run" "$W/logs" "$W/conf" "$W/zones" "$W/certs" "$W/www" "$W/ca"
    generate
    write_certs
    write_unbound_conf
    write_nginx_conf
    unbound-checkconf "$W/conf/unbound.conf" >/dev/null || die "bad unbound.conf"
    CLEANUP=1
    launch unbound unbound -d -c "$W/conf/unbound.conf"
    launch nginx nginx -p "$W/nginx-tmp" -e "$W/logs/nginx-error.log" -c "$W/conf/nginx.conf"
    wait_for unbound dns_ready
    wait_for nginx tcp_open 127.0.0.1 "$HTTPS_PORT"
    cat >"$W/env" <<EOF
BENCH_DIR=$W
BENCH_DOMAINS=$N
BENCH_DNS_PORT=$DNS_PORT
BENCH_DNS=127.0.0.1@$DNS_PORT
BENCH_HTTPS_PORT=$HTTPS_PORT
BENCH_CA=$W/ca/ca.crt
BENCH_UNBOUND_PID=$(cat "$W/run/unbound.pid")
BENCH_NGINX_PID=$(cat "$W/run/nginx.pid")
EOF
    CLEANUP=0
    echo "bench world up in $W ($N domains, dns 127.0.0.1@$DNS_PORT, https port $HTTPS_PORT)"
}

stop_one() {
    local f=$W/run/$1.pid pid kids p
    [ -f "$f" ] || return 0
    pid=$(cat "$f")
    if ours "$pid"; then
        kids=$(pgrep -P "$pid" 2>/dev/null || true)
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
        for p in $pid $kids; do
            if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
        done
    fi
    rm -f "$f"
}

stop_world() {
    [ -d "$W/run" ] || return 0
    stop_one nginx
    stop_one unbound
    rm -f "$W/run/"*.own.pid "$W/env"
}

[ $# -eq 2 ] || die "usage: world-bench.sh start|stop DIR"
W=$2
case $1 in
    start) start ;;
    stop)
        [ -d "$W" ] && W=$(cd "$W" && pwd)
        stop_world
        ;;
    *) die "usage: world-bench.sh start|stop DIR" ;;
esac
: "$HERE"
