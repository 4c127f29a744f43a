#!/bin/bash
# Hermetic MTA-STS test world: a real unbound (DNS for the zone example.),
# a real nginx (policy hosts over HTTPS with a test CA) and two tiny Python
# fault servers, all on loopback, all generated into one directory.
#
#   world.sh start DIR   generate everything in DIR, start the servers, wait
#                        until they answer, write DIR/env
#   world.sh stop DIR    stop what start started (idempotent)
#   world.sh reload DIR  re-read DIR/zones/example.zone and nginx.conf after
#                        a test edited them (the zones are signed again, then
#                        SIGHUP; unbound's cache is lost)
#
# See README.md beside this file for the test domains and expected outcomes.
# Nothing here sends a packet outside 127.0.0.0/8 and ::1.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
# unbound and nginx live in sbin, which a non-login shell may not have.
PATH=$PATH:/usr/sbin:/sbin

FAULT_ADDR=127.0.0.3   # policy hosts served by faulthttp.py
REFUSED_ADDR=127.0.0.9 # nothing ever listens here
TTL=${WORLD_TTL:-300}  # zone TTL; tests that edit the zone may want less

# Set once servers may be running: then any failed exit (die, set -e, a
# signal) stops them, so a failed start leaves nothing behind.
CLEANUP=0
trap 'if [ "$CLEANUP" = 1 ]; then CLEANUP=0; stop_world; fi' EXIT
die() {
    echo "world.sh: $*" >&2
    exit 1
}

need() { # need BINARY DEBIAN-PACKAGE
    command -v "$1" >/dev/null 2>&1 ||
        die "'$1' not found: apt-get install -y $2"
}

# --------------------------------------------------------------------------
# Ports.  Four per world: DNS (unbound), fault DNS, black-hole DNS, HTTPS.
# Either WORLD_PORT_BASE..+3, or free ones picked by the kernel (port 0) and
# checked free on every address that will bind them, so that several worlds
# can run side by side.
pick_ports() {
    python3 - "${WORLD_PORT_BASE:-}" "$FAULT_ADDR" <<'EOF'
import socket, sys
base, fault = sys.argv[1], sys.argv[2]
ADDRS = [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1"),
         (socket.AF_INET, fault)]
def free(port):
    for fam, addr in ADDRS:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(fam, kind)
            try:
                s.bind((addr, port))
            except OSError:
                return False
            finally:
                s.close()
    return True
if base:
    ports = [int(base) + i for i in range(4)]
    bad = [p for p in ports if not free(p)]
    if bad:
        sys.exit("WORLD_PORT_BASE=%s: port(s) %s in use" % (base, bad))
else:
    ports = []
    while len(ports) < 4:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p not in ports and free(p):
            ports.append(p)
print(*ports)
EOF
}

# --------------------------------------------------------------------------
# Test CA and certificates (ECDSA P-256).  `openssl ca` is used for leaves
# because it is the one tool in openssl 3.0 that sets an arbitrary notBefore/
# notAfter, which the expired certificate needs.
write_ca_conf() { # DIR-of-CA
    cat >"$1/openssl.cnf" <<EOF
[ ca ]
default_ca = world_ca
[ world_ca ]
dir            = $1
database       = \$dir/index.txt
new_certs_dir  = \$dir/newcerts
serial         = \$dir/serial
certificate    = \$dir/ca.crt
private_key    = \$dir/ca.key
default_md     = sha256
policy         = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:\${ENV::SAN}
EOF
}

make_ca() { # CADIR "Common Name"
    mkdir -p "$1/newcerts"
    : >"$1/index.txt"
    echo 1000 >"$1/serial"
    write_ca_conf "$1"
    SAN=unused openssl req -config "$1/openssl.cnf" -x509 -new -nodes \
        -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days 3650 \
        -extensions v3_ca -subj "/CN=$2" \
        -keyout "$1/ca.key" -out "$1/ca.crt" 2>/dev/null
}

