#!/bin/sh
# test-cli.sh - the mta-sts command line: exit codes, --json shape, human
# output (doc/mta-sts.1.scd is the contract).
#
#   test-cli.sh PATH/TO/mta-sts PATH/TO/tests/data
#
# Prints one plain line per check ("ok: ..." or "FAIL: ..."); exits 1 if
# any check failed.
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 MTA-STS DATA-DIR" >&2
	exit 2
fi
bin=$1
data=$2
failures=0
checks=0

command -v jq >/dev/null 2>&1 || { echo "FAIL: jq is not installed"; exit 1; }
[ -x "$bin" ] || { echo "FAIL: $bin is not executable"; exit 1; }
[ -d "$data/policy" ] || { echo "FAIL: $data/policy is not a directory"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

pass() { checks=$((checks + 1)); echo "ok: $1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL: $1"; }

# One data case by its name (the number in front may change).
case_in() {
	set -- "$data"/"$1"/[0-9][0-9][0-9]-"$2".in
	[ -f "$1" ] || { echo "FAIL: no data case $1" >&2; exit 1; }
	printf '%s\n' "$1"
}

# run CMD...: sets $out (stdout), $err (stderr) and $rc.
run() {
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# rc NAME WANT CMD...: the exit status of CMD is WANT.
rc() {
	name=$1 want=$2
	shift 2
	run "$@"
	if [ "$rc" -eq "$want" ]; then
		pass "$name: exit $want"
	else
		fail "$name: exit $rc, want $want (stdout: $out; stderr: $err)"
	fi
}

# rc_in NAME WANT FILE CMD...: the same with FILE on standard input.
rc_in() {
	name=$1 want=$2 in=$3
	shift 3
	rc "$name" "$want" "$@" <"$in"
}

# json NAME FILTER: the last command printed one JSON object for which
# the jq FILTER is true.
json() {
	if ! jq -e -s 'length == 1' "$tmp/out" >/dev/null 2>&1; then
		fail "$1: not exactly one JSON value: $out"
	elif jq -e "$2" "$tmp/out" >/dev/null 2>&1; then
		pass "$1"
	else
		fail "$1: jq '$2' is false for $out"
	fi
}

# has NAME TEXT: the last stdout contains the line TEXT (fixed string).
has() {
	if printf '%s\n' "$out" | grep -Fq -- "$2"; then
		pass "$1"
	else
		fail "$1: no '$2' in: $out"
	fi
}

hasnt() {
	if printf '%s\n' "$out" | grep -Fq -- "$2"; then
		fail "$1: unexpected '$2' in: $out"
	else
		pass "$1"
	fi
}

# jq: exact key sets and types of the documented JSON objects.
errors_ok='(.errors | type == "array") and all(.errors[];
    (keys == ["line", "message"]) and (.line | type == "number") and
    (.line == (.line | floor)) and (.message | type == "string"))'
policy_shape='(keys == ["errors", "max_age", "mode", "mx", "valid", "version",
    "warnings"]) and (.valid | type == "boolean") and
    (.version | type == "string" or . == null) and
    (.mode | type == "string" or . == null) and
    (.mx | type == "array") and all(.mx[]; type == "string") and
    (.max_age == null or ((.max_age | type == "number") and
        .max_age == (.max_age | floor))) and
    (.warnings | type == "array") and all(.warnings[]; type == "string") and '"$errors_ok"
policy_invalid='.valid == false and .version == null and .mode == null and
    .mx == [] and .max_age == null and (.errors | length) == 1 and
    .warnings == []'
txt_shape='(keys == ["errors", "id", "valid"]) and
    (.valid | type == "boolean") and (.id | type == "string" or . == null)
    and '"$errors_ok"
tlsrpt_shape='(keys == ["errors", "ignored_rua", "rua", "valid"]) and
    (.valid | type == "boolean") and (.rua | type == "array") and
    all(.rua[]; type == "string") and (.ignored_rua | type == "array") and
    all(.ignored_rua[]; type == "string") and '"$errors_ok"

good=$(case_in policy rfc-example-lf)
crlf=$(case_in policy rfc-example-crlf)
big_ok=$(case_in policy body-64k-exact)
big_bad=$(case_in policy body-64k-plus-one)
near=$(case_in policy body-near-cap)
for f in "$good" "$crlf" "$big_ok" "$big_bad" "$near"; do
	[ -n "$f" ] || { echo "FAIL: a data case is missing"; exit 1; }
done

printf 'version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 86399\n' >"$tmp/short-enforce"
for age in 604799 1209600 1209601; do
	printf 'version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: %s\n' \
	    "$age" >"$tmp/testing-$age"
done
printf 'version: STSv1\nmode: enforce\nmx: Mail.Example.COM\nmax_age: 86400\n' >"$tmp/day-enforce"
printf 'version: STSv1\nmode: enforce\nmax_age: bogus\nmx: a.example\n' >"$tmp/bad-line3"
printf 'version: STSv1\nmode: enforce\nmx: a.example\n' >"$tmp/no-max-age"
printf 'version: STSv1\nmode: none\nmax_age: 86400\n' >"$tmp/none"
# A long UTF-8 value: the message must stay valid UTF-8 for JSON.
{
	printf 'version: STSv1\nmode: '
	i=0
	while [ $i -lt 200 ]; do printf '\303\251'; i=$((i + 1)); done
	printf '\nmx: a.example\nmax_age: 86400\n'
} >"$tmp/utf8-mode"

