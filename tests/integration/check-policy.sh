#!/bin/sh
# mta-sts policy new|bump|enforce|diff against the hermetic world: files
# written are valid (CRLF), ids are UTC time stamps, enforce switches only
# when no MX host would be refused, diff names every difference.
# usage: check-policy.sh MTA-STS-BINARY SOURCE-DIR
set -eu
MTA_STS=$1
SRC=$2
. "$SRC/tests/integration/check-lib.sh"
start_world_and_sinks "$SRC"
P=$W/p
mkdir -p "$P"
ID_RE='^_mta-sts\.[a-z0-9.-]*\. IN TXT "v=STSv1; id=[0-9]{8}T[0-9]{6}"$'
CRLF=$(printf '\r')

rc() { "$@" >"$W/out" 2>"$W/err" && echo 0 || echo $?; }

# ---- policy new ------------------------------------------------------------
# shellcheck disable=SC2086
r=$(rc "$MTA_STS" policy new --domain check-uncovered.example --out "$P/new.txt" $NET)
if [ "$r" = 0 ] &&
    [ "$(cat "$P/new.txt")" = "$(printf 'version: STSv1\r\nmode: testing\r\nmx: mx1.check-uncovered.example\r\nmx: mx2.check-uncovered.example\r\nmax_age: 1209600\r')" ] &&
    grep -Eq "$ID_RE" "$W/out" &&
    grep -q '^_smtp._tls.check-uncovered.example. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@check-uncovered.example"$' "$W/out"; then
	ok "new: mx from the MX records (preference order), CRLF, testing, two weeks, records"
else
	bad "new (rc $r)"; od -c "$P/new.txt" | head; cat "$W/out" "$W/err"
fi
"$MTA_STS" lint policy "$P/new.txt" >/dev/null && ok "new: lint accepts it" ||
	bad "new: lint rejects it"
# shellcheck disable=SC2086
r=$(rc "$MTA_STS" policy new --domain check-nomx.example $NET)
grep -q "^mx: check-nomx.example$CRLF\$" "$W/out" && [ "$r" = 0 ] &&
    grep -Eq "$ID_RE" "$W/err" &&
    ok "new: implicit MX; policy on stdout, records on stderr" || {
	bad "new implicit MX"; cat "$W/out" "$W/err"; }
# shellcheck disable=SC2086
r=$(rc "$MTA_STS" policy new --domain dane-nullmx.example $NET)
[ "$r" = 2 ] && grep -q 'null MX' "$W/err" && ok "new: null MX refused (exit 2)" ||
	bad "new null MX (rc $r)"
