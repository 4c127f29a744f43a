#!/bin/sh
# mta-sts fetch against the hermetic world: every case of the fetch issue
# gets its exact verdict, failing step, RFC 8460 result type and reason.
# usage: fetch-world.sh MTA-STS-BINARY SOURCE-DIR
set -eu
MTA_STS=$1
SRC=$2
for tool in jq unbound nginx openssl python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "missing $tool"
		[ "${CI:-}" = true ] && exit 1
		exit 77
	fi
done

W=$(mktemp -d /tmp/mtasts-fetch.XXXXXX)
trap '"$SRC/tests/world/world.sh" stop "$W/world" >/dev/null 2>&1; rm -rf "$W"' EXIT INT TERM
"$SRC/tests/world/world.sh" start "$W/world" >"$W/world.log" 2>&1 ||
	{ cat "$W/world.log"; exit 1; }
. "$W/world/env"

fails=0
fetch() {
	"$MTA_STS" fetch --json --dnssec off --resolver "$WORLD_DNS" \
	    --ca-file "$WORLD_CA" --connect-to "$WORLD_CONNECT_TO" \
	    --timeout 3 "$@" || true
}

# expect DOMAIN JQ-FILTER DESCRIPTION: the filter must print "true".
expect() {
	domain=$1 filter=$2 what=$3
	got=$(jq -r "select(.domain == \"$domain\") | $filter" "$W/out.json")
	if [ "$got" != true ]; then
		echo "FAIL $domain: $what"
		jq -c "select(.domain == \"$domain\") | {valid, step, result_type, reason, postfix}" "$W/out.json"
		fails=$((fails + 1))
	else
		echo "ok   $domain: $what"
	fi
}

fetch lf.example crlf.example wildcard.example testing.example \
    none.example split.example twosts.example mixed.example notxt.example \
    nodata.example 404.example redirect.example html.example \
    charset.example big.example chunked.example stall.example \
    wrongname.example expired.example unknownca.example refused.example \
    noaddr.example servfail.example v6only.example bücher.example \
    badpolicy.example cname.example reset.example >"$W/out.json"

