#!/bin/sh
# The key list of mta-sts.conf(5) is generated from the option table;
# the committed page must match it, so docs never drift from the code.
# usage: doc-check.sh MTA-STSD SOURCE-DIR
set -eu
d=$2/doc
{ cat "$d/mta-sts.conf.5.head.scd"; "$1" --config-doc; cat "$d/mta-sts.conf.5.tail.scd"; } |
	diff -u "$d/mta-sts.conf.5.scd" - || {
	echo "doc/mta-sts.conf.5.scd is stale: regenerate it (see tests/doc-check.sh)"
	exit 1
}