r=$(rc "$MTA_STS" policy new --domain bücher.example --mode enforce \
    --mx 'mx.bücher.example' --mx '*.backup.example' --max-age 604800 \
    --rua https://r.example/tlsrpt)
if [ "$r" = 0 ] && grep -q "^mx: mx.xn--bcher-kva.example$CRLF\$" "$W/out" &&
    grep -q "^mx: \*.backup.example$CRLF\$" "$W/out" &&
    grep -q "^mode: enforce$CRLF\$" "$W/out" &&
    grep -q "^max_age: 604800$CRLF\$" "$W/out" &&
    grep -q 'rua=https://r.example/tlsrpt' "$W/err" &&
    grep -q '^_mta-sts.xn--bcher-kva.example. ' "$W/err"; then
	ok "new: --mx (U-labels to A-labels), --mode, --max-age, --rua, no DNS needed"
else
	bad "new with options (rc $r)"; cat "$W/out" "$W/err"
fi
r1=$(rc "$MTA_STS" policy new --domain x.example --mx 'a..b')
r2=$(rc "$MTA_STS" policy new --mx a.example)
r3=$(rc "$MTA_STS" policy new --domain x.example --mode strict --mx a.example)
r4=$(rc "$MTA_STS" policy new --domain x.example --mx a.example --max-age 31557601)
[ "$r1 $r2 $r3 $r4" = "3 3 3 3" ] && ok "new: bad input is a usage error" ||
	bad "new usage: $r1 $r2 $r3 $r4"

# ---- policy bump -----------------------------------------------------------
r=$(rc "$MTA_STS" policy bump --domain check-good.example "$P/new.txt")
[ "$r" = 0 ] && grep -Eq "$ID_RE" "$W/out" && grep -q '_mta-sts.check-good.example.' "$W/out" &&
    ok "bump: a fresh time-stamp id and the record" || bad "bump (rc $r)"
mkdir -p "$P/mta-sts.check-good.example/.well-known"
cp "$P/new.txt" "$P/mta-sts.check-good.example/.well-known/mta-sts.txt"
r=$(rc "$MTA_STS" policy bump "$P/mta-sts.check-good.example/.well-known/mta-sts.txt")
[ "$r" = 0 ] && grep -q '^_mta-sts.check-good.example. ' "$W/out" &&
    ok "bump: domain taken from a web-root path" || bad "bump path (rc $r)"
printf 'version: STSv1\nmode: enforce\n' >"$P/broken.txt"
r=$(rc "$MTA_STS" policy bump "$P/broken.txt")
[ "$r" = 2 ] && grep -q 'broken.txt:' "$W/err" && ! grep -q v=STSv1 "$W/out" &&
    ok "bump: an invalid policy gets no id (exit 2)" || bad "bump invalid (rc $r)"

# ---- policy enforce --------------------------------------------------------
E=$P/mta-sts.check-ready.example/.well-known/mta-sts.txt
mkdir -p "$(dirname "$E")"
cp "$WORLD_WWW/mta-sts.check-ready.example/.well-known/mta-sts.txt" "$E"
# shellcheck disable=SC2086
r=$(rc "$MTA_STS" policy enforce $NET "$E")
if [ "$r" = 0 ] &&
    [ "$(cat "$E")" = "$(printf 'version: STSv1\r\nmode: enforce\r\nmx: mx1.check-ready.example\r\nmax_age: 604800\r')" ] &&
    grep -Eq "$ID_RE" "$W/out" && grep -q 'refuse mail to none' "$W/out"; then
	ok "enforce: ready, switched, max_age raised to a week, CRLF kept"
else
	bad "enforce ready (rc $r)"; cat "$W/out" "$W/err"; od -c "$E" | head
fi
# shellcheck disable=SC2086
r=$(rc "$MTA_STS" policy enforce $NET "$E")
[ "$r" = 0 ] && grep -q 'already mode enforce' "$W/out" && ok "enforce: already enforce" ||
	bad "enforce twice (rc $r)"
T=$P/testing.txt
cp "$WORLD_WWW/mta-sts.check-testing.example/.well-known/mta-sts.txt" "$T"
cp "$T" "$T.orig"
# shellcheck disable=SC2086
r=$(rc "$MTA_STS" policy enforce $NET --domain check-testing.example "$T")
[ "$r" = 1 ] && cmp -s "$T" "$T.orig" &&
    grep -q 'blocked: mx2.check-testing.example: STARTTLS not available' "$W/out" &&
    ok "enforce: refused while mx2 has no STARTTLS (exit 1, file untouched)" || {
	bad "enforce refused (rc $r)"; cat "$W/out"; }
# shellcheck disable=SC2086
r=$(rc "$MTA_STS" policy enforce $NET --domain check-testing.example --force \
    --max-age 86400 --out "$P/forced.txt" "$T")
[ "$r" = 0 ] && cmp -s "$T" "$T.orig" && grep -q "^mode: enforce$CRLF\$" "$P/forced.txt" &&
    grep -q "^max_age: 86400$CRLF\$" "$P/forced.txt" &&
    grep -q "^mx: mx2.check-testing.example$CRLF\$" "$P/forced.txt" &&
    ok "enforce: --force, --max-age, --out" || { bad "enforce --force (rc $r)"; cat "$W/out" "$W/err"; }
# a local file that covers an MX the published policy does not
printf 'version: STSv1\nmode: testing\nmx: mx1.check-uncovered.example\nmx: mx2.check-uncovered.example\nmax_age: 86400\n' >"$P/cover.txt"
# shellcheck disable=SC2086
r=$(rc "$MTA_STS" policy enforce $NET --domain check-uncovered.example "$P/cover.txt")
[ "$r" = 0 ] && grep -q '^mode: enforce$' "$P/cover.txt" &&
    grep -q '^max_age: 604800$' "$P/cover.txt" &&
    ok "enforce: judges the local mx lines, not the published ones; LF kept" ||
	{ bad "enforce local (rc $r)"; cat "$W/out" "$W/err"; }
r1=$(rc "$MTA_STS" policy enforce "$T")
r2=$(rc "$MTA_STS" policy enforce --domain check-testing.example "$P/broken.txt")
[ "$r1 $r2" = "3 2" ] && ok "enforce: no domain is a usage error; invalid file exit 2" ||
	bad "enforce errors: $r1 $r2"

# ---- policy diff -----------------------------------------------------------
# shellcheck disable=SC2086
r=$(rc "$MTA_STS" policy diff $NET "$WORLD_WWW/mta-sts.check-good.example/.well-known/mta-sts.txt" check-good.example)
[ "$r" = 0 ] && grep -q 'same policy (id checkgood2026)' "$W/out" &&
    ok "diff: same (exit 0)" || { bad "diff same (rc $r)"; cat "$W/out"; }
# shellcheck disable=SC2086
r=$(rc "$MTA_STS" policy diff $NET "$P/new.txt" check-uncovered.example)
if [ "$r" = 1 ] && grep -q 'mode: published enforce, local testing' "$W/out" &&
    grep -q 'max_age: published 1209600, local 1209600' "$W/out"; then
	bad "diff listed an equal max_age"
elif [ "$r" = 1 ] && grep -q 'mode: published enforce, local testing' "$W/out" &&
    grep -q '+ mx: mx2.check-uncovered.example' "$W/out" &&
    grep -q '\- mx: old.check-uncovered.example' "$W/out" &&
    grep -q 'change the TXT id (published id checkuncovered2026)' "$W/out"; then
	ok "diff: mode and mx differences, id reminder (exit 1)"
else
	bad "diff (rc $r)"; cat "$W/out"
fi
# shellcheck disable=SC2086
r=$(rc "$MTA_STS" policy diff --json $NET "$P/new.txt" notxt.example)
[ "$r" = 1 ] && jq -e '.same == false and .published == null and (.differences[0] | contains("nothing valid is published"))' "$W/out" >/dev/null &&
    ok "diff: nothing published (--json)" || { bad "diff nothing published (rc $r)"; cat "$W/out"; }
printf 'version: STSv1\nmode: enforce\nmx: mx1.check-good.example\nmax_age: 1209600\n' >"$P/lf.txt"
# shellcheck disable=SC2086
r=$(rc "$MTA_STS" policy diff $NET "$P/lf.txt" check-good.example)
[ "$r" = 0 ] && grep -q 'same policy, different bytes' "$W/out" &&
    ok "diff: same policy in other bytes (LF vs CRLF) is the same" || { bad "diff bytes (rc $r)"; cat "$W/out"; }
r=$(rc "$MTA_STS" policy diff "$P/new.txt")
[ "$r" = 3 ] && ok "diff: usage" || bad "diff usage ($r)"

finish
