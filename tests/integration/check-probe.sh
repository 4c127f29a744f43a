#!/bin/sh
# smtp_probe.c against smtp-sink.py in every mode and the world's nginx:
# starts them, then runs the cmocka test test-smtp-probe.
# usage: check-probe.sh TEST-SMTP-PROBE-BINARY SOURCE-DIR
set -eu
PROBE_TEST=$1
SRC=$2
. "$SRC/tests/integration/check-lib.sh"
start_world_and_sinks "$SRC"
export WORLD_CA WORLD_UNKNOWN_CA WORLD_HTTPS_PORT SINK_PORT
"$PROBE_TEST" || bad "test-smtp-probe"
finish