# ---- exit codes and usage --------------------------------------------
rc "no arguments" 2 "$bin"
rc "unknown command" 2 "$bin" frobnicate
rc "--help" 0 "$bin" --help
rc "--version" 0 "$bin" --version
has "--version names the program" "mta-sts "
rc "lint without a kind" 2 "$bin" lint
rc "lint unknown kind" 2 "$bin" lint bogus x
rc "lint --json before the kind" 2 "$bin" lint --json policy "$good"
rc "lint policy without a file" 2 "$bin" lint policy
rc "lint policy --json without a file" 2 "$bin" lint policy --json
rc "lint policy with two files" 2 "$bin" lint policy "$good" "$good"
rc "lint policy missing file" 2 "$bin" lint policy "$tmp/does-not-exist"
rc "lint policy missing file --json" 2 "$bin" lint policy --json "$tmp/does-not-exist"
rc "lint policy directory" 2 "$bin" lint policy "$tmp"
rc "lint txt without records" 2 "$bin" lint txt
rc "lint tlsrpt without records" 2 "$bin" lint tlsrpt
rc "lint tlsrpt --json without records" 2 "$bin" lint tlsrpt --json
rc "match without arguments" 2 "$bin" match
rc "match with one argument" 2 "$bin" match '*.example.com'
rc "match with three arguments" 2 "$bin" match a b c

rc "lint policy valid (LF)" 0 "$bin" lint policy "$good"
rc "lint policy valid (CRLF)" 0 "$bin" lint policy "$crlf"
rc "lint policy invalid" 1 "$bin" lint policy "$tmp/bad-line3"
rc "lint policy 64 KiB exactly" 0 "$bin" lint policy "$big_ok"
rc "lint policy 64 KiB + 1" 1 "$bin" lint policy "$big_bad"
rc "lint txt valid" 0 "$bin" lint txt 'v=STSv1; id=20160831085700Z;'
rc "lint txt invalid" 1 "$bin" lint txt 'v=STSv1; id=2016-08-31'
rc "lint txt RRset of two" 0 "$bin" lint txt 'v=spf1 -all' 'v=STSv1; id=abc'
rc "lint txt no STS record" 1 "$bin" lint txt 'v=spf1 -all' 'v=STSv1 ;id=abc'
rc "lint tlsrpt valid" 0 "$bin" lint tlsrpt 'v=TLSRPTv1;rua=mailto:reports@example.com'
rc "lint tlsrpt invalid" 1 "$bin" lint tlsrpt 'v=TLSRPTv1;rua=ftp://x.example/'
rc "match wildcard" 0 "$bin" match '*.example.com' mail.example.com
rc "match case and trailing dot" 0 "$bin" match Mail.Example.COM mail.example.com.
rc "no match two labels" 1 "$bin" match '*.example.com' foo.bar.example.com
rc "no match apex" 1 "$bin" match '*.example.com' example.com
rc "match malformed pattern" 1 "$bin" match 'mail..example.com' mail.example.com
rc "match malformed host" 1 "$bin" match mail.example.com 'mail_1.example.com'

# ---- stdin -----------------------------------------------------------
rc_in "lint policy - (stdin)" 0 "$good" "$bin" lint policy -
has "stdin is named '-'" "-: valid MTA-STS policy"
rc_in "lint policy --json - (stdin, invalid)" 1 "$tmp/bad-line3" \
    "$bin" lint policy --json -
json "stdin --json shape" "$policy_shape"
json "stdin --json error on line 3" '.errors[0].line == 3'
rc_in "empty stdin" 1 /dev/null "$bin" lint policy -
rc_in "64 KiB + 1 on stdin" 1 "$big_bad" "$bin" lint policy -

# ---- --json: policy --------------------------------------------------
run "$bin" lint policy --json "$good"
json "policy --json shape (valid)" "$policy_shape"
json "policy --json values" '.valid == true and .version == "STSv1" and
    .mode == "enforce" and .max_age == 604800 and .errors == [] and
    .mx == ["mail.example.com", "*.example.net", "backupmx.example.com"]'
json "policy --json wildcard warning" '.warnings | length == 1 and (.[0] | test("wildcard"))'
run "$bin" lint policy --json "$tmp/day-enforce"
json "policy --json mx as published, no warnings" '.mx == ["Mail.Example.COM"] and .warnings == []'
run "$bin" lint policy --json "$tmp/none"
json "policy --json mode none, no mx" "$policy_shape"' and .valid and .mode == "none" and .mx == []'
run "$bin" lint policy --json "$tmp/bad-line3"
json "policy --json shape (invalid)" "$policy_shape"
json "policy --json invalid: nulls, empty mx" "$policy_invalid"
json "policy --json invalid: line 3" \
    '.errors[0].line == 3 and (.errors[0].message | test("max_age"))'
