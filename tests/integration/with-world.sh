#!/bin/sh
# A C test against the hermetic world: starts tests/world, then runs the
# test binary with the world's resolver, CA and port map in its
# environment (WORLD_DNS, WORLD_CA, WORLD_CONNECT_TO).
# usage: with-world.sh TEST-BINARY SOURCE-DIR
set -eu
TEST=$1
SRC=$2
for tool in unbound nginx openssl python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "missing $tool"
		[ "${CI:-}" = true ] && exit 1
		exit 77
	fi
done

W=$(mktemp -d /tmp/mtasts-with-world.XXXXXX)
trap '"$SRC/tests/world/world.sh" stop "$W/world" >/dev/null 2>&1; rm -rf "$W"' EXIT INT TERM
"$SRC/tests/world/world.sh" start "$W/world" >"$W/world.log" 2>&1 ||
	{ cat "$W/world.log"; exit 1; }
. "$W/world/env"
export WORLD_DNS WORLD_CA WORLD_CONNECT_TO
"$TEST"
