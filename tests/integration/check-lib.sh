# check-lib.sh - sourced by the check-*.sh tests: the hermetic world
# (tests/world) plus tests/integration/smtp-sink.py listening on the fixed
# loopback addresses the world's check-*.example MX hosts point to, all
# on one free port (given to mta-sts as --smtp-port).  Sets W (scratch
# dir), SMTP_PORT, NET (the network options every mta-sts run needs) and
# removes everything on exit.  SINK_DELAY (seconds, default 0.02) spaces
# the pieces of the sinks' SMTP replies.
#   need_tools TOOL...; start_world_and_sinks SRC-DIR
#   ok WHAT / bad WHAT; finish (exit status from the failures)

fails=0
checks=0
ok() { checks=$((checks + 1)); echo "ok   $*"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL $*"; }
finish() {
	# Sanitizer reports of any mta-sts run (ASan/UBSan builds) fail too.
	for f in "$W"/san.*; do
		[ -e "$f" ] || continue
		bad "sanitizer report $f"
		cat "$f"
	done
	echo "$checks checks, $fails failed"
	[ "$fails" -eq 0 ]
}

need_tools() {
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "missing $tool"
			[ "${CI:-}" = true ] && exit 1
			exit 77
		fi
	done
}

check_cleanup() {
	if [ -n "${SINK_PID:-}" ]; then
		kill "$SINK_PID" 2>/dev/null || true
		wait "$SINK_PID" 2>/dev/null || true
	fi
	"$CHECK_SRC/tests/world/world.sh" stop "$W/world" >/dev/null 2>&1 || true
	rm -rf "$W"
}

start_world_and_sinks() {
	CHECK_SRC=$1
	PATH=$PATH:/usr/sbin:/sbin
	need_tools jq unbound nginx openssl python3 drill ldns-signzone
	W=$(mktemp -d /tmp/mtasts-check.XXXXXX)
	trap check_cleanup EXIT
	trap 'exit 1' INT TERM
	"$CHECK_SRC/tests/world/world.sh" start "$W/world" >"$W/world.log" 2>&1 ||
		{ cat "$W/world.log"; exit 1; }
	. "$W/world/env"
	C=$WORLD_CERTS
	# One behaviour per address (see the checker block of world.sh);
	# 127.0.0.1 serves the world's mx1.<d> certificates by SNI.
	python3 "$CHECK_SRC/tests/integration/smtp-sink.py" --port 0 \
	    --portfile "$W/sink.port" --pidfile "$W/sink.pid" \
	    --delay "${SINK_DELAY:-0.02}" \
	    "127.0.0.1=starttls=$C/check-mx=$C" \
	    "127.0.0.21=starttls=$C/check-mx" "::1=starttls=$C/check-mx" \
	    "127.0.0.22=starttls=$C/mx1.check-expired.example" \
	    "127.0.0.23=starttls=$C/mx1.check-wrongname.example" \
	    "127.0.0.24=starttls=$C/mx1.check-selfsigned.example" \
	    127.0.0.25=plain "127.0.0.26=oldtls=$C/check-mx" 127.0.0.27=stall \
	    "127.0.0.28=starttls=$C/mx1.check-expiring.example" \
	    127.0.0.31=reject "127.0.0.32=tls454=$C/check-mx" \
	    127.0.0.33=garbage >"$W/sink.log" 2>&1 &
	SINK_PID=$!
	for _ in $(seq 100); do
		[ -s "$W/sink.pid" ] && break
		kill -0 "$SINK_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$W/sink.pid" ] || { echo "smtp-sink.py did not start"; cat "$W/sink.log"; exit 1; }
	SMTP_PORT=$(cat "$W/sink.port")
	NET="--resolver $WORLD_DNS --dnssec validate --trust-anchor $WORLD_TA"
	NET="$NET --ca-file $WORLD_CA --connect-to $WORLD_CONNECT_TO"
	NET="$NET --smtp-port $SMTP_PORT --smtp-timeout 3 --timeout 5"
	export SINK_PORT=$SMTP_PORT
	# In sanitizer builds every report lands in a file finish() checks:
	# a run whose exit status a test ignores cannot hide one.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$W/san"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$W/san"
}