run "$bin" lint policy --json "$tmp/no-max-age"
json "policy --json missing field: line 0" "$policy_invalid"' and .errors[0].line == 0'
run "$bin" lint policy --json "$tmp/utf8-mode"
json "policy --json UTF-8 value: error kept" \
    "$policy_shape"' and '"$policy_invalid"' and .errors[0].line == 2'
run "$bin" lint policy --json "$big_bad"
json "policy --json too big: invalid" "$policy_shape"' and '"$policy_invalid"
run "$bin" lint policy --json "$big_ok"
json "policy --json near cap warning" '.valid and (.warnings | any(test("64 KiB")))'
run "$bin" lint policy --json "$tmp/short-enforce"
json "policy --json enforce short max_age warning" \
    '.valid and (.warnings | any(test("under one day")))'
run "$bin" lint policy --json "$tmp/testing-604799"
json "policy --json testing below a week warning" \
    '.valid and (.warnings | any(test("testing with max_age")))'

# ---- --json: txt and tlsrpt ------------------------------------------
run "$bin" lint txt --json 'v=STSv1; id=20160831085700Z;'
json "txt --json shape (valid)" "$txt_shape"
json "txt --json values" '.valid == true and .id == "20160831085700Z" and .errors == []'
run "$bin" lint txt --json 'v=STSv1; ID=abc'
json "txt --json shape (invalid)" "$txt_shape"
json "txt --json invalid: id null" '.valid == false and .id == null and
    (.errors | length) == 1 and .errors[0].line == 0'
run "$bin" lint txt --json 'v=spf1 -all' 'v=STSv1;id=a-b'
json "txt --json RRset: record number" "$txt_shape"' and .valid == false and .errors[0].line == 2'
run "$bin" lint tlsrpt --json 'v=TLSRPTv1; rua=ftp://x.example/r, mailto:a@example.com'
json "tlsrpt --json shape (valid)" "$tlsrpt_shape"
json "tlsrpt --json values" '.valid == true and .rua == ["mailto:a@example.com"] and
    .ignored_rua == ["ftp://x.example/r"] and .errors == []'
run "$bin" lint tlsrpt --json 'v=TLSRPTv1; rua=mailto:a!b@example.com'
json "tlsrpt --json shape (invalid)" "$tlsrpt_shape"
json "tlsrpt --json invalid: empty lists" '.valid == false and .rua == [] and
    .ignored_rua == [] and (.errors | length) == 1'

# ---- human output ----------------------------------------------------
run "$bin" lint policy "$tmp/bad-line3"
has "human error names FILE:LINE" "$tmp/bad-line3:3: error: max_age"
run "$bin" lint policy "$tmp/no-max-age"
has "human error without a line" "$tmp/no-max-age: error: max_age field is missing"
run "$bin" lint policy "$good"
has "human valid header" "$good: valid MTA-STS policy (RFC 8461 §3.2)"
has "human mode" "  mode:    enforce"
has "human max_age in days" "  max_age: 604800 (7 days)"
has "human mx" "  mx:      *.example.net"
has "human warning: wildcard mx" "$good: warning: wildcard mx pattern"
run "$bin" lint policy "$tmp/short-enforce"
has "human warning: enforce max_age < 86400" \
    "$tmp/short-enforce: warning: enforce with max_age under one day"
run "$bin" lint policy "$tmp/day-enforce"
hasnt "no warning: enforce max_age = 86400" "warning:"
run "$bin" lint policy "$tmp/testing-604799"
has "human warning: testing < 604800" \
    "$tmp/testing-604799: warning: testing with max_age outside one to two weeks"
run "$bin" lint policy "$tmp/testing-1209601"
has "human warning: testing > 1209600" \
    "$tmp/testing-1209601: warning: testing with max_age outside one to two weeks"
run "$bin" lint policy "$tmp/testing-1209600"
hasnt "no warning: testing = 1209600" "warning:"
run "$bin" lint policy "$near"
has "human warning: near the cap" "$near: warning: policy is near the 64 KiB size"
run "$bin" lint policy "$big_bad"
has "human too big" "$big_bad: error: policy has 65537 bytes; at most 65536"
run "$bin" lint txt 'v=STSv1; id=2016-08-31'
has "human txt error" "error: id '2016-08-31' has '-'"
run "$bin" lint txt 'v=STSv1; id=abc'
has "human txt id" "  id: abc"
run "$bin" lint txt 'v=spf1 -all' 'v=STSv1;id=a-b'
has "human txt record number" "record 2: error: id 'a-b'"
run "$bin" lint tlsrpt 'v=TLSRPTv1; rua=https://r.example/x,ftp://x.example/r'
has "human tlsrpt rua" "  rua: https://r.example/x"
has "human tlsrpt ignored scheme" \
    "warning: rua 'ftp://x.example/r' has a scheme other than mailto: or https:"
run "$bin" match '*.example.com' mail.example.com
has "human match" "match"
run "$bin" match '*.example.com' a.b.example.com
has "human no match" "no match (RFC 8461 §4.1)"

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
