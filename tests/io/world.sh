#!/bin/sh
# world.sh - a throwaway DNS + HTTPS world on loopback for tests/io.
#
#   world.sh start DIR   make DIR (CA, certificates, zones, configs) and
#                        start unbound, nginx and the fault servers
#   world.sh stop DIR    stop what start started (by the pid files in DIR)
#
# Ports (all on loopback; run inside a network namespace, see run.sh):
#   DNS_PORT     unbound: auth-zones example. and secure.example. (signed)
#   REFUSE_PORT  fake DNS answering REFUSED (unbound's stub for ".")
#   HOLE_PORT    fake DNS that never answers
#   TLS_PORT     nginx, HTTP/2 + HTTP/1.1, SNI, 127.0.0.1 and ::1
#   H1_PORT      nginx, HTTP/1.1 only (chunked bodies)
#   TCPHOLE_PORT accepts TCP and never speaks (TLS handshake timeout)
#   CLOSED_PORT  nothing listens
#   PROXY_PORT   HTTP CONNECT proxy tunnelling to TLS_PORT (log: proxy.log)
#   OLDTLS_PORT  nginx offering TLS 1.0 and 1.1 only
set -eu

DNS_PORT=${DNS_PORT:-5353}
REFUSE_PORT=${REFUSE_PORT:-5354}
HOLE_PORT=${HOLE_PORT:-5355}
TLS_PORT=${TLS_PORT:-8443}
H1_PORT=${H1_PORT:-8444}
TCPHOLE_PORT=${TCPHOLE_PORT:-8445}
CLOSED_PORT=${CLOSED_PORT:-8446}
PROXY_PORT=${PROXY_PORT:-8447}
OLDTLS_PORT=${OLDTLS_PORT:-8448}
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "world.sh: $*" >&2; exit 1; }

# leaf NAME CA SANS [openssl-ca dates...]: key + cert NAME.pem signed by CA
leaf() {
	name=$1 ca=$2 san=$3
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$name.key" -out "$name.csr" -subj "/CN=${4:-$name}" \
	    2>/dev/null
	if [ -n "$san" ]; then
		printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$san" >"$name.ext"
	else
		printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$name.ext"
	fi
	openssl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" \
	    -CAcreateserial -days 30 -extfile "$name.ext" -out "$name.pem" \
	    2>/dev/null
	cat "$ca.pem" >>"$name.pem"
}

make_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$1.key" -out "$1.pem" -subj "/CN=$2" -days 30 \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

# An expired leaf: openssl ca can set dates in the past.
expired_leaf() {
	name=$1
	mkdir -p ca-db/new
	: >ca-db/index.txt
	echo 1000 >ca-db/serial
	cat >ca-db/ca.cnf <<EOF
[ca]
default_ca = t
[t]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db/new
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
EOF
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$name.key" -out "$name.csr" -subj "/CN=$name" \
	    -addext "subjectAltName=DNS:$name" 2>/dev/null
	openssl ca -batch -config ca-db/ca.cnf -cert ca.pem -keyfile ca.key \
	    -startdate 20200101000000Z -enddate 20200201000000Z \
	    -in "$name.csr" -out "$name.pem" 2>/dev/null
	cat ca.pem >>"$name.pem"
}

certs() {
	make_ca ca "io test CA"
	make_ca otherca "io other CA"
	good="DNS:mta-sts.ok.example,DNS:mta-sts.charset.example"
	good="$good,DNS:mta-sts.upper.example,DNS:mta-sts.html.example"
	good="$good,DNS:mta-sts.notype.example,DNS:mta-sts.notfound.example"
	good="$good,DNS:mta-sts.redirect.example,DNS:mta-sts.unavail.example"
	good="$good,DNS:mta-sts.big.example,DNS:mta-sts.exact.example"
	good="$good,DNS:mta-sts.chunked.example,DNS:mta-sts.chunkexact.example"
	good="$good,DNS:mta-sts.slow.example,DNS:mta-sts.empty.example"
	good="$good,DNS:*.wild.example"
	leaf good ca "$good"
	leaf other ca "DNS:mta-sts.other.example" "mta-sts.other.example"
	leaf unknownca otherca "DNS:mta-sts.unknownca.example"
	leaf cnonly ca "" "mta-sts.cnonly.example"
	leaf partial ca "DNS:mta-*.partial.example"
	expired_leaf mta-sts.expired.example
}