# RFC 8461 §3.2, §3.3: valid policies, LF and CRLF
expect lf.example '.valid and .policy.mode == "enforce" and .policy.mx == ["mx1.lf.example"] and .postfix == "OK secure match=mx1.lf.example servername=hostname"' "LF policy, enforce"
expect crlf.example '.valid and .policy.max_age == 86400 and .fetch.http_status == 200' "CRLF policy"
expect wildcard.example '.valid and .policy.mx == ["*.wildcard.example"] and (.postfix | contains("match=.wildcard.example "))' "wildcard mx written .domain for Postfix"
expect testing.example '.valid and .policy.mode == "testing" and .postfix == "NOTFOUND "' "testing: NOTFOUND (RFC 8461 §5)"
expect none.example '.valid and .policy.mode == "none" and .postfix == "NOTFOUND "' "none: NOTFOUND (RFC 8461 §5)"
# RFC 8461 §3.1: TXT strings joined; the RRset rule
expect split.example '.valid and .id == "split2026"' "TXT split into strings, joined"
expect twosts.example '(.valid | not) and .step == "txt" and (.reason | contains("2 TXT records begin with"))' "two STS records: no policy"
expect mixed.example '.valid and .id == "mixed2026"' "non-STS TXT beside the STS one is ignored"
expect notxt.example '(.valid | not) and .step == "txt" and (.reason | contains("NXDOMAIN")) and .result_type == null' "no TXT (NXDOMAIN)"
expect nodata.example '(.valid | not) and .step == "txt" and (.reason | contains("NODATA"))' "no TXT (NODATA)"
# RFC 8461 §3.3: fetch rules, RFC 8460 §4.3 result types
expect 404.example '(.valid | not) and .step == "fetch" and .fetch.http_status == 404 and .result_type == "sts-policy-fetch-error" and (.reason | contains("HTTP status 404"))' "404"
expect redirect.example '(.valid | not) and .fetch.http_status == 301 and (.reason | contains("redirect 301 to https://mta-sts.lf.example/")) and (.reason | contains("not followed"))' "301 not followed"
expect html.example '(.valid | not) and (.reason | contains("media type text/html")) and .result_type == "sts-policy-fetch-error"' "text/html refused"
expect charset.example '.valid and .fetch.content_type == "text/plain; charset=utf-8"' "text/plain with charset accepted"
expect big.example '(.valid | not) and (.reason | contains("exceeds 65536 bytes"))' "1 MiB with Content-Length"
expect chunked.example '(.valid | not) and (.reason | contains("exceeds 65536 bytes"))' "1 MiB chunked"
expect stall.example '(.valid | not) and (.reason | contains("timed out after 3000 ms")) and .result_type == "sts-policy-fetch-error"' "stalled body times out"
expect wrongname.example '(.valid | not) and .result_type == "sts-webpki-invalid" and (.reason | contains("certificate is for mta-sts.other.example"))' "certificate for another name"
expect expired.example '(.valid | not) and .result_type == "sts-webpki-invalid" and (.reason | contains("certificate expired"))' "expired certificate"
expect unknownca.example '(.valid | not) and .result_type == "sts-webpki-invalid" and (.reason | contains("not signed by a trusted CA"))' "unknown CA"
expect refused.example '(.valid | not) and .step == "fetch" and (.reason | contains("refused"))' "connection refused"
expect noaddr.example '(.valid | not) and .step == "address" and (.reason | contains("mta-sts.noaddr.example has no usable address: NXDOMAIN"))' "policy host without address"
expect servfail.example '(.valid | not) and .step == "txt" and (.reason | contains("SERVFAIL"))' "TXT SERVFAIL is a temporary failure"
expect v6only.example '.valid and .fetch.address == "::1"' "IPv6-only policy host"
expect xn--bcher-kva.example '.valid and .policy.mx == ["mx1.xn--bcher-kva.example"]' "IDN domain given as U-label"
expect badpolicy.example '(.valid | not) and .step == "policy" and .result_type == "sts-policy-invalid" and (.reason | contains("max_age field is missing"))' "invalid policy"
expect cname.example '.valid and .id == "lf2026" and .policy.mx == ["mx1.cname.example"]' "_mta-sts CNAME followed; policy from mta-sts.cname.example (RFC 8461 §8.2)"
expect reset.example '(.valid | not) and .step == "fetch" and .result_type == "sts-policy-fetch-error"' "connection reset mid-TLS"

# A resolver that never answers: a DNS timeout, not a hang.
"$MTA_STS" fetch --json --dnssec off --resolver "$WORLD_DNS_BLACKHOLE" \
    --timeout 2 lf.example >"$W/out.json" || true
expect lf.example '(.valid | not) and .step == "txt" and (.reason | contains("timed out after 2000 ms"))' "DNS timeout"

# Exit codes: 0 all valid, 1 some without policy, 2 usage.
rc=0; fetch lf.example >/dev/null || rc=$?
"$MTA_STS" fetch --dnssec off --resolver "$WORLD_DNS" --ca-file "$WORLD_CA" \
    --connect-to "$WORLD_CONNECT_TO" lf.example >/dev/null && rc0=0 || rc0=$?
"$MTA_STS" fetch --dnssec off --resolver "$WORLD_DNS" --ca-file "$WORLD_CA" \
    --connect-to "$WORLD_CONNECT_TO" lf.example 404.example >/dev/null && rc1=0 || rc1=$?
"$MTA_STS" fetch --concurrency 0 lf.example >/dev/null 2>&1 && rc2=0 || rc2=$?
if [ "$rc0" != 0 ] || [ "$rc1" != 1 ] || [ "$rc2" != 2 ]; then
	echo "FAIL exit codes: want 0 1 2, got $rc0 $rc1 $rc2"
	fails=$((fails + 1))
else
	echo "ok   exit codes 0, 1, 2"
fi

# Human output names the reason and the reply.
"$MTA_STS" fetch --dnssec off --resolver "$WORLD_DNS" --ca-file "$WORLD_CA" \
    --connect-to "$WORLD_CONNECT_TO" 404.example >"$W/human.txt" || true
if grep -q "no policy: policy fetch failed: HTTP status 404" "$W/human.txt" &&
    grep -q "postfix:  NOTFOUND" "$W/human.txt"; then
	echo "ok   human output"
else
	echo "FAIL human output"; cat "$W/human.txt"; fails=$((fails + 1))
fi

[ "$fails" -eq 0 ]
