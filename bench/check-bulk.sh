#!/bin/bash
# bench/check-bulk.sh - throughput of `mta-sts check --from-file` (bulk
# audit mode), against the hermetic world of tests/world plus the SMTP
# sinks of tests/integration/smtp-sink.py, on loopback only.
#
#   bench/check-bulk.sh [N-DOMAINS [CONCURRENCY [ROUNDS]]]   (200 50 3)
#
#   BUILD=DIR   build tree with cli/mta-sts (default: build-release if it
#               exists, else build)
#
# N distinct domains dK.bulk.example are added to the world's signed zone
# through wildcards (*.bulk.example: the _mta-sts TXT record, the policy
# host's A record, MX mx1.check-good.example), one nginx server for all
# their policy hosts (one certificate with N names from the world's CA).
# Each domain then costs what a real one does: 6 DNS lookups (validated
# with the world's trust anchor), one HTTPS fetch, one TLS handshake with
# the policy host and two SMTP STARTTLS sessions (IPv4 and IPv6 MX).
#
# Printed, best of ROUNDS: domains/s of `check` (full), of `check
# --no-smtp`, and of `fetch` (discovery only: TXT, address, HTTPS, parse)
# on the same domains in the same run, as the baseline.  Timings never fail.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
N=${1:-200}
CONC=${2:-50}
ROUNDS=${3:-3}
if [ -z "${BUILD:-}" ]; then
    BUILD=$ROOT/build
    [ -x "$ROOT/build-release/cli/mta-sts" ] && BUILD=$ROOT/build-release
fi
MTA_STS=$BUILD/cli/mta-sts
[ -x "$MTA_STS" ] || { echo "no $MTA_STS: build first" >&2; exit 1; }

SINK_DELAY=0 # replies in pieces, but no artificial latency
. "$ROOT/tests/integration/check-lib.sh"
start_world_and_sinks "$ROOT"

# ---- N bulk domains ------------------------------------------------------
cat >>"$WORLD_ZONE" <<EOF

; bench/check-bulk.sh: dK.bulk.example by wildcard
*.bulk.example. IN TXT "v=STSv1; id=bulk2026"
*.bulk.example. IN A 127.0.0.1
*.bulk.example. IN MX 10 mx1.check-good.example.
EOF
mkdir -p "$WORLD_WWW/bulk/.well-known"
printf 'version: STSv1\r\nmode: enforce\r\nmx: mx1.check-good.example\r\nmax_age: 1209600\r\n' \
    >"$WORLD_WWW/bulk/.well-known/mta-sts.txt"
: >"$W/bulk.txt"
san=""
for i in $(seq 0 $((N - 1))); do
    echo "d$i.bulk.example" >>"$W/bulk.txt"
    san="$san,DNS:mta-sts.d$i.bulk.example"
done
san=${san#,DNS:}
CA=$WORLD_DIR/ca
SAN=$san openssl req -config "$CA/openssl.cnf" -new -nodes -newkey ec \
    -pkeyopt ec_paramgen_curve:P-256 -subj /CN=mta-sts.d0.bulk.example \
    -keyout "$WORLD_CERTS/bulk.key" -out "$W/bulk.csr" 2>/dev/null
SAN=$san openssl ca -config "$CA/openssl.cnf" -batch -notext -extensions leaf \
    -days 30 -in "$W/bulk.csr" -out "$WORLD_CERTS/bulk.crt" 2>/dev/null
conf=$WORLD_DIR/conf/nginx.conf
sed -i '$d' "$conf" # the closing brace of http { }
cat >>"$conf" <<EOF
    server {
        listen 127.0.0.1:$WORLD_HTTPS_PORT ssl;
        server_name ~^mta-sts\.d[0-9]+\.bulk\.example\$;
        ssl_certificate     $WORLD_CERTS/bulk.crt;
        ssl_certificate_key $WORLD_CERTS/bulk.key;
        root $WORLD_WWW/bulk;
        location = /.well-known/mta-sts.txt { }
    }
}
EOF
"$ROOT/tests/world/world.sh" reload "$WORLD_DIR" >/dev/null
sleep 0.5 # nginx workers re-read the configuration

# shellcheck disable=SC2086
"$MTA_STS" check --json $NET d0.bulk.example >"$W/one.json" || true
jq -e '.verdict != null and ([.checks[] | select(.id == "mx.starttls" and .status == "pass")] | length) == 2 and
    ([.checks[] | select(.id == "host.ipv4")][0].status == "pass")' "$W/one.json" >/dev/null ||
    { echo "bulk domain setup broken:"; jq -c '[.checks[] | select(.status != "pass")]' "$W/one.json"; exit 1; }

# ---- measurements --------------------------------------------------------
best() { # LABEL COMMAND...: best domains/s over ROUNDS, CPU of mta-sts
    local label=$1 b=0 t0 t1 rate r cpu bcpu=0
    shift
    for r in $(seq "$ROUNDS"); do
        t0=$(date +%s.%N)
        /usr/bin/time -o "$W/time" -f "%U + %S" "$@" >"$W/run.out" \
            2>/dev/null || true
        t1=$(date +%s.%N)
        rate=$(echo "$N / ($t1 - $t0)" | bc -l)
        cpu=$(echo "$(tail -n 1 "$W/time")" | bc -l)
        [ "$(wc -l <"$W/run.out")" -ge "$N" ] || { echo "$label: short output" >&2; }
        if [ "$(echo "$rate > $b" | bc -l)" = 1 ]; then b=$rate; bcpu=$cpu; fi
    done
    printf '%-16s %8.1f domains/s   mta-sts CPU %5.2f ms/domain\n' \
        "$label" "$b" "$(echo "$bcpu * 1000 / $N" | bc -l)"
    echo "$b" >"$W/$label.rate"
}

echo "$N domains, --concurrency $CONC, best of $ROUNDS, $(nproc) CPUs, $MTA_STS"
# shellcheck disable=SC2086
best check "$MTA_STS" check --from-file "$W/bulk.txt" --concurrency "$CONC" $NET
# shellcheck disable=SC2086
best check-no-smtp "$MTA_STS" check --from-file "$W/bulk.txt" --concurrency "$CONC" --no-smtp $NET
best fetch "$MTA_STS" fetch --json --concurrency "$CONC" --resolver "$WORLD_DNS" \
    --dnssec validate --trust-anchor "$WORLD_TA" --ca-file "$WORLD_CA" \
    --connect-to "$WORLD_CONNECT_TO" --timeout 5 $(cat "$W/bulk.txt")
printf 'check / fetch: %.2f   check --no-smtp / fetch: %.2f\n' \
    "$(echo "$(cat "$W/check.rate") / $(cat "$W/fetch.rate")" | bc -l)" \
    "$(echo "$(cat "$W/check-no-smtp.rate") / $(cat "$W/fetch.rate")" | bc -l)"