zones() {
	cat >example.zone <<'EOF'
$ORIGIN example.
$TTL 300
@		SOA	ns.example. host.example. 1 3600 600 86400 120
@		NS	ns.example.
ns		A	127.0.0.1
_mta-sts.ok	TXT	"v=STSv1; id=20240101T000000;"
_mta-sts.split	TXT	"v=STSv1; " "id=split1;"
_mta-sts.multi	TXT	"v=STSv1; id=m1;"
_mta-sts.multi	TXT	"some other" " record"
_mta-sts.nul	TXT	"v=STSv1;\000id=x;"
_mta-sts.cname	CNAME	_mta-sts.ok.example.
_mta-sts.chain	CNAME	c1.example.
c1		CNAME	_mta-sts.ok.example.
_mta-sts.dangling	CNAME	nowhere.example.
_mta-sts.long	TXT	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
nodata		A	127.0.0.3
ok		MX	10 MAIL.Ok.example.
ok		MX	20 mx2.ok.example.
nullmx		MX	0 .
mta-sts.ok	A	127.0.0.1
mta-sts.ok	AAAA	::1
v4only		A	127.0.0.2
v6only		AAAA	::2
mail.ok		A	127.0.0.4
_25._tcp.mail.ok TLSA	3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
_25._tcp.mail.ok TLSA	2 0 1 fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210
EOF
	cat >secure.example.zone <<'EOF'
$ORIGIN secure.example.
$TTL 300
@		SOA	ns.example. host.example. 1 3600 600 86400 60
@		NS	ns.example.
_mta-sts	TXT	"v=STSv1; id=sec1;"
bogus		TXT	"signed text"
mx		MX	10 mail.secure.example.
EOF
	ksk=$(ldns-keygen -a ECDSAP256SHA256 -k secure.example)
	zsk=$(ldns-keygen -a ECDSAP256SHA256 secure.example)
	ldns-signzone -n secure.example.zone "$zsk" "$ksk" >/dev/null
	cp "$ksk.ds" secure.example.ds
	# Break one signature: change the signed text, keep its RRSIG.
	sed -i 's/"signed text"/"forged text"/' secure.example.zone.signed
	grep -q 'forged text' secure.example.zone.signed || die "no forged text"
}

configs() {
	dir=$1
	cat >unbound.conf <<EOF
server:
	interface: 127.0.0.1@$DNS_PORT
	port: $DNS_PORT
	do-ip6: no
	do-daemonize: yes
	username: ""
	chroot: ""
	directory: "$dir"
	pidfile: "$dir/unbound.pid"
	logfile: "$dir/unbound.log"
	use-syslog: no
	verbosity: 1
	access-control: 127.0.0.0/8 allow
	do-not-query-localhost: no
	module-config: "iterator"
	qname-minimisation: no
	outgoing-interface: 127.0.0.1
stub-zone:
	name: "."
	stub-addr: 127.0.0.1@$REFUSE_PORT
auth-zone:
	name: "example."
	zonefile: "$dir/example.zone"
	for-downstream: yes
	for-upstream: yes
	fallback-enabled: no
auth-zone:
	name: "secure.example."
	zonefile: "$dir/secure.example.zone.signed"
	for-downstream: yes
	for-upstream: yes
	fallback-enabled: no
remote-control:
	control-enable: no
EOF
	mkdir -p www tmp
	printf 'version: STSv1\r\nmode: enforce\r\nmx: mail.ok.example\r\nmax_age: 86400\r\n' >www/policy.txt
	head -c 70000 /dev/zero | tr '\0' 'a' >www/big.txt
	head -c 65536 /dev/zero | tr '\0' 'a' >www/exact.txt
	: >www/empty.txt
	tls="ssl_protocols TLSv1.2 TLSv1.3;"
	cat >nginx.conf <<EOF
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
# root of our own network (and maybe user) namespace; there is no other user
user root;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 1024; }
http {
	access_log $dir/nginx-access.log;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	types { text/plain txt; text/html html; }
	default_type application/octet-stream;
	$tls
	server {
		listen 127.0.0.1:$TLS_PORT ssl http2 default_server;
		listen [::1]:$TLS_PORT ssl http2 default_server;
		listen 127.0.0.1:$H1_PORT ssl default_server;
		server_name mta-sts.other.example;
		ssl_certificate $dir/other.pem;
		ssl_certificate_key $dir/other.key;
		location / { return 200 "other\n"; }
	}
	server {
		listen 127.0.0.1:$TLS_PORT ssl http2;
		listen [::1]:$TLS_PORT ssl http2;
		listen 127.0.0.1:$H1_PORT ssl;
		server_name *.wild.example mta-sts.ok.example mta-sts.charset.example
		    mta-sts.upper.example mta-sts.html.example mta-sts.notype.example
		    mta-sts.notfound.example mta-sts.redirect.example
		    mta-sts.unavail.example mta-sts.big.example mta-sts.exact.example
		    mta-sts.chunked.example mta-sts.chunkexact.example
		    mta-sts.slow.example mta-sts.empty.example;
		ssl_certificate $dir/good.pem;
		ssl_certificate_key $dir/good.key;
		root $dir/www;
		location = /.well-known/mta-sts.txt {
			if (\$host = mta-sts.charset.example) { rewrite ^ /charset last; }
			if (\$host = mta-sts.upper.example) { rewrite ^ /upper last; }
			if (\$host = mta-sts.html.example) { rewrite ^ /html last; }
			if (\$host = mta-sts.notype.example) { rewrite ^ /notype last; }
			if (\$host = mta-sts.notfound.example) { return 404; }
			if (\$host = mta-sts.redirect.example) {
				return 301 https://mta-sts.elsewhere.example/.well-known/mta-sts.txt;
			}
			if (\$host = mta-sts.unavail.example) { return 503; }
			if (\$host = mta-sts.big.example) { rewrite ^ /big.txt last; }
			if (\$host = mta-sts.exact.example) { rewrite ^ /exact.txt last; }
			if (\$host = mta-sts.empty.example) { rewrite ^ /empty.txt last; }
			if (\$host = mta-sts.chunked.example) { rewrite ^ /chunked last; }
			if (\$host = mta-sts.chunkexact.example) { rewrite ^ /chunkexact last; }
			if (\$host = mta-sts.slow.example) { rewrite ^ /slow last; }
			alias $dir/www/policy.txt;
		}
		location = /charset { types { } default_type "text/plain; charset=utf-8"; alias $dir/www/policy.txt; }
		location = /upper { types { } default_type "TEXT/Plain ; Charset=US-ASCII"; alias $dir/www/policy.txt; }
		location = /html { types { } default_type text/html; alias $dir/www/policy.txt; }
		location = /notype { types { } default_type ""; alias $dir/www/policy.txt; }
		location = /chunked { types { } default_type text/plain; echo_duplicate 70000 "a"; }
		location = /chunkexact { types { } default_type text/plain; echo_duplicate 65536 "a"; }
		location = /slow { types { } default_type text/plain; echo "version: STSv1"; echo_flush; echo_sleep 5; echo "mode: none"; }
	}
	server {
		listen 127.0.0.1:$OLDTLS_PORT ssl;
		server_name mta-sts.ok.example;
		ssl_certificate $dir/good.pem;
		ssl_certificate_key $dir/good.key;
		ssl_protocols TLSv1 TLSv1.1;
		ssl_ciphers DEFAULT@SECLEVEL=0;
		ssl_conf_command MinProtocol TLSv1;
		location / { types { } default_type text/plain; alias $dir/www/policy.txt; }
	}
	server {
		listen 127.0.0.1:$TLS_PORT ssl http2;
		server_name mta-sts.unknownca.example;
		ssl_certificate $dir/unknownca.pem;
		ssl_certificate_key $dir/unknownca.key;
		location / { types { } default_type text/plain; alias $dir/www/policy.txt; }
	}
	server {
		listen 127.0.0.1:$TLS_PORT ssl http2;
		server_name mta-sts.cnonly.example;
		ssl_certificate $dir/cnonly.pem;
		ssl_certificate_key $dir/cnonly.key;
		location / { types { } default_type text/plain; alias $dir/www/policy.txt; }
	}
	server {
		listen 127.0.0.1:$TLS_PORT ssl http2;
		server_name mta-sts.partial.example;
		ssl_certificate $dir/partial.pem;
		ssl_certificate_key $dir/partial.key;
		location / { types { } default_type text/plain; alias $dir/www/policy.txt; }
	}
	server {
		listen 127.0.0.1:$TLS_PORT ssl http2;
		server_name mta-sts.expired.example;
		ssl_certificate $dir/mta-sts.expired.example.pem;
		ssl_certificate_key $dir/mta-sts.expired.example.key;
		location / { types { } default_type text/plain; alias $dir/www/policy.txt; }
	}
}
EOF
}

