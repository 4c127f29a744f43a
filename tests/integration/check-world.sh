#!/bin/sh
# mta-sts check against the hermetic world and local SMTP servers: every
# check item has a domain where it passes and one where it warns or
# fails; verdicts, exit codes, JSON shape, human output, bulk mode.
# usage: check-world.sh MTA-STS-BINARY SOURCE-DIR
set -eu
MTA_STS=$1
SRC=$2
. "$SRC/tests/integration/check-lib.sh"
start_world_and_sinks "$SRC"

DOMAINS="check-good.example check-expired.example check-wrongname.example
check-selfsigned.example check-nostarttls.example check-oldtls.example
check-stall.example check-expiring.example check-uncovered.example
check-testing.example check-ready.example check-v6bad.example
check-nohost.example check-zeroage.example check-extras.example
check-badrua.example check-badtxt.example check-nomx.example
check-nullmx.example check-noaddr.example notxt.example nodata.example
servfail.example twosts.example mixed.example noaddr.example
refused.example v6only.example lf.example unknownca.example
wrongname.example expired.example redirect.example 404.example
html.example charset.example big.example chunked.example
badpolicy.example testing.example none.example dane-ok.example
dane-mismatch.example dane-unsigned.example dane-bogus.example
dane-tlsafail.example dane-implicit.example dane-nullmx.example"

# shellcheck disable=SC2086
"$MTA_STS" check --json --concurrency 16 $NET $DOMAINS >"$W/out.json" || true
n=$(wc -l <"$W/out.json")
[ "$n" -eq "$(echo $DOMAINS | wc -w)" ] && ok "one JSON line per domain ($n)" ||
	bad "$n JSON lines"

