#!/bin/sh
# One data-driven case: run the driver on NAME.in, compare with NAME.expect.
# Lines of NAME.expect starting with '#' are comments (the RFC rule the
# case pins) and are not compared.
# usage: run-case.sh DRIVER KIND CASE.in
set -eu
driver=$1 kind=$2 in=$3
expect=${in%.in}.expect
out=$("$driver" "$kind" < "$in") || { echo "driver failed on $in"; exit 1; }
if [ ! -f "$expect" ]; then
	echo "missing $expect; the driver printed:"
	printf '%s\n' "$out"
	exit 1
fi
if ! grep -v '^#' "$expect" | diff -u - "$(printf '%s\n' "$out" >"${TMPDIR:-/tmp}/case.$$"; echo "${TMPDIR:-/tmp}/case.$$")"; then
	rm -f "${TMPDIR:-/tmp}/case.$$"
	echo "FAIL: $in"
	exit 1
fi
rm -f "${TMPDIR:-/tmp}/case.$$"