start() {
	dir=$1
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	cd "$dir"
	certs
	zones
	configs "$dir"
	python3 "$HERE/fakesrv.py" dns-refuse "$REFUSE_PORT" &
	echo $! >fake-refuse.pid
	python3 "$HERE/fakesrv.py" dns-blackhole "$HOLE_PORT" &
	echo $! >fake-hole.pid
	python3 "$HERE/fakesrv.py" tcp-blackhole "$TCPHOLE_PORT" &
	echo $! >fake-tcphole.pid
	python3 "$HERE/fakesrv.py" connect-proxy "$PROXY_PORT" "$TLS_PORT" \
	    "$dir/proxy.log" &
	echo $! >fake-proxy.pid
	unbound-checkconf unbound.conf >/dev/null || die "unbound.conf"
	unbound -c unbound.conf || die "unbound did not start"
	nginx -t -c "$dir/nginx.conf" -p "$dir" >/dev/null 2>&1 ||
	    { nginx -t -c "$dir/nginx.conf" -p "$dir"; die "nginx.conf"; }
	nginx -c "$dir/nginx.conf" -p "$dir" || die "nginx did not start"
	# wait until everything answers
	i=0
	while [ $i -lt 50 ]; do
		if drill -p "$DNS_PORT" @127.0.0.1 _mta-sts.ok.example TXT 2>/dev/null | grep -q STSv1 &&
		    [ -s nginx.pid ]; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	die "servers did not come up"
}

stop() {
	dir=$1
	for p in nginx unbound fake-refuse fake-hole fake-tcphole fake-proxy; do
		if [ -s "$dir/$p.pid" ]; then
			kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
		fi
	done
}

case ${1:-} in
start) start "$2" ;;
stop) stop "$2" ;;
*) die "usage: world.sh start|stop DIR" ;;
esac