# item DOMAIN ID STATUS [SUBJECT-PART] [MESSAGE-PART]: the first item ID
# of DOMAIN (whose subject contains SUBJECT-PART) has STATUS.
item() {
	got=$(jq -r --arg d "$1" --arg id "$2" --arg s "${4:-}" --arg m "${5:-}" '
	    select(.domain == $d) | [.checks[] | select(.id == $id and
	      ((.subject // "") | contains($s)) and (.message | contains($m)))]
	    | (.[0].status // "absent")' "$W/out.json")
	if [ "$got" = "$3" ]; then
		ok "$1 $2 $3${4:+ [$4]}${5:+ ($5)}"
	else
		bad "$1 $2: want $3${4:+ [$4]}${5:+ ($5)}, got $got"
		jq -c --arg d "$1" --arg id "$2" 'select(.domain == $d) |
		    .checks[] | select(.id == $id)' "$W/out.json"
	fi
}

G=check-good.example
# -- RFC 8461 §3.1: the _mta-sts TXT record
item $G txt.record pass
item notxt.example txt.record fail "" NXDOMAIN
item nodata.example txt.record fail "" "no record of that type"
item servfail.example txt.record fail "" SERVFAIL
item $G txt.count pass
item twosts.example txt.count fail
item $G txt.other pass
item mixed.example txt.other warn "" "v=spf1"
item check-extras.example txt.other warn
item $G txt.syntax pass
item check-badtxt.example txt.syntax fail "" "expected ';'"
item $G txt.id pass "" checkgood2026
item check-badrua.example txt.id fail "" "'-'"
item check-extras.example txt.id warn "" "first, 'checkextras2026'"
item $G txt.extensions pass
item check-extras.example txt.extensions warn "" "'ext'"
# -- DNSSEC of the TXT lookup (RFC 8461 §10.2)
item $G txt.dnssec pass "" "signed and validated"
item dane-unsigned.example txt.dnssec pass "" "not DNSSEC-signed"
item dane-bogus.example txt.dnssec fail "" bogus
# -- RFC 8461 §3.3: the policy host
item $G host.address pass "" "AAAA ::1"
item noaddr.example host.address fail "" NXDOMAIN
item $G host.ipv4 pass
item refused.example host.ipv4 fail "" refused
item check-nohost.example host.ipv4 fail
item v6only.example host.ipv4 warn "" "no A record"
item $G host.ipv6 pass "" "over IPv6"
item lf.example host.ipv6 pass "" "no AAAA"
item check-v6bad.example host.ipv6 fail
item check-v6bad.example host.ipv4 pass
item $G host.tls pass "" TLSv1.3
item check-nohost.example host.tls fail "" "unrecognized name"
item $G host.cert_trust pass
item unknownca.example host.cert_trust fail
item $G host.cert_name pass
item wrongname.example host.cert_name fail "" mta-sts.other.example
item $G host.cert_expiry pass
item expired.example host.cert_expiry fail "" 2020-02-01
item $G host.redirect pass
item redirect.example host.redirect fail "" 301
item $G host.status pass
item 404.example host.status fail "" 404
item $G host.content_type pass
item charset.example host.content_type pass "" charset=utf-8
item html.example host.content_type fail "" text/html
item $G host.size pass
item big.example host.size fail
item chunked.example host.size fail
item $G host.same_policy pass
# -- RFC 8461 §3.2, §4.1, §5: the policy
item $G policy.syntax pass
item badpolicy.example policy.syntax fail "" max_age
item $G policy.mode pass
item testing.example policy.mode warn
item none.example policy.mode warn
item $G policy.max_age pass
item check-zeroage.example policy.max_age fail
item $G policy.lint pass
item check-zeroage.example policy.lint warn "" "more than once"
item $G policy.mx_covered pass mx1.check-good.example
item check-uncovered.example policy.mx_covered pass mx1.
item check-uncovered.example policy.mx_covered fail mx2.
item $G policy.mx_stale pass
item check-uncovered.example policy.mx_stale warn old.check-uncovered.example
# -- MX hosts (RFC 5321 §5.1, RFC 7505, RFC 8461 §4.2, §7.2)
item $G mx.records pass
item check-nomx.example mx.records warn "" "implicit MX"
item check-nullmx.example mx.records warn "" "null MX"
item dane-bogus.example mx.records fail
item $G mx.address pass "" "A 127.0.0.21"
item check-noaddr.example mx.address fail mx1.check-noaddr.example
item $G mx.starttls pass 127.0.0.21
item $G mx.starttls pass "[::1]"
item check-nostarttls.example mx.starttls fail "" "STARTTLS not offered"
item check-stall.example mx.starttls warn "" "timed out"
item check-nomx.example mx.starttls pass "check-nomx.example [127.0.0.21]"
item $G mx.tls_version pass
item check-oldtls.example mx.tls_version fail "" TLSv1.1
item $G mx.cert_trust pass
item check-selfsigned.example mx.cert_trust fail "" self-signed
item $G mx.cert_name pass
item check-wrongname.example mx.cert_name fail "" mx.other.example
item $G mx.cert_expiry pass
item check-expired.example mx.cert_expiry fail "" 2020-02-01
item check-expiring.example mx.cert_expiry warn "" "in 5 days"
# -- RFC 8460 §3: TLS-RPT
item $G tlsrpt.record pass
item lf.example tlsrpt.record warn "" "MTA-STS is deployed"
item check-extras.example tlsrpt.record fail "" "2 records"
item $G tlsrpt.rua pass "" mailto:tlsrpt@check-good.example
item check-badrua.example tlsrpt.rua fail
# -- RFC 7672: DNSSEC and DANE
item $G dane.dnssec pass "" "signed and validated"
item dane-bogus.example dane.dnssec fail
item dane-unsigned.example dane.dnssec pass "" "not DNSSEC-signed"
item $G dane.tlsa pass "" "no TLSA"
item dane-ok.example dane.tlsa pass "" "match"
item dane-mismatch.example dane.tlsa fail "" "DANE senders refuse"
item dane-tlsafail.example dane.tlsa fail "" SERVFAIL
item dane-unsigned.example dane.tlsa warn "" "not DNSSEC-signed"
item dane-implicit.example dane.tlsa pass dane-implicit.example "match"
# -- enforce readiness (RFC 8461 §5)
item $G readiness.enforce pass
item check-ready.example readiness.enforce pass "" "switching to enforce"
item check-uncovered.example readiness.enforce fail "" mx2.check-uncovered
item check-expired.example readiness.enforce fail
item check-testing.example readiness.enforce warn "" mx2.check-testing
item check-stall.example readiness.enforce warn "" "cannot confirm"

# verdict / readiness fields
want() { # DOMAIN JQ-FILTER WHAT
	if [ "$(jq -r --arg d "$1" "select(.domain == \$d) | $2" "$W/out.json")" = true ]; then
		ok "$1: $3"
	else
		bad "$1: $3"
		jq -c --arg d "$1" 'select(.domain == $d) | {verdict, readiness}' "$W/out.json"
	fi
}
want $G '.verdict == "ok" and .readiness.enforce_ready and .id == "checkgood2026" and .mode == "enforce"' "verdict ok, enforce ready"
want check-expiring.example '.verdict == "warn" and .readiness.enforce_ready' "verdict warn"
want check-expired.example '.verdict == "fail" and (.readiness.enforce_ready | not) and .readiness.blocking[0].host == "mx1.check-expired.example"' "verdict fail, blocked"
want check-ready.example '.verdict == "warn" and .readiness.enforce_ready and .mode == "testing"' "testing, ready to enforce"
want dane-nullmx.example '.verdict == "ok"' "null MX without MTA-STS needs nothing"
want $G '[.checks[] | (.id | type) == "string" and (.status | IN("pass","warn","fail")) and (.message | type) == "string" and (.rfc | startswith("RFC "))] | all' "every item has id, status, message, rfc"
want check-expired.example '[.checks[] | select(.status != "pass") | .fix | type == "string"] | all' "every warn/fail has a fix"

# exit codes: 0 ok, 1 warnings only, 2 failures, 3 usage
rc() { "$@" >/dev/null 2>&1 && echo 0 || echo $?; }
# shellcheck disable=SC2086
r0=$(rc "$MTA_STS" check $NET $G)
# shellcheck disable=SC2086
r1=$(rc "$MTA_STS" check $NET check-expiring.example)
# shellcheck disable=SC2086
r2=$(rc "$MTA_STS" check $NET $G check-expired.example)
r3=$(rc "$MTA_STS" check)
r4=$(rc "$MTA_STS" check --concurrency 0 $G)
r5=$(rc "$MTA_STS" check --bogus $G)
[ "$r0 $r1 $r2 $r3 $r4 $r5" = "0 1 2 3 3 3" ] && ok "exit codes 0 1 2 3" ||
	bad "exit codes: want 0 1 2 3 3 3, got $r0 $r1 $r2 $r3 $r4 $r5"

# human output: grouped, one line per item, colour only when asked/tty
# shellcheck disable=SC2086
"$MTA_STS" check $NET check-expired.example >"$W/human.txt" || true
if grep -q '^check-expired.example: fail (' "$W/human.txt" &&
    grep -q '^  MX hosts$' "$W/human.txt" &&
    grep -q '^    fail mx.cert_expiry .*certificate expired on 2020-02-01 (RFC 8461 §4.2); fix: renew' "$W/human.txt" &&
    ! grep -q "$(printf '\033')" "$W/human.txt"; then
	ok "human output grouped, no colour on a pipe"
else
	bad "human output"; cat "$W/human.txt"
fi
# shellcheck disable=SC2086
"$MTA_STS" check --color always $NET $G >"$W/color.txt" || true
grep -q "$(printf '\033')\[32mpass" "$W/color.txt" && ok "--color always" ||
	bad "--color always"

# DNSSEC off: nothing judged, no failure
# shellcheck disable=SC2086
"$MTA_STS" check --json $NET --dnssec off dane-bogus.example >"$W/off.json" || true
jq -e '[.checks[] | select(.id == "txt.dnssec")][0].message | contains("not validated")' \
    "$W/off.json" >/dev/null && ok "--dnssec off: DNSSEC not judged" ||
	bad "--dnssec off"

# --no-smtp: no probe, readiness cannot be confirmed
# shellcheck disable=SC2086
"$MTA_STS" check --json $NET --no-smtp $G >"$W/nosmtp.json" || true
jq -e '([.checks[] | select(.id == "mx.starttls")] | length) == 0 and
    (.readiness.enforce_ready | not) and (.readiness.message | contains("not probed"))' \
    "$W/nosmtp.json" >/dev/null && ok "--no-smtp" || bad "--no-smtp"

# bulk: --from-file, JSON lines, comments and bad names, a progress bar
# on a terminal only
printf '# audit\n%s\n\nbad..name\n%s\n' $G check-expired.example >"$W/list.txt"
# shellcheck disable=SC2086
"$MTA_STS" check --from-file "$W/list.txt" --concurrency 2 $NET \
    >"$W/bulk.json" 2>"$W/bulk.err" && r=0 || r=$?
if [ "$r" = 2 ] && [ "$(wc -l <"$W/bulk.json")" = 3 ] &&
    jq -se 'map(select(.domain == "bad..name"))[0] | .verdict == "fail" and .checks[0].id == "domain.name"' "$W/bulk.json" >/dev/null &&
    [ ! -s "$W/bulk.err" ]; then
	ok "bulk: JSON lines, bad name reported, no progress on a pipe"
else
	bad "bulk (rc $r)"; cat "$W/bulk.json" "$W/bulk.err"
fi
if command -v script >/dev/null 2>&1; then
	script -qfec "$MTA_STS check --from-file $W/list.txt $NET >$W/bulk2.json" \
	    "$W/typescript" >/dev/null 2>&1 || true
	grep -q '3/3  ok 1  warn 0  fail 2' "$W/typescript" &&
	    [ "$(wc -l <"$W/bulk2.json")" = 3 ] &&
	    ok "bulk: progress bar on a terminal" || {
		bad "bulk: progress bar"; cat -v "$W/typescript"; }
fi
echo "$G" | "$MTA_STS" check --from-file - $NET >"$W/stdin.json" 2>/dev/null || true
jq -e '.domain == "check-good.example"' "$W/stdin.json" >/dev/null &&
    ok "bulk: --from-file -" || bad "bulk: --from-file -"

finish