# issue CADIR OUTNAME DNSNAME [STARTDATE ENDDATE]
# writes $W/certs/OUTNAME.crt and .key, a leaf for DNSNAME
issue() {
    local cadir=$1 out=$W/certs/$2 name=$3 dates
    if [ $# -ge 5 ]; then dates="-startdate $4 -enddate $5"; else dates="-days 30"; fi
    SAN=$name openssl req -config "$cadir/openssl.cnf" -new -nodes \
        -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=$name" \
        -keyout "$out.key" -out "$out.csr" 2>/dev/null
    # shellcheck disable=SC2086  # $dates is two options on purpose
    SAN=$name openssl ca -config "$cadir/openssl.cnf" -batch -notext \
        -extensions leaf $dates -in "$out.csr" -out "$out.crt" 2>/dev/null ||
        die "openssl ca failed for $name"
    rm -f "$out.csr"
}

# --------------------------------------------------------------------------
# Policies.  policy NAME MODE MX MAX_AGE [crlf]  -> $W/www/mta-sts.NAME.example/...
policy_text() { # MODE MX MAX_AGE EOL
    printf 'version: STSv1%smode: %s%smx: %s%smax_age: %s%s' \
        "$4" "$1" "$4" "$2" "$4" "$3" "$4"
}
policy() { # HOST MODE MX MAX_AGE [crlf]
    local eol=$'\n'
    [ "${5:-}" = crlf ] && eol=$'\r\n'
    mkdir -p "$W/www/$1/.well-known"
    policy_text "$2" "$3" "$4" "$eol" >"$W/www/$1/.well-known/mta-sts.txt"
}

# A valid enforce policy padded with extension lines (which RFC 8461 §3.2
# says parsers must accept) to exactly 1 MiB: only its size is wrong.
big_policies() { # MX OUTFILE [MX OUTFILE...]   (one python start for all)
    python3 - "$@" <<'EOF'
import sys
args = sys.argv[1:]
size = 1 << 20
pad = "".join("pad%06d: %s\n" % (i, "x" * 54) for i in range(size // 64 + 1))
for mx, out in zip(args[0::2], args[1::2]):
    head = "version: STSv1\nmode: enforce\nmx: %s\nmax_age: 86400\n" % mx
    body = (head + pad)[:size - 1] + "\n"  # last pad line cut short
    with open(out, "w") as f:
        f.write(body)
EOF
}

# --------------------------------------------------------------------------
# Every test domain, with the id of its _mta-sts TXT record (or "-").
DOMAINS="lf crlf wildcard testing none split twosts mixed notxt nodata 404
redirect html charset big chunked stall reset wrongname expired unknownca
refused noaddr servfail dnstimeout v6only xn--bcher-kva badpolicy cname"

write_zone() {
    local d z=$W/zones/example.zone
    {
        echo "\$ORIGIN example."
        echo "\$TTL $TTL"
        echo "@ IN SOA ns.example. hostmaster.example. 1 3600 600 86400 $TTL"
        echo "@ IN NS ns.example."
        echo "ns.example. IN A 127.0.0.1"
        echo
        echo "; every domain gets an MX mx1.<d> -> 127.0.0.1 for later tests"
        for d in $DOMAINS; do
            echo "$d.example. IN MX 10 mx1.$d.example."
            echo "mx1.$d.example. IN A 127.0.0.1"
        done
        echo
        echo "; the ordinary case: one STS TXT record, policy host on nginx"
        for d in lf crlf wildcard testing none 404 redirect html charset big \
                 wrongname expired unknownca badpolicy xn--bcher-kva; do
            echo "_mta-sts.$d.example. IN TXT \"v=STSv1; id=${d//[^a-z0-9]/}2026\""
            echo "mta-sts.$d.example. IN A 127.0.0.1"
        done
        cat <<EOF

; several character-strings, to be joined without separator: v=STSv1; id=split2026
_mta-sts.split.example. IN TXT "v=STSv1; " "id=split" "2026"
mta-sts.split.example. IN A 127.0.0.1
; two STS records: no policy (RFC 8461 3.1)
_mta-sts.twosts.example. IN TXT "v=STSv1; id=twosts1"
_mta-sts.twosts.example. IN TXT "v=STSv1; id=twosts2"
mta-sts.twosts.example. IN A 127.0.0.1
; an SPF record beside the STS record: the STS one is used
_mta-sts.mixed.example. IN TXT "v=spf1 -all"
_mta-sts.mixed.example. IN TXT "v=STSv1; id=mixed2026"
mta-sts.mixed.example. IN A 127.0.0.1
; no _mta-sts name at all (NXDOMAIN), but a policy host
mta-sts.notxt.example. IN A 127.0.0.1
; _mta-sts name exists with type A only: TXT query is NODATA
_mta-sts.nodata.example. IN A 127.0.0.1
mta-sts.nodata.example. IN A 127.0.0.1
; policy hosts served by faulthttp.py on $FAULT_ADDR
_mta-sts.chunked.example. IN TXT "v=STSv1; id=chunked2026"
mta-sts.chunked.example. IN A $FAULT_ADDR
_mta-sts.stall.example. IN TXT "v=STSv1; id=stall2026"
mta-sts.stall.example. IN A $FAULT_ADDR
_mta-sts.reset.example. IN TXT "v=STSv1; id=reset2026"
mta-sts.reset.example. IN A $FAULT_ADDR
; policy host address where nothing listens (connection refused)
_mta-sts.refused.example. IN TXT "v=STSv1; id=refused2026"
mta-sts.refused.example. IN A $REFUSED_ADDR
; policy host without any address (NXDOMAIN)
_mta-sts.noaddr.example. IN TXT "v=STSv1; id=noaddr2026"
; _mta-sts.servfail.example is a stub zone to faultdns.py (SERVFAIL) and
; _mta-sts.dnstimeout.example a "deny" local-zone (silence): see unbound.conf
mta-sts.servfail.example. IN A 127.0.0.1
mta-sts.dnstimeout.example. IN A 127.0.0.1
; policy host reachable over IPv6 only
_mta-sts.v6only.example. IN TXT "v=STSv1; id=v6only2026"
mta-sts.v6only.example. IN AAAA ::1
; delegation (RFC 8461 8.2): the TXT record is lf.example's
_mta-sts.cname.example. IN CNAME _mta-sts.lf.example.
mta-sts.cname.example. IN A 127.0.0.1
EOF
    } >"$z"
}

write_policies() {
    local d
    for d in lf wildcard testing none split twosts mixed notxt nodata html \
             charset wrongname expired unknownca servfail dnstimeout v6only \
             xn--bcher-kva cname; do
        policy "mta-sts.$d.example" enforce "mx1.$d.example" 86400
    done
    policy mta-sts.crlf.example enforce mx1.crlf.example 86400 crlf
    policy mta-sts.wildcard.example enforce "*.wildcard.example" 86400
    policy mta-sts.testing.example testing mx1.testing.example 604800
    policy mta-sts.none.example none mx1.none.example 86400
    # badpolicy: no max_age line, so the policy is invalid
    mkdir -p "$W/www/mta-sts.badpolicy.example/.well-known"
    printf 'version: STSv1\nmode: enforce\nmx: mx1.badpolicy.example\n' \
        >"$W/www/mta-sts.badpolicy.example/.well-known/mta-sts.txt"
    # 404: the document root exists, the file does not
    mkdir -p "$W/www/mta-sts.404.example"
    mkdir -p "$W/www/mta-sts.big.example/.well-known" "$W/bodies"
    big_policies mx1.big.example "$W/www/mta-sts.big.example/.well-known/mta-sts.txt" \
        mx1.chunked.example "$W/bodies/mta-sts.chunked.example.txt"
}

write_certs() {
    local d
    make_ca "$W/ca" "mta-sts world test CA"
    make_ca "$W/unknown-ca" "mta-sts world UNKNOWN CA"
    for d in lf crlf wildcard testing none split twosts mixed notxt nodata \
             404 redirect html charset big chunked stall reset badpolicy \
             servfail dnstimeout v6only xn--bcher-kva cname; do
        issue "$W/ca" "mta-sts.$d.example" "mta-sts.$d.example"
    done
    # valid chain, but for another name only
    issue "$W/ca" mta-sts.wrongname.example mta-sts.other.example
    # right name, right CA, validity ended long ago
    issue "$W/ca" mta-sts.expired.example mta-sts.expired.example \
        20200101000000Z 20200201000000Z
    # right name, valid dates, issuer not in WORLD_CA
    issue "$W/unknown-ca" mta-sts.unknownca.example mta-sts.unknownca.example
}

# --------------------------------------------------------------------------
write_unbound_conf() {
    cat >"$W/conf/unbound.conf" <<EOF
# Authoritative data for example. is served through the iterator
# (for-upstream only), so clients get what a real recursive resolver gives:
# RA set, NXDOMAIN and NODATA with the SOA, CNAMEs followed.
server:
    verbosity: 1
    num-threads: 1
    interface: 127.0.0.1@$DNS_PORT
    interface: ::1@$DNS_PORT
    port: $DNS_PORT
    do-ip4: yes
    do-ip6: yes
    do-udp: yes
    do-tcp: yes
    access-control: 127.0.0.0/8 allow
    access-control: ::1/128 allow
    username: ""
    chroot: ""
    directory: "$W"
    pidfile: "$W/run/unbound.own.pid"
    logfile: ""
    use-syslog: no
    log-time-ascii: yes
    module-config: "iterator"
    # The fault servers are on 127.0.0.1, which unbound skips by default.
    do-not-query-localhost: no
    # Outgoing queries leave from 127.0.0.1 only: the kernel cannot route
    # such packets off the machine.
    outgoing-interface: 127.0.0.1
    # Names outside example. are refused at once, never resolved.
    local-zone: "." refuse
    local-zone: "example." transparent
    # DNS timeout: unbound drops these queries, so no answer ever comes.
    local-zone: "_mta-sts.dnstimeout.example." deny

auth-zone:
    name: "example."
    # signed copy of example.zone, made by sign_zones (DANE section)
    zonefile: "$W/zones/example.zone.signed"
    for-downstream: no
    for-upstream: yes
    fallback-enabled: no

# SERVFAIL: faultdns.py answers SERVFAIL for this name; unbound passes it on.
stub-zone:
    name: "_mta-sts.servfail.example."
    stub-addr: 127.0.0.1@$FAULTDNS_PORT

# Anything the iterator might still look up outside example. (root priming,
# NS names) goes to faultdns.py, which answers REFUSED: never the Internet.
stub-zone:
    name: "."
    stub-addr: 127.0.0.1@$FAULTDNS_PORT
EOF
    dane_unbound_conf >>"$W/conf/unbound.conf"
}

# One nginx server block per policy host, chosen by SNI.
vhost() { # HOST CERTNAME [EXTRA-LOCATION-DIRECTIVES]
    cat <<EOF
    server {
        listen 127.0.0.1:$HTTPS_PORT ssl;
        listen [::1]:$HTTPS_PORT ssl;
        server_name $1;
        ssl_certificate     $W/certs/$2.crt;
        ssl_certificate_key $W/certs/$2.key;
        root $W/www/$1;
        location = /.well-known/mta-sts.txt { ${3:-} }
    }
EOF
}

write_nginx_conf() {
    local d user=""
    # As root nginx would drop its workers to nobody, who cannot read DIR.
    [ "$(id -u)" = 0 ] && user="user root;"
    mkdir -p "$W/nginx-tmp"
    {
        cat <<EOF
$user
daemon off;
worker_processes 1;
pid $W/run/nginx.own.pid;
error_log $W/logs/nginx-error.log info;
events { worker_connections 1024; }
http {
    access_log $W/logs/nginx-access.log;
    client_body_temp_path $W/nginx-tmp/body;
    proxy_temp_path $W/nginx-tmp/proxy;
    fastcgi_temp_path $W/nginx-tmp/fastcgi;
    uwsgi_temp_path $W/nginx-tmp/uwsgi;
    scgi_temp_path $W/nginx-tmp/scgi;
    server_tokens off;
    types { text/plain txt; }
    default_type application/octet-stream;
    ssl_protocols TLSv1.2 TLSv1.3;

    # Unknown or missing SNI: the handshake is refused (unrecognized_name).
    server {
        listen 127.0.0.1:$HTTPS_PORT ssl default_server;
        listen [::1]:$HTTPS_PORT ssl default_server;
        ssl_reject_handshake on;
    }

EOF
        for d in lf crlf wildcard testing none split twosts mixed notxt \
                 nodata 404 big badpolicy servfail dnstimeout v6only \
                 xn--bcher-kva cname; do
            vhost "mta-sts.$d.example" "mta-sts.$d.example"
        done
        vhost mta-sts.redirect.example mta-sts.redirect.example \
            "return 301 https://mta-sts.lf.example/.well-known/mta-sts.txt;"
        vhost mta-sts.html.example mta-sts.html.example \
            "types { } default_type text/html;"
        vhost mta-sts.charset.example mta-sts.charset.example \
            "types { } default_type \"text/plain; charset=utf-8\";"
        vhost mta-sts.wrongname.example mta-sts.wrongname.example
        vhost mta-sts.expired.example mta-sts.expired.example
        vhost mta-sts.unknownca.example mta-sts.unknownca.example
        dane_vhosts
        check_vhosts
        echo "}"
    } >"$W/conf/nginx.conf"
}

# --------------------------------------------------------------------------
# DANE (RFC 7672, RFC 6698).  The zone example. is DNSSEC-signed at start
# (NSEC; one ECDSA P-256 key per zone, flags 257, signing everything) and
# DIR/dnssec/example.ds (WORLD_TA) is the trust anchor a validating client
# loads.  The world's unbound does not validate; it passes RRSIG, NSEC and DS
# on to clients that set DO.  Child zones (dane-unsigned, dane-bogus,
# dane-expired) are auth-zones of their own: the iterator answers from the
# most specific zone, and DS queries from the parent.  The TLSA name of
# dane-tlsafail is a signed delegation (DS) to faultdns.py (SERVFAIL).
# Domains with an MTA-STS policy as well (TXT, policy host, mx1 certificate):
DANE_MTASTS="dane-ok dane-mismatch dane-notlsa dane-unsigned dane-bogus
dane-expired dane-tlsafail"

# dnssec_key ZONE NAME: a new key for ZONE as DIR/dnssec/NAME.{key,private}
dnssec_key() {
    local base e
    base=$(cd "$W/dnssec" && ldns-keygen -a ECDSAP256SHA256 -k "$1") ||
        die "ldns-keygen failed for $1"
    for e in key private; do mv "$W/dnssec/$base.$e" "$W/dnssec/$2.$e"; done
    rm -f "$W/dnssec/$base.ds"
}
ds_of() { # NAME: the SHA-256 DS record of DIR/dnssec/NAME.key, TTL $TTL
    ldns-key2ds -n -2 "$W/dnssec/$1.key" |
        awk -v ttl="$TTL" '{ $2 = ttl; print }'
}
# spki_sha256 CERTNAME: hex SHA-256 of the DER SubjectPublicKeyInfo of
# $W/certs/CERTNAME.crt, taken from its key (one openssl run, not two)
spki_sha256() {
    openssl pkey -in "$W/certs/$1.key" -pubout -outform DER |
        sha256sum | cut -d' ' -f1
}
# dane_records D [TLSA-HASH]: MX, mx1 A, the MTA-STS TXT and policy host,
# and a TLSA 3 1 1 at _25._tcp.mx1.D if a hash is given (absolute names)
dane_records() {
    echo "$1.example. IN MX 10 mx1.$1.example."
    echo "mx1.$1.example. IN A 127.0.0.1"
    echo "_mta-sts.$1.example. IN TXT \"v=STSv1; id=${1//[^a-z0-9]/}2026\""
    echo "mta-sts.$1.example. IN A 127.0.0.1"
    [ -z "${2:-}" ] || echo "_25._tcp.mx1.$1.example. IN TLSA 3 1 1 $2"
}
child_zone() { # D [TLSA-HASH]: DIR/zones/D.example.zone
    {
        echo "\$ORIGIN $1.example."
        echo "\$TTL $TTL"
        echo "@ IN SOA ns.example. hostmaster.example. 1 3600 600 86400 $TTL"
        echo "@ IN NS ns.example."
        dane_records "$@"
    } >"$W/zones/$1.example.zone"
}

write_dane() {
    local d
    mkdir -p "$W/dnssec"
    # certificates an SMTP test server presents as mx1.<d>, policy hosts
    for d in $DANE_MTASTS; do
        issue "$W/ca" "mx1.$d.example" "mx1.$d.example"
        issue "$W/ca" "mta-sts.$d.example" "mta-sts.$d.example"
        policy "mta-sts.$d.example" enforce "mx1.$d.example" 86400
    done
    issue "$W/ca" dane-implicit.example dane-implicit.example
    # the key dane-mismatch's TLSA names: not the one mx1 presents
    issue "$W/ca" mx1.dane-mismatch.example-tlsa mx1.dane-mismatch.example
    dnssec_key example. example
    ds_of example >"$W/dnssec/example.ds"
    dnssec_key dane-bogus.example. dane-bogus-ds # the DS names this one,
    dnssec_key dane-bogus.example. dane-bogus    # the zone is signed with this
    dnssec_key dane-expired.example. dane-expired
    dnssec_key _25._tcp.mx1.dane-tlsafail.example. dane-tlsafail
    child_zone dane-unsigned "$(spki_sha256 mx1.dane-unsigned.example)"
    child_zone dane-bogus "$(spki_sha256 mx1.dane-bogus.example)"
    child_zone dane-expired "$(spki_sha256 mx1.dane-expired.example)"
    {
        echo
        echo "; DANE (RFC 7672) test domains, see README.md"
        dane_records dane-ok "$(spki_sha256 mx1.dane-ok.example)"
        dane_records dane-mismatch \
            "$(spki_sha256 mx1.dane-mismatch.example-tlsa)"
        dane_records dane-notlsa
        dane_records dane-tlsafail
        echo "; child zones: without DS (insecure), DS of another key, expired"
        echo "dane-unsigned.example. IN NS ns.example."
        echo "dane-bogus.example. IN NS ns.example."
        ds_of dane-bogus-ds
        echo "dane-expired.example. IN NS ns.example."
        ds_of dane-expired
        echo "; TLSA lookup SERVFAILs: signed delegation to faultdns.py"
        echo "_25._tcp.mx1.dane-tlsafail.example. IN NS ns.example."
        ds_of dane-tlsafail
        echo "; no MX: implicit MX is the domain itself (RFC 5321 5.1)"
        echo "dane-implicit.example. IN A 127.0.0.1"
        echo "_25._tcp.dane-implicit.example. IN TLSA 3 1 1" \
            "$(spki_sha256 dane-implicit.example)"
        echo "; null MX (RFC 7505)"
        echo "dane-nullmx.example. IN MX 0 ."
    } >>"$W/zones/example.zone"
}

# sign ZONEFILE ORIGIN KEYNAME [ldns-signzone options]: ZONEFILE.signed
sign() {
    local f=$1 o=$2 k=$3
    shift 3
    ldns-signzone "$@" -o "$o" -f "$f.signed.tmp" "$f" "$W/dnssec/$k" ||
        die "ldns-signzone failed for $f"
    mv "$f.signed.tmp" "$f.signed"
}
sign_zones() { # at start and at every reload (WORLD_ZONE may have changed)
    local z=$W/zones inc exp
    inc=$(date -u -d '-1 day' +%Y%m%d%H%M%S)
    exp=$(date -u -d '+1 year' +%Y%m%d%H%M%S)
    sign "$z/example.zone" example. example -i "$inc" -e "$exp"
    sign "$z/dane-bogus.example.zone" dane-bogus.example. dane-bogus \
        -i "$inc" -e "$exp"
    sign "$z/dane-expired.example.zone" dane-expired.example. dane-expired \
        -i 20200101000000 -e 20200201000000
}

dane_unbound_conf() {
    local z f
    for z in dane-unsigned dane-bogus dane-expired; do
        f=$W/zones/$z.example.zone
        [ "$z" = dane-unsigned ] || f=$f.signed
        cat <<EOF

# DANE child zone of example. (the parent holds its NS and DS, if any)
auth-zone:
    name: "$z.example."
    zonefile: "$f"
    for-downstream: no
    for-upstream: yes
    fallback-enabled: no
EOF
    done
    cat <<EOF

# DANE: the TLSA lookup of mx1.dane-tlsafail.example gets SERVFAIL; the
# parent holds NS and DS, so the failure is not an insecure answer.
stub-zone:
    name: "_25._tcp.mx1.dane-tlsafail.example."
    stub-addr: 127.0.0.1@$FAULTDNS_PORT
EOF
}

dane_vhosts() {
    local d
    for d in $DANE_MTASTS; do
        vhost "mta-sts.$d.example" "mta-sts.$d.example"
    done
}

# --------------------------------------------------------------------------
# Domain checker (mta-sts check, tests/integration/check-*.sh): the domains
# check-*.example.  Their MX hosts point at fixed loopback addresses where
# a test runs tests/integration/smtp-sink.py, one SMTP behaviour per
# address (world.sh itself starts no SMTP server):
#   127.0.0.21 (and ::1 for mx1.check-good)  STARTTLS, certs/check-mx (valid
#              for every "good" MX name below, from WORLD_CA)
#   127.0.0.22 STARTTLS, certs/mx1.check-expired.example (expired 2020)
#   127.0.0.23 STARTTLS, certs/mx1.check-wrongname.example (is for
#              mx.other.example)
#   127.0.0.24 STARTTLS, certs/mx1.check-selfsigned.example (self-signed)
#   127.0.0.25 no STARTTLS in the EHLO reply
#   127.0.0.26 STARTTLS, but TLS 1.0/1.1 only, certs/check-mx
#   127.0.0.27 accepts, never greets (SMTP timeout)
#   127.0.0.28 STARTTLS, certs/mx1.check-expiring.example (5 days left)
# Policy hosts: one nginx server for all, certs/check-hosts, root
# www/<host>; mta-sts.check-v6bad is served on 127.0.0.1 only (its AAAA
# ::1 meets the default server, which refuses the handshake) and
# mta-sts.check-nohost on neither.
CHECK_GOOD_MX="check-good check-oldtls check-uncovered check-testing
check-ready check-v6bad check-nohost check-zeroage check-extras
check-badrua check-badtxt"
CHECK_POLICY_HOSTS="check-good check-expired check-wrongname
check-selfsigned check-nostarttls check-oldtls check-stall check-expiring
check-uncovered check-testing check-ready check-v6bad check-zeroage
check-extras check-badrua check-badtxt check-nomx check-nullmx"

# check_domain D TXT-ID|- TLSRPT|- MX=ADDR...: a checker domain's records
check_domain() {
    local d=$1.example id=$2 rpt=$3 m
    shift 3
    [ "$id" = - ] || echo "_mta-sts.$d. IN TXT \"v=STSv1; id=$id\""
    echo "mta-sts.$d. IN A 127.0.0.1"
    [ "$rpt" = - ] ||
        echo "_smtp._tls.$d. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@$d\""
    for m in "$@"; do
        echo "$d. IN MX ${m:2:1}0 ${m%%=*}.$d."
        echo "${m%%=*}.$d. IN A ${m#*=}"
    done
}

# issue_multi CADIR OUTNAME CN DNSNAME...: one leaf for several names
issue_multi() {
    local cadir=$1 out=$W/certs/$2 cn=$3 san
    shift 3
    san=$(printf ',DNS:%s' "$@")
    san=${san#,DNS:}
    SAN=$san openssl req -config "$cadir/openssl.cnf" -new -nodes \
        -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=$cn" \
        -keyout "$out.key" -out "$out.csr" 2>/dev/null
    SAN=$san openssl ca -config "$cadir/openssl.cnf" -batch -notext \
        -extensions leaf -days 30 -in "$out.csr" -out "$out.crt" \
        2>/dev/null || die "openssl ca failed for $2"
    rm -f "$out.csr"
}

write_check() {
    local d names=() hosts=() www=$W/www
    for d in $CHECK_GOOD_MX; do names+=("mx1.$d.example"); done
    names+=(mx2.check-uncovered.example check-nomx.example)
    issue_multi "$W/ca" check-mx mx1.check-good.example "${names[@]}"
    for d in $CHECK_POLICY_HOSTS; do hosts+=("mta-sts.$d.example"); done
    issue_multi "$W/ca" check-hosts mta-sts.check-good.example "${hosts[@]}"
    issue "$W/ca" mx1.check-expired.example mx1.check-expired.example \
        20200101000000Z 20200201000000Z
    issue "$W/ca" mx1.check-wrongname.example mx.other.example
    issue "$W/ca" mx1.check-expiring.example mx1.check-expiring.example \
        "$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)" \
        "$(date -u -d '+5 days 12 hours' +%Y%m%d%H%M%SZ)"
    openssl req -x509 -new -nodes -newkey ec \
        -pkeyopt ec_paramgen_curve:P-256 -days 30 \
        -subj /CN=mx1.check-selfsigned.example \
        -addext subjectAltName=DNS:mx1.check-selfsigned.example \
        -keyout "$W/certs/mx1.check-selfsigned.example.key" \
        -out "$W/certs/mx1.check-selfsigned.example.crt" 2>/dev/null ||
        die "self-signed certificate failed"

    # enforce, mx1, two weeks, CRLF; then the exceptions
    for d in $CHECK_POLICY_HOSTS; do
        policy "mta-sts.$d.example" enforce "mx1.$d.example" 1209600 crlf
    done
    policy mta-sts.check-testing.example testing mx1.check-testing.example \
        604800 crlf
    printf 'mx: mx2.check-testing.example\r\n' \
        >>"$www/mta-sts.check-testing.example/.well-known/mta-sts.txt"
    policy mta-sts.check-ready.example testing mx1.check-ready.example \
        604800 crlf
    # mx2 not covered; a pattern no MX matches (stale)
    printf 'mx: old.check-uncovered.example\r\n' \
        >>"$www/mta-sts.check-uncovered.example/.well-known/mta-sts.txt"
    # max_age 0 with enforce; an empty line and a duplicated mx line
    printf 'version: STSv1\r\nmode: enforce\r\nmx: mx1.check-zeroage.example\r\n\r\nmx: mx1.check-zeroage.example\r\nmax_age: 0\r\n' \
        >"$www/mta-sts.check-zeroage.example/.well-known/mta-sts.txt"
    policy mta-sts.check-nomx.example enforce check-nomx.example 1209600 crlf
    policy mta-sts.check-nullmx.example none mx1.check-nullmx.example \
        86400 crlf

    {
        echo
        echo "; domain checker (mta-sts check) test domains, see README.md"
        check_domain check-good checkgood2026 + mx1=127.0.0.21
        echo "mx1.check-good.example. IN AAAA ::1"
        echo "mta-sts.check-good.example. IN AAAA ::1"
        check_domain check-expired checkexpired2026 + mx1=127.0.0.22
        check_domain check-wrongname checkwrongname2026 + mx1=127.0.0.23
        check_domain check-selfsigned checkselfsigned2026 + mx1=127.0.0.24
        check_domain check-nostarttls checknostarttls2026 + mx1=127.0.0.25
        check_domain check-oldtls checkoldtls2026 + mx1=127.0.0.26
        check_domain check-stall checkstall2026 + mx1=127.0.0.27
        check_domain check-expiring checkexpiring2026 + mx1=127.0.0.28
        check_domain check-uncovered checkuncovered2026 + mx1=127.0.0.21 \
            mx2=127.0.0.21
        check_domain check-testing checktesting2026 + mx1=127.0.0.21 \
            mx2=127.0.0.25
        check_domain check-ready checkready2026 + mx1=127.0.0.21
        check_domain check-v6bad checkv6bad2026 + mx1=127.0.0.21
        echo "mta-sts.check-v6bad.example. IN AAAA ::1"
        check_domain check-nohost checknohost2026 + mx1=127.0.0.21
        check_domain check-zeroage checkzeroage2026 + mx1=127.0.0.21
        # an SPF record, an unknown field and a second id; two TLS-RPT
        check_domain check-extras - + mx1=127.0.0.21
        echo "_mta-sts.check-extras.example. IN TXT" \
            "\"v=STSv1; id=checkextras2026; ext=yes; id=second\""
        echo "_mta-sts.check-extras.example. IN TXT \"v=spf1 -all\""
        echo "_smtp._tls.check-extras.example. IN TXT" \
            "\"v=TLSRPTv1; rua=mailto:other@check-extras.example\""
        # an id with '-'; a TLS-RPT record with no usable URI
        check_domain check-badrua - - mx1=127.0.0.21
        echo "_mta-sts.check-badrua.example. IN TXT \"v=STSv1; id=2026-01-01\""
        echo "_smtp._tls.check-badrua.example. IN TXT" \
            "\"v=TLSRPTv1; rua=ftp://reports.check-badrua.example/\""
        # a record that breaks the grammar; no TLS-RPT record
        check_domain check-badtxt - - mx1=127.0.0.21
        echo "_mta-sts.check-badtxt.example. IN TXT \"v=STSv1; id=checkbadtxt2026 x\""
        # no MX: the domain itself is the MX (RFC 5321 5.1)
        check_domain check-nomx checknomx2026 +
        echo "check-nomx.example. IN A 127.0.0.21"
        # null MX (RFC 7505), MTA-STS mode none
        check_domain check-nullmx checknullmx2026 +
        echo "check-nullmx.example. IN MX 0 ."
        # an MX host without any address, nothing else
        echo "check-noaddr.example. IN MX 10 mx1.check-noaddr.example."
    } >>"$W/zones/example.zone"
}

check_vhosts() {
    local d names=""
    for d in $CHECK_POLICY_HOSTS; do
        [ "$d" = check-v6bad ] || names="$names mta-sts.$d.example"
    done
    cat <<EOF
    server {
        listen 127.0.0.1:$HTTPS_PORT ssl;
        listen [::1]:$HTTPS_PORT ssl;
        server_name$names;
        ssl_certificate     $W/certs/check-hosts.crt;
        ssl_certificate_key $W/certs/check-hosts.key;
        root $W/www/\$host;
        location = /.well-known/mta-sts.txt { }
    }
    server {
        listen 127.0.0.1:$HTTPS_PORT ssl;
        server_name mta-sts.check-v6bad.example;
        ssl_certificate     $W/certs/check-hosts.crt;
        ssl_certificate_key $W/certs/check-hosts.key;
        root $W/www/mta-sts.check-v6bad.example;
        location = /.well-known/mta-sts.txt { }
    }
EOF
}

# --------------------------------------------------------------------------
# Processes.  Each is started in the foreground of a background job, its
# pid recorded in DIR/run/NAME.pid; stdin/stdout/stderr never point at the
# caller, so `$(world.sh start ...)` or a test runner does not hang on them.
launch() { # NAME COMMAND...
    local name=$1
    shift
    "$@" </dev/null >>"$W/logs/$name.log" 2>&1 &
    echo $! >"$W/run/$name.pid"
}

# A zombie (exited, not yet reaped) counts as gone.
alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null &&
        ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}

# Our process, not a recycled pid: its command line names the world dir.
ours() { # PID
    alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$W"
}

# wait_for NAME TEST-COMMAND...: poll for up to 10 s, fail early if the
# process died.
wait_for() {
    local name=$1 pid
    shift
    pid=$(cat "$W/run/$name.pid")
    for _ in $(seq 100); do
        "$@" >/dev/null 2>&1 && return 0
        if ! alive "$pid"; then
            tail -n 20 "$W/logs/$name.log" >&2 || true
            die "$name exited during start-up (log: $W/logs/$name.log)"
        fi
        sleep 0.1
    done
    tail -n 20 "$W/logs/$name.log" >&2 || true
    die "$name not answering after 10 s (log: $W/logs/$name.log)"
}

tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

dns_ready() { # the real zone answers through unbound, over UDP
    drill -p "$DNS_PORT" @127.0.0.1 example. SOA 2>/dev/null |
        grep -q 'rcode: NOERROR'
}

start() {
    need unbound unbound
    need nginx nginx-light
    need openssl openssl
    need python3 python3
    need drill ldnsutils
    need ldns-signzone ldnsutils
    need sha256sum coreutils
    need seq coreutils
    need grep grep
    case $W in
        *[[:space:]]*) die "world dir must not contain white space: $W" ;;
    esac
    if [ -e "$W" ] && [ -n "$(ls -A "$W")" ]; then
        die "$W exists and is not empty"
    fi
    mkdir -p "$W"
    W=$(cd "$W" && pwd)
    mkdir -p "$W/run" "$W/logs" "$W/conf" "$W/zones" "$W/certs" "$W/www"

    local ports
    ports=$(pick_ports) || die "could not pick ports"
    read -r DNS_PORT FAULTDNS_PORT BLACKHOLE_PORT HTTPS_PORT <<<"$ports"

    write_zone
    write_policies
    write_certs
    write_dane
    write_check
    sign_zones
    write_unbound_conf
    write_nginx_conf
    unbound-checkconf "$W/conf/unbound.conf" >/dev/null ||
        die "bad unbound.conf: $(unbound-checkconf "$W/conf/unbound.conf" 2>&1)"

    # From here on a failure stops whatever already runs.
    CLEANUP=1
    trap 'die "interrupted"' INT TERM

    launch faultdns python3 "$HERE/faultdns.py" --addr 127.0.0.1 \
        --port "$FAULTDNS_PORT" --blackhole "$BLACKHOLE_PORT" \
        --pidfile "$W/run/faultdns.own.pid"
    launch unbound unbound -d -c "$W/conf/unbound.conf"
    launch nginx nginx -p "$W/nginx-tmp" -e "$W/logs/nginx-error.log" \
        -c "$W/conf/nginx.conf"
    launch faulthttp python3 "$HERE/faulthttp.py" --addr "$FAULT_ADDR" \
        --port "$HTTPS_PORT" --certdir "$W/certs" --bodydir "$W/bodies" \
        --pidfile "$W/run/faulthttp.own.pid"

    wait_for faultdns test -s "$W/run/faultdns.own.pid"
    wait_for faultdns tcp_open 127.0.0.1 "$BLACKHOLE_PORT"
    wait_for unbound tcp_open 127.0.0.1 "$DNS_PORT"
    wait_for unbound tcp_open ::1 "$DNS_PORT"
    wait_for unbound dns_ready
    wait_for nginx tcp_open 127.0.0.1 "$HTTPS_PORT"
    wait_for nginx tcp_open ::1 "$HTTPS_PORT"
    wait_for faulthttp tcp_open "$FAULT_ADDR" "$HTTPS_PORT"

    cat >"$W/env.tmp" <<EOF
WORLD_DIR=$W
WORLD_DNS=127.0.0.1@$DNS_PORT
WORLD_DNS_ADDR=127.0.0.1
WORLD_DNS_PORT=$DNS_PORT
WORLD_DNS6=::1@$DNS_PORT
WORLD_DNS_BLACKHOLE=127.0.0.1@$BLACKHOLE_PORT
WORLD_FAULTDNS_PORT=$FAULTDNS_PORT
WORLD_HTTPS_PORT=$HTTPS_PORT
WORLD_CONNECT_TO=:443::$HTTPS_PORT
WORLD_CA=$W/ca/ca.crt
WORLD_UNKNOWN_CA=$W/unknown-ca/ca.crt
WORLD_FAULT_ADDR=$FAULT_ADDR
WORLD_REFUSED_ADDR=$REFUSED_ADDR
WORLD_ZONE=$W/zones/example.zone
WORLD_TA=$W/dnssec/example.ds
WORLD_TA_DNSKEY=$W/dnssec/example.key
WORLD_CERTS=$W/certs
WORLD_WWW=$W/www
WORLD_TTL=$TTL
WORLD_UNBOUND_PID=$(cat "$W/run/unbound.pid")
WORLD_NGINX_PID=$(cat "$W/run/nginx.pid")
WORLD_FAULTDNS_PID=$(cat "$W/run/faultdns.pid")
WORLD_FAULTHTTP_PID=$(cat "$W/run/faulthttp.pid")
EOF
    mv "$W/env.tmp" "$W/env" # appears whole: its presence means "ready"
    CLEANUP=0
    trap - INT TERM
    echo "world up in $W (dns 127.0.0.1@$DNS_PORT, https port $HTTPS_PORT)"
}

stop_one() { # NAME
    local f=$W/run/$1.pid pid kids p
    [ -f "$f" ] || return 0
    pid=$(cat "$f")
    if ours "$pid"; then
        # nginx workers are children of the master; note them before it goes.
        kids=$(pgrep -P "$pid" 2>/dev/null || true)
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            alive "$pid" || break
            sleep 0.1
        done
        for p in $pid $kids; do
            if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
        done
    fi
    rm -f "$f"
}

stop_world() {
    [ -d "$W/run" ] || return 0
    local n
    for n in faulthttp nginx unbound faultdns; do
        stop_one "$n"
    done
    rm -f "$W/run/"*.own.pid "$W/env"
}

reload() {
    [ -f "$W/run/unbound.pid" ] || die "no world running in $W"
    sign_zones
    kill -HUP "$(cat "$W/run/unbound.pid")" "$(cat "$W/run/nginx.pid")"
    # shellcheck disable=SC1091
    . "$W/env"
    DNS_PORT=$WORLD_DNS_PORT
    sleep 0.2
    wait_for unbound dns_ready
}

[ $# -eq 2 ] || die "usage: world.sh start|stop|reload DIR"
W=$2
case $1 in
    start) start ;;
    stop)
        [ -d "$W" ] && W=$(cd "$W" && pwd)
        stop_world
        ;;
    reload)
        W=$(cd "$W" && pwd)
        reload
        ;;
    *) die "usage: world.sh start|stop|reload DIR" ;;
esac
